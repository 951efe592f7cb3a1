"""/latest.jpg (the newest annotated frame, what Home Assistant's generic camera takes),
web.video: false (results without pictures), and /api/result while paused: a real view on
loopback, fed a real frame and the real analysis of it."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from edge.config.view import WebConfig
from edge.pipeline.live import LiveState
from edge.pipeline.stats import PipelineStats
from edge.types import Frame
from edge.web.view import WebView
from tests.mqtt_broker import free_port

TOKEN = "Vq7Lm2xR9kTz-latest"
PAUSED_VIEW = {"headline": "paused", "current": False, "last_seen": None}


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


@pytest.fixture()
def live_with_a_face(analyzer_for, astronaut_bgr):
    live = LiveState()
    frame = Frame(0, astronaut_bgr, time.monotonic(), time.time())
    live.publish(frame, wait_taken=False, stop=threading.Event())
    live.set_result(analyzer_for().analyze(frame))
    return live, astronaut_bgr


def serve(live: LiveState, **web: object) -> tuple[WebView, str]:
    cfg = WebConfig.model_validate({"enabled": True, "port": free_port(), **web})
    view = WebView(cfg, PipelineStats(), live)
    return view, f"http://127.0.0.1:{view.port}"


def test_latest_jpg_is_the_newest_frame_with_its_result_drawn(live_with_a_face):
    live, photo = live_with_a_face
    view, base = serve(live, token=TOKEN)
    try:
        assert get(f"{base}/latest.jpg")[0] == 401  # the same token rules as the stream
        status, kind, body = get(f"{base}/latest.jpg?token={TOKEN}")
    finally:
        view.close()
    assert status == 200 and kind == "image/jpeg"
    picture = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == photo.shape
    # the photo, with the overlay on it: close to it overall, not equal to it
    difference = np.abs(picture.astype(int) - photo.astype(int))
    assert np.median(difference) < 8 and (difference > 60).mean() > 0.002


def test_nothing_to_show_is_503_and_paused_says_so(live_with_a_face):
    live, _ = live_with_a_face
    view, base = serve(LiveState())
    try:
        status, _, body = get(f"{base}/latest.jpg")
        assert (status, body) == (503, b"no frame yet\n")
    finally:
        view.close()
    view, base = serve(live)
    try:
        assert json.loads(get(f"{base}/api/result")[2])["paused"] is False
        live.set_paused(True)
        status, _, body = get(f"{base}/latest.jpg")
        assert (status, body) == (503, b"paused\n")
        paused = json.loads(get(f"{base}/api/result")[2])  # no result, and the view says so
        assert paused == {"paused": True, "view": PAUSED_VIEW}
    finally:
        view.close()


def test_without_video_the_results_are_served_and_no_picture(live_with_a_face):
    live, _ = live_with_a_face
    view, base = serve(live, video=False)
    try:
        for path in ("/", "/stream.mjpg", "/latest.jpg"):
            status, _, body = get(base + path)
            assert status == 404 and b"web.video is false" in body, path
        status, _, body = get(f"{base}/api/result")
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert get(f"{base}/metrics")[0] == 200
        assert get(f"{base}/healthz")[0] in (200, 503)  # no frame captured: 503, but served
        assert view.jpeg.encodes == 0
    finally:
        view.close()


def test_many_requests_for_one_frame_encode_it_once(live_with_a_face):
    # /latest.jpg polled hard (a dashboard, a script) must not make a JPEG per request
    live, _ = live_with_a_face
    view, base = serve(live)
    try:
        bodies = {get(f"{base}/latest.jpg")[2] for _ in range(40)}
        assert len(bodies) == 1 and view.jpeg.encodes == 1
    finally:
        view.close()
