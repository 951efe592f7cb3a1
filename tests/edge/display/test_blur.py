"""privacy.blur_faces: no detected face keeps its pixels in any picture the device makes,
checked against the unblurred frame on a real photo through the real detector: the
mosaic itself, /latest.jpg, a stream part, and a snapshot; the drm preview is refused."""

from __future__ import annotations

import threading
import time
import urllib.request

import cv2
import numpy as np
import pytest

from edge.config import Config
from edge.config.view import WebConfig
from edge.display.blur import blur_faces
from edge.display.overlay import draw_overlay
from edge.pipeline.live import LiveState
from edge.pipeline.stats import PipelineStats
from edge.types import Frame, Result
from edge.web.view import WebView
from tests.conftest import run_cli
from tests.mqtt_broker import free_port


def fine_detail(image: np.ndarray) -> np.ndarray:
    """A picture's fine structure: what a 5-pixel blur takes out of it (eyes, mouth, edges)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float64)
    return (grey - cv2.GaussianBlur(grey, (5, 5), 0)).ravel()


def kept_detail(shown: np.ndarray, before: np.ndarray) -> float:
    """How much of `before`'s fine structure `shown` still has: about 1 for the same picture
    (a JPEG of it included), about 0 when it is gone."""
    return float(np.corrcoef(fine_detail(shown), fine_detail(before))[0, 1])


def assert_faces_gone(picture: np.ndarray, original: np.ndarray, result: Result) -> None:
    assert result.detections, "the photo must have a face to hide"
    for det in result.detections:
        x, y, w, h = det.box_xywh
        dx, dy = w // 8, h // 8  # inside the box the overlay draws around the face
        inside = np.s_[y + dy : y + h - dy, x + dx : x + w - dx]
        shown, before = picture[inside], original[inside]
        # the face's detail is gone (a mosaic of 6 x 6 cells), and its pixels changed
        assert kept_detail(shown, before) < 0.2, kept_detail(shown, before)
        assert np.abs(shown.astype(int) - before.astype(int)).mean() > 8
    corner = np.s_[:60, -150:]  # far from the face and the texts: as it was (JPEG aside)
    assert np.abs(picture[corner].astype(int) - original[corner].astype(int)).mean() < 6


@pytest.fixture()
def face_and_result(analyzer_for, astronaut_bgr) -> tuple[np.ndarray, Result]:
    return astronaut_bgr, analyzer_for().analyze(
        Frame(0, astronaut_bgr, time.monotonic(), time.time())
    )


def test_the_mosaic_hides_every_detected_face(face_and_result):
    photo, result = face_and_result
    assert_faces_gone(blur_faces(photo, [d.box_xywh for d in result.detections]), photo, result)
    # the overlay drawn over it stays: the box is there, in the emotion's colour
    drawn = draw_overlay(photo, result, blur=True)
    assert_faces_gone(drawn, photo, result)
    assert not np.array_equal(drawn, blur_faces(photo, [d.box_xywh for d in result.detections]))


def test_latest_jpg_and_the_stream_show_no_face(face_and_result):
    photo, result = face_and_result
    live = LiveState()
    live.publish(Frame(0, photo, time.monotonic(), time.time()), False, threading.Event())
    live.set_result(result)
    view = WebView(WebConfig(enabled=True, port=free_port()), PipelineStats(), live, blur=True)
    base = f"http://127.0.0.1:{view.port}"
    try:
        with urllib.request.urlopen(f"{base}/latest.jpg", timeout=5) as response:
            latest = response.read()
        with urllib.request.urlopen(f"{base}/stream.mjpg", timeout=5) as response:
            head = response.read(200)
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            start = head.index(b"\r\n\r\n") + 4
            part = head[start:] + response.read(length - (len(head) - start))
    finally:
        view.close()
    for jpeg in (latest, part):
        picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert_faces_gone(picture, photo, result)


def test_a_snapshot_shows_no_face(tmp_path, face_and_result, astronaut_bgr):
    photo, result = face_and_result
    source = tmp_path / "photo.png"
    cv2.imwrite(str(source), astronaut_bgr)
    config = tmp_path / "c.yaml"
    config.write_text("privacy:\n  blur_faces: true\n")
    out = tmp_path / "snap.png"
    proc = run_cli("snapshot", "--config", str(config), "--source", str(source), str(out))
    assert proc.returncode == 0, proc.stderr
    assert_faces_gone(cv2.imread(str(out)), photo, result)


def test_the_drm_preview_cannot_blur_and_is_refused():
    with pytest.raises(ValueError, match="the drm display shows the Pi camera's own frames"):
        Config.model_validate({"privacy": {"blur_faces": True}, "display": {"backend": "drm"}})
