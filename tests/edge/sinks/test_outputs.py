"""Outputs that fail: a full disk, a closed or vanished stdout, paths that cannot be written.

Each costs one clear line; what is lost is counted; the other outputs and the run go on.
/dev/full is the kernel's own always-full device: every write fails with ENOSPC.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
from pathlib import Path

import pytest

from edge.sinks.jsonl import JsonLinesSink
from edge.types import Result, Timings
from tests.conftest import EMOTION_EDGE, ROOT, finish_program, run_cli, wait_until
from tests.mqtt_broker import Broker, Subscriber

DEMO_FRAMES = 105
UNPACED = ("run", "--demo", "--realtime", "false")


def logged_lines(stderr: str) -> list[str]:
    """Log and error lines: the summary's indented lines and its first line left out."""
    return [x for x in stderr.splitlines() if x and not x.startswith(("  ", "summary:"))]


@pytest.mark.parametrize(
    ("args", "stdout_path", "named"),
    [
        ((*UNPACED, "--output", "/dev/full"), os.devnull, "/dev/full"),
        (UNPACED, "/dev/full", "stdout"),
    ],
    ids=["output-file-on-full-disk", "stdout-on-full-disk"],
)
def test_a_full_disk_costs_the_results_not_the_run(args, stdout_path, named):
    with open(stdout_path, "wb") as out:
        proc = subprocess.run(
            [*EMOTION_EDGE, *args],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
    assert proc.returncode == 1  # results were lost: a script must be able to tell
    warnings = [x for x in logged_lines(proc.stderr) if "WARNING" in x or "ERROR" in x]
    assert len(warnings) == 1, proc.stderr
    assert f"{named}: cannot write results (No space left on device)" in warnings[0]
    assert f"summary: {DEMO_FRAMES} frames processed" in proc.stderr  # the run went on
    assert f"results not written: {DEMO_FRAMES}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_mqtt_keeps_publishing_while_the_file_output_fails(tmp_path: Path):
    broker = Broker(tmp_path).start()
    sub = Subscriber(broker.port, ["emotion-edge/fullcam/emotion"])
    try:
        proc = run_cli(
            *UNPACED,
            "--output",
            "/dev/full",
            "--mqtt-host",
            "127.0.0.1",
            "--mqtt-port",
            str(broker.port),
            "--config",
            str(_mqtt_config(tmp_path)),
        )
        assert proc.returncode == 1, proc.stderr
        topic = "emotion-edge/fullcam/emotion"
        frames = [json.loads(p)["frame"] for p in sub.payloads(topic)]
        assert wait_until(lambda: len(sub.payloads(topic)) == DEMO_FRAMES, 10), len(frames)
        assert "Traceback" not in proc.stderr
    finally:
        sub.close()
        broker.stop()


def _mqtt_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("mqtt:\n  device_id: fullcam\n  publish: every\n  discovery: false\n")
    return path


def test_writing_resumes_after_the_disk_has_room_again(tmp_path: Path, caplog):
    out = tmp_path / "results.jsonl"
    sink = JsonLinesSink(str(out))
    full = os.open("/dev/full", os.O_WRONLY)
    saved = os.dup(sink._fd)
    caplog.set_level(logging.INFO, logger="edge.sinks.jsonl")
    try:
        os.dup2(full, sink._fd)  # the same descriptor now hits a full device
        for index in range(3):
            sink.emit(_result(index))
        os.dup2(saved, sink._fd)  # room again
        sink.emit(_result(3))
    finally:
        os.close(full)
        os.close(saved)
        sink.close()
    assert sink.not_written == 3
    assert [json.loads(x)["frame"] for x in out.read_text().splitlines()] == [3]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages  # one when it starts failing, one when it recovers
    assert "writing again; 3 results were not written" in messages[1]


def _result(index: int) -> Result:
    return Result(index, 0.0, 0.0, "no_face", (), (), Timings(), 1.0)


def test_a_reader_that_goes_away_ends_the_run_cleanly():
    # `emotion-edge run --loop true | head -2`: head exits, the run must not go on for ever
    proc = subprocess.Popen(
        [*EMOTION_EDGE, "run", "--demo", "--loop", "true"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    for _ in range(2):
        assert proc.stdout.readline().startswith("{")
    proc.stdout.close()
    stderr = finish_program(proc, 30)
    assert proc.returncode == 0, stderr
    assert "the reader of stdout went away; stopping" in stderr
    assert "summary:" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "--demo", "--summary-json", "/tmp"), "--summary-json: /tmp is a folder"),
        (
            ("run", "--demo", "--output", "/proc/nope/r.jsonl"),
            "/proc/nope/r.jsonl cannot be written",
        ),
        (("snapshot", "/proc/nope/x.png"), "snapshot: /proc/nope/x.png cannot be written"),
    ],
    ids=["summary-json-on-a-folder", "output-in-an-unwritable-place", "snapshot-unwritable"],
)
def test_output_paths_are_checked_before_the_run(args, message):
    proc = run_cli(*args, timeout=60)
    assert proc.returncode == 2
    lines = logged_lines(proc.stderr)
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "running:" not in proc.stderr  # refused before any frame was read


def test_closed_stdout_is_one_line():
    proc = subprocess.run(
        ["bash", "-c", 'exec "$@" >&-', "_", *EMOTION_EDGE, *UNPACED],
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = logged_lines(proc.stderr)
    assert len(lines) == 1 and "stdout is closed" in lines[0], proc.stderr


def test_summary_json_into_a_new_folder_is_written(tmp_path: Path):
    target = tmp_path / "new" / "folder" / "summary.json"
    proc = run_cli(*UNPACED, "--output", str(tmp_path / "r.jsonl"), "--summary-json", str(target))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(target.read_text())["frames_processed"] == DEMO_FRAMES


def test_results_into_a_named_pipe_reach_its_reader(tmp_path: Path):
    # the path check must not open a FIFO (that would block, or end the reader's input)
    fifo = tmp_path / "results.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [*EMOTION_EDGE, *UNPACED, "--output", str(fifo)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    lines: list[str] = []

    def read_all() -> None:
        with open(fifo, encoding="utf-8") as reader:  # blocks until the program opens it
            lines.extend(reader.read().splitlines())

    reader = threading.Thread(target=read_all, daemon=True)
    reader.start()
    stderr = finish_program(proc, 60)
    reader.join(10)
    assert not reader.is_alive(), stderr
    assert proc.returncode == 0, stderr
    assert len(lines) == DEMO_FRAMES and json.loads(lines[-1])["frame"] == DEMO_FRAMES - 1
