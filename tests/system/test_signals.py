"""Signals a running service gets (issue 25, case 14): SIGHUP reopens the output file as
logrotate expects, SIGUSR1 logs the stats now, and SIGQUIT, SIGUSR2 and SIGALRM stop the
run the clean way (summary, outputs closed, exit 0) instead of killing it."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from edge.config import DEMO_SAMPLE
from tests.conftest import start_program, wait_until


def start_looping_demo(out: Path):
    proc = start_program(
        "run",
        "--source",
        str(DEMO_SAMPLE),
        "--loop",
        "true",
        "--display",
        "none",
        "--output",
        str(out),
        "--stats-interval",
        "0",
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    return proc, lines, reader


def results_in(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def end(proc, reader, sig: int) -> None:
    proc.send_signal(sig)
    try:
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    reader.join(5)


def test_sighup_reopens_the_output_and_sigusr1_logs_the_stats(tmp_path):
    out = tmp_path / "results.jsonl"
    proc, lines, reader = start_looping_demo(out)
    try:
        assert wait_until(lambda: results_in(out) >= 3, 60), "".join(lines)
        rotated = tmp_path / "results.jsonl.1"
        out.rename(rotated)  # what logrotate does before its postrotate `kill -HUP`
        proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: results_in(out) >= 2, 30), "".join(lines)
        assert any("reopened" in line for line in lines)
        proc.send_signal(signal.SIGUSR1)
        assert wait_until(lambda: any("processed" in line and "fps" in line for line in lines), 10)
    finally:
        end(proc, reader, signal.SIGQUIT)
    stderr = "".join(lines)
    assert proc.returncode == 0, stderr[-2000:]
    assert "SIGQUIT received, stopping" in stderr and "summary:" in stderr
    assert "Traceback" not in stderr
    # nothing lost or doubled across the rotation: frame numbers run on
    frames = [line for path in (rotated, out) for line in path.read_text().splitlines()]
    assert all(line.startswith("{") and line.endswith("}") for line in frames)


@pytest.mark.parametrize("sig", [signal.SIGUSR2, signal.SIGALRM])
def test_other_ending_signals_stop_the_run_cleanly(tmp_path, sig):
    out = tmp_path / "results.jsonl"
    proc, lines, reader = start_looping_demo(out)
    try:
        assert wait_until(lambda: results_in(out) >= 1, 60), "".join(lines)
    finally:
        end(proc, reader, sig)
    stderr = "".join(lines)
    assert proc.returncode == 0, stderr[-2000:]
    assert f"{signal.Signals(sig).name} received, stopping" in stderr and "summary:" in stderr
