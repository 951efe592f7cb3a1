"""An X server that goes away mid-run (issue 25, case 8): logout, a display manager
restarting, a crash. It must cost the window, not the run: one warning line, then the run
goes on headless to its normal end, with every output and the summary.

Real processes only: Xvfb, the `emotion-edge` program, its window process; the server is
ended by its pid the way a crash (SIGKILL) or a display manager (SIGTERM) ends it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest

from edge.config import DEMO_SAMPLE
from tests.conftest import start_program, stop_program, wait_until
from tests.edge.display.xserver import window_ids, xvfb

DEMO_FRAMES = 105  # the bundled clip: 7 s at 15 fps
LOST = "window: the display went away ("


def window_processes() -> set[int]:
    """Pids of running window processes (python -m edge.display.tkwindow)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"edge.display.tkwindow" in command and state != "Z":
            found.add(int(entry.name))
    return found


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["crash", "shutdown"])
def test_the_run_outlives_its_x_server(tmp_path, sig):
    out, summary = tmp_path / "results.jsonl", tmp_path / "summary.json"
    before = window_processes()
    with xvfb() as server:
        proc = start_program(
            "run",
            "--source",
            str(DEMO_SAMPLE),
            "--realtime",
            "true",  # 7 s at the clip's own rate: time to lose the display mid-run
            "--display",
            "window",
            "--output",
            str(out),
            "--summary-json",
            str(summary),
            "--stats-interval",
            "0",
            env={**os.environ, "DISPLAY": server.display, "PYTHONUNBUFFERED": "1"},
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
        reader.start()
        try:
            # the window is on the screen and frames are flowing
            assert wait_until(lambda: window_ids(server.display), 20, 0.2), "".join(lines)
            assert wait_until(lambda: len(out.read_text().splitlines()) >= 15, 20), "".join(lines)
            server.kill(sig)
            proc.wait(30)  # to the end of the clip, on its own
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            reader.join(5)
    stderr = "".join(lines)
    assert proc.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr
    lost = [line for line in lines if LOST in line]
    assert len(lost) == 1, stderr
    assert " WARNING " in lost[0] and lost[0].rstrip().endswith("; going on without a display")
    assert "exit code 1" in lost[0]  # Xlib ended the window's process
    xlib = [
        line for line in lines if ("X connection" in line or "XIO" in line) and LOST not in line
    ]
    assert not xlib  # Xlib's own words come only inside that one line
    assert [line for line in lines if "WARNING" in line or "ERROR" in line] == lost
    # the run went on to the clip's end: every frame processed and written, the summary too
    results = [json.loads(line) for line in out.read_text().splitlines()]
    report = json.loads(summary.read_text())
    frames = [r["frame"] for r in results]
    assert report["frames_captured"] == DEMO_FRAMES
    assert report["frames_processed"] == len(results) == DEMO_FRAMES - report["frames_dropped"]
    assert frames == sorted(set(frames)) and frames[-1] >= DEMO_FRAMES - 5, frames
    assert f"summary: {len(results)} frames processed of {DEMO_FRAMES} captured" in stderr
    assert window_processes() <= before  # the window's process went with its display


def test_a_stop_with_the_window_open_leaves_no_window_process(tmp_path):
    out = tmp_path / "results.jsonl"
    before = window_processes()
    with xvfb() as server:
        env = {**os.environ, "DISPLAY": server.display, "PYTHONUNBUFFERED": "1"}
        args = ["--source", str(DEMO_SAMPLE), "--loop", "true", "--display", "window"]
        proc = start_program("run", *args, "--output", str(out), env=env)
        try:
            assert wait_until(lambda: window_ids(server.display), 20, 0.2)
            assert window_processes() - before  # the window has its own process
            stderr = stop_program(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
    assert proc.returncode == 0, stderr[-3000:]
    assert "summary:" in stderr and "Traceback" not in stderr
    assert LOST not in stderr  # the stop closed the window; it did not go away
    assert window_processes() <= before  # closed and reaped with the run
