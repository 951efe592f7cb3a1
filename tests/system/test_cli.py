"""The `emotion-edge` command as a user runs it: real process, real files, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import cv2
import pytest

from tests.conftest import (
    ASTRONAUT_FACE_XYWH,
    DEFAULT_MODEL,
    EMOTION_EDGE,
    ROOT,
    run_cli,
    wait_until,
    write_video,
)


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("emotion-edge:")]
    assert len(errors) == 1, proc.stderr
    assert text in errors[0], errors[0]


def test_demo_runs_headless_and_reports(tmp_path: Path):
    summary_file = tmp_path / "summary.json"
    proc = run_cli("run", "--demo", "--summary-json", str(summary_file), timeout=180)
    assert proc.returncode == 0, proc.stderr
    results = json_lines(proc.stdout)
    statuses = {r["status"] for r in results}
    assert statuses == {"ok", "no_face", "multiple_faces"}
    emotions = {r["emotion"] for r in results if r["status"] == "ok"}
    assert "happy" in emotions
    assert "summary:" in proc.stderr and "stage ms" in proc.stderr
    summary = json.loads(summary_file.read_text())
    assert summary["frames_processed"] == len(results)
    assert summary["frames_captured"] == summary["frames_processed"] + summary["frames_dropped"]


def test_unpaced_file_reports_throughput_and_stage_times(tmp_path: Path, astronaut_bgr):
    clip = write_video(tmp_path / "c.avi", [cv2.resize(astronaut_bgr, (640, 480))] * 20)
    summary_file = tmp_path / "s.json"
    proc = run_cli(
        "run", "--source", str(clip), "--realtime", "false", "--summary-json", str(summary_file)
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(summary_file.read_text())
    assert summary["frames_processed"] == 20 and summary["frames_dropped"] == 0
    assert summary["processed_fps"] > 0
    for stage in ("detect", "preprocess", "inference", "total", "latency"):
        assert set(summary["stage_ms"][stage]) == {"mean", "p50", "p95"}
    assert summary["statuses"] == {"ok": 20}
    assert "fps" in proc.stderr


def test_image_folder_is_processed_once_in_name_order(tmp_path: Path, photo_files):
    folder = tmp_path / "photos"
    folder.mkdir()
    for order, name in enumerate(("one", "none", "two")):
        (folder / f"{order}_{name}.png").write_bytes(photo_files[name].read_bytes())
    out = tmp_path / "results.jsonl"
    proc = run_cli("run", "--source", str(folder), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # results went to the file
    results = json_lines(out.read_text())
    assert [r["status"] for r in results] == ["ok", "no_face", "multiple_faces"]
    assert results[0]["emotion"] == "happy"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--source", "/nonexistent/clip.mp4"], 1, "/nonexistent/clip.mp4: no such file"),
        (["--model", "/nonexistent/m.tflite"], 1, "/nonexistent/m.tflite: model not found"),
        (["--threads", "0"], 2, "--threads: Input should be greater than or equal to 1"),
        (["--config", "/nonexistent/c.yaml"], 2, "config file not found"),
        (["--output", "/proc/forbidden/out.jsonl", "--source", "{photo}"], 2, "cannot be written"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(args, code, message, photo_files):
    args = [a.replace("{photo}", str(photo_files["one"])) for a in args]
    assert_one_line_error(run_cli("run", *args), code, message)


def test_corrupt_model_and_unreadable_video(tmp_path: Path, photo_files):
    bad_model = tmp_path / "bad.tflite"
    bad_model.write_bytes(os.urandom(2048))
    bad_model.with_suffix(".json").write_bytes(DEFAULT_MODEL.with_suffix(".json").read_bytes())
    proc = run_cli("run", "--model", str(bad_model), "--source", str(photo_files["one"]))
    assert_one_line_error(proc, 1, "bad.tflite: not a valid TFLite model")

    bad_video = tmp_path / "broken.mp4"
    bad_video.write_bytes(os.urandom(4096))
    proc = run_cli("run", "--source", str(bad_video))
    assert_one_line_error(proc, 1, "broken.mp4: cannot be opened as video")


def test_bad_yaml_in_config(tmp_path: Path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("faces:\n  policy: everyone\n")
    proc = run_cli("run", "--config", str(cfg))
    assert_one_line_error(proc, 2, "faces.policy: Input should be 'multiple_faces'")


def test_sigterm_stops_within_two_seconds_and_flushes(tmp_path: Path, astronaut_bgr):
    frames = [cv2.resize(astronaut_bgr, (640, 480))] * 15
    clip = write_video(tmp_path / "loop.avi", frames, fps=15)
    out = tmp_path / "r.jsonl"
    proc = subprocess.Popen(
        [*EMOTION_EDGE, "run", "--source", str(clip), "--loop", "true", "--output", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # two complete lines written: the stop below must flush, not cut, what follows
        assert wait_until(lambda: out.exists() and out.read_bytes().count(b"\n") >= 2, 60)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert took < 2.5, f"took {took:.2f} s to stop"  # 2 s budget plus process exit
    assert "SIGTERM received, stopping" in stderr
    results = json_lines(out.read_text())  # every line complete: nothing half-written
    assert len(results) >= 2
    assert all(r["status"] == "ok" for r in results)


def test_frame_that_is_not_colour_is_handled(tmp_path: Path, astronaut_bgr):
    gray = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    path = tmp_path / "gray.png"
    cv2.imwrite(str(path), gray)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape == gray.shape  # one channel
    proc = run_cli("run", "--source", str(path))
    assert proc.returncode == 0, proc.stderr
    (line,) = json_lines(proc.stdout)
    assert (line["status"], line["faces_detected"], line["file"]) == ("ok", 1, str(path))
    box = line["faces"][0]["box_xywh"]  # the face is found where it is in the colour photo
    assert max(abs(a - b) for a, b in zip(box, ASTRONAUT_FACE_XYWH, strict=True)) <= 8, box


# A mistake in a flag names the flag (not the install's config.yaml), in one line, quickly.
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["--web", "0"], ["--web: Input should be greater than or equal to 1"], id="web-0"
        ),
        pytest.param(
            ["--web", "a:b:c"],
            ["--web: 'a:b:c' is not PORT or HOST:PORT", "[::]:8080"],
            id="web-unbracketed-ipv6",
        ),
        pytest.param(
            ["--web", "0.0.0.0:99999"],
            ["--web: Input should be less than or equal to 65535"],
            id="web-port-too-large",
        ),
        pytest.param(
            ["--web", ":"], ["--web: ':' is not PORT or HOST:PORT", "[::]:8080"], id="web-colon"
        ),
        pytest.param(
            ["--web", "host:"],
            ["--web: 'host:' is not PORT or HOST:PORT", "0.0.0.0:8080"],
            id="web-host-without-port",
        ),
        pytest.param(
            ["--web", "[::1"],
            ["--web: '[::1' is not PORT or HOST:PORT", "in brackets"],
            id="web-unclosed-bracket",
        ),
        pytest.param(
            ["--mqtt-port", "0"],
            ["--mqtt-port: Input should be greater than or equal to 1"],
            id="mqtt-port-0",
        ),
        pytest.param(
            ["--max-frames", "-1"],
            ["--max-frames: must be 1 or more (got -1)", "leave it out"],
            id="max-frames-negative",
        ),
        pytest.param(
            ["--max-frames", "0"],
            ["--max-frames: must be 1 or more (got 0)", "leave it out"],
            id="max-frames-zero",
        ),
        pytest.param(
            ["--source", 'videotestsrc ! "unterminated'],
            ["--source: the GStreamer pipeline cannot be split", "close the quote"],
            id="source-gstreamer-unbalanced-quote",
        ),
    ],
)
def test_bad_flag_is_one_line_naming_the_flag(args: list[str], expected: list[str]):
    proc = run_cli("run", *args, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "config.yaml" not in lines[0], lines[0]
    for text in expected:
        assert text in lines[0], lines[0]
