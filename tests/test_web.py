"""The live web view served by the real program, opened in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import EMOTION_EDGE, ROOT, start_program, stop_program, write_video
from tests.mqtt_broker import free_port, wait_until

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--timeout=4000",
]


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def chromium(tmp_path: Path, *args: str) -> str:
    assert Path(CHROMIUM).exists(), "chromium missing: ./setup.sh --dev installs it"
    proc = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chrome'}", *args],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture()
def device(tmp_path: Path, astronaut_bgr):
    """The real program on a looping clip of one smiling face, with the web view on."""
    port = free_port()
    clip = write_video(tmp_path / "cam.avi", [cv2.resize(astronaut_bgr, (640, 480))] * 15)
    config = tmp_path / "c.yaml"
    config.write_text(
        "web:\n  stall_after_s: 1\nsource:\n  treat_as_camera: true\n"
        "  reconnect_initial_s: 0.5\n  reconnect_max_s: 1\n"
    )
    proc = start_program(
        "run",
        "--config",
        str(config),
        "--source",
        str(clip),
        "--web",
        str(port),
        "--output",
        "/dev/null",
    )
    base = f"http://127.0.0.1:{port}"
    ok = wait_until(lambda: _status(f"{base}/healthz") == 200, 60) and wait_until(
        lambda: b'"status"' in get(f"{base}/api/result")[1], 20
    )
    yield base, clip, proc
    stop_program(proc)
    assert ok, "the web view never became healthy"
    assert proc.returncode == 0


def _status(url: str) -> int | None:
    try:
        return get(url)[0]
    except OSError:
        return None


def test_page_in_chromium_shows_the_stream_and_the_current_emotion(tmp_path, device):
    base, _, _ = device
    status, body = get(f"{base}/api/result")
    assert status == 200 and json.loads(body)["emotion"] == "happy"
    dom = chromium(tmp_path, "--dump-dom", f"{base}/")
    shown = re.search(r'<div id="emotion">([^<]*)</div>', dom)
    assert (
        shown is not None and shown.group(1) == json.loads(get(f"{base}/api/result")[1])["emotion"]
    )
    assert 'src="stream.mjpg"' in dom

    shot = tmp_path / "page.png"
    chromium(tmp_path, "--window-size=1000,560", f"--screenshot={shot}", f"{base}/")
    image = cv2.imread(str(shot))
    stream_area = image[20:490, 20:650]  # where the 640x480 <img> sits
    assert stream_area.std() > 20  # a photo, not an empty box on the dark page
    assert (np.abs(stream_area.astype(int) - EMOTION_YELLOW).max(axis=2) < 40).any()  # its box


EMOTION_YELLOW = np.array((0, 215, 255))  # happy, as the overlay draws it


def test_metrics_parse_and_count_emotions(device):
    base, _, _ = device
    assert wait_until(lambda: b'emotion="happy"' in get(f"{base}/metrics")[1], 20)
    status, body = get(f"{base}/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    for name in (
        "emotion_edge_capture_fps",
        "emotion_edge_processed_fps",
        "emotion_edge_frames_dropped",
        "emotion_edge_inference_ms",
        "emotion_edge_faces",
        "emotion_edge_emotion",
    ):
        assert name in families, sorted(families)
    happy = [
        s for s in families["emotion_edge_emotion"].samples if s.labels.get("emotion") == "happy"
    ]
    assert happy and happy[0].value > 0


def test_healthz_turns_503_when_the_camera_stops(device):
    base, clip, _ = device
    assert get(f"{base}/healthz")[0] == 200
    clip.rename(clip.with_suffix(".gone"))  # unplugged: frames stop
    assert wait_until(lambda: get(f"{base}/healthz")[0] == 503, 10)
    detail = json.loads(get(f"{base}/healthz")[1])["detail"]
    assert "no frame captured" in detail
    clip.with_suffix(".gone").rename(clip)
    assert wait_until(lambda: get(f"{base}/healthz")[0] == 200, 15)


def test_token_is_required_when_set(tmp_path, astronaut_bgr):
    port = free_port()
    clip = write_video(tmp_path / "c.avi", [cv2.resize(astronaut_bgr, (640, 480))] * 15)
    config = tmp_path / "c.yaml"
    config.write_text(f"web:\n  enabled: true\n  port: {port}\n  token: s3cret-token\n")
    proc = start_program(
        "run",
        "--config",
        str(config),
        "--source",
        str(clip),
        "--loop",
        "true",
        "--output",
        "/dev/null",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: _status(f"{base}/healthz") is not None, 60)
        assert get(f"{base}/api/result")[0] == 401
        assert get(f"{base}/api/result?token=wrong-token")[0] == 401
        assert get(f"{base}/api/result?token=s3cret-token")[0] == 200
        assert get(f"{base}/metrics", {"Authorization": "Bearer s3cret-token"})[0] == 200
    finally:
        stop_program(proc)


def test_port_in_use_and_short_token_are_one_line_errors(tmp_path, photo_files):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [*EMOTION_EDGE, "run", "--source", str(photo_files["one"]), "--web", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 2
    assert f"web.port: {port} is in use" in proc.stderr and "Traceback" not in proc.stderr
    config = tmp_path / "c.yaml"
    config.write_text("web:\n  token: short\n")
    proc = subprocess.run(
        [*EMOTION_EDGE, "check-config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        proc.returncode == 2
        and "web.token: String should have at least 8 characters" in proc.stderr
    )
