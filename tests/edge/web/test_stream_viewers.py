"""Many MJPEG viewers against a real WebView on 127.0.0.1: one encode per frame for all of
them, and the memory they cost bounded while they watch and given back when they leave."""

from __future__ import annotations

import gc
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config.view import WebConfig
from edge.pipeline.live import LiveState
from edge.pipeline.stats import PipelineStats
from edge.types import Frame
from edge.web.view import WebView
from tests.conftest import wait_until
from tests.mqtt_broker import free_port

VIEWERS = 30  # the figure; the server admits 32
BOUNDARY = b"--emotionedgeframe"
REQUEST = b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
# Measured in this test's process (640x480 frames, 30 viewers, 20 parts each): the old
# per-viewer encode made 600 encodes of 39 frames, grew RSS by 28-30 MB while they watched and
# kept 25 MB after they left; the shared one: 20 encodes, +3-5 MB, +1 MB.
WATCHING_MAX_MB = 15
LEFT_BEHIND_MAX_MB = 10


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class Camera:
    """New 640x480 frames at 30 fps, as the capture thread publishes them; counts them."""

    def __init__(self, live: LiveState, image: np.ndarray) -> None:
        self.live, self.image, self.published = live, image, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(1 / 30):
            frame = Frame(self.published, self.image, time.monotonic(), time.time())
            self.live.publish(frame, wait_taken=False, stop=self.stop)
            self.published += 1


@pytest.fixture()
def streaming(astronaut_bgr) -> Iterator[tuple[WebView, Camera]]:
    view = WebView(WebConfig(enabled=True, port=free_port()), PipelineStats(), LiveState())
    camera = Camera(view.live, cv2.resize(astronaut_bgr, (640, 480)))
    yield view, camera
    camera.stop.set()
    camera.thread.join(2)
    view.close()


def watch(port: int, viewers: int, parts_each: int, within_s: float) -> tuple[list[int], float]:
    """`viewers` stream clients, read from this one thread, until each has `parts_each`
    parts (or `within_s` passes); the parts each got and the highest RSS seen meanwhile."""
    selector = selectors.DefaultSelector()
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(viewers)]
    parts, tails, peak = [0] * viewers, [b""] * viewers, rss_mb()
    for index, client in enumerate(clients):
        client.sendall(REQUEST)
        client.setblocking(False)
        selector.register(client, selectors.EVENT_READ, index)
    deadline = time.monotonic() + within_s
    try:
        while min(parts) < parts_each and time.monotonic() < deadline:
            for key, _ in selector.select(0.2):
                index, data = key.data, key.fileobj.recv(1 << 20)  # type: ignore[union-attr]
                seen = tails[index] + data
                parts[index] += seen.count(BOUNDARY)
                tails[index] = seen[-len(BOUNDARY) + 1 :]  # a boundary cut in two counts once
            peak = max(peak, rss_mb())
    finally:
        selector.close()
        for client in clients:
            client.close()
    return parts, peak


def counting_encodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """cv2.imencode, counted, wherever the view calls it from."""
    calls = [0]
    real = cv2.imencode

    def imencode(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(cv2, "imencode", imencode)
    return calls


def test_thirty_viewers_share_one_encode_per_frame_and_their_memory_goes_back(
    streaming, monkeypatch
):
    view, camera = streaming
    encodes = counting_encodes(monkeypatch)
    assert min(watch(view.port, 1, 10, 10)[0]) >= 10  # warm: OpenCV's first-use buffers made
    assert wait_until(lambda: view.open_connections == 0, 5)
    gc.collect()
    idle_mb = rss_mb()

    encodes[0], published_before = 0, camera.published
    parts, peak_mb = watch(view.port, VIEWERS, 20, 15)
    published = camera.published - published_before
    assert min(parts) >= 20, parts  # every viewer really watched
    # one encode per new frame, whoever watches: 30 viewers at 15 fps each would be ~450/s
    assert encodes[0] <= published + 1, (encodes[0], published, sum(parts))
    assert peak_mb - idle_mb < WATCHING_MAX_MB, (idle_mb, peak_mb)

    assert wait_until(lambda: view.open_connections == 0, 5)
    gc.collect()
    returned = wait_until(lambda: rss_mb() - idle_mb < LEFT_BEHIND_MAX_MB, 5, 0.2)
    assert returned, (idle_mb, peak_mb, rss_mb())
