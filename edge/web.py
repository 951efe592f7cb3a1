"""A light live view over HTTP (standard library only): page, MJPEG stream, JSON, health, metrics.

The pipeline hands every frame to `WebView.show()`, which only keeps a reference; a
frame is drawn and JPEG-encoded in the streaming client's own thread, so nothing is
encoded while nobody watches. Listens on 127.0.0.1 unless configured otherwise.
"""

from __future__ import annotations

import errno
import hmac
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import cv2

from edge.config_view import WebConfig
from edge.errors import ConfigError
from edge.overlay import draw_overlay
from edge.payload import result_to_dict
from edge.stats import PipelineStats
from edge.types import Frame, Result

log = logging.getLogger(__name__)

PAGE = (Path(__file__).resolve().parent / "assets" / "live.html").read_text(encoding="utf-8")
BOUNDARY = "emotionedgeframe"


def metrics_text(stats: PipelineStats, latest: Result | None) -> str:
    """Prometheus text exposition format, version 0.0.4."""
    snap = stats.snapshot()
    lines = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP emotion_edge_{name} {help_text}")
        lines.append(f"# TYPE emotion_edge_{name} {kind}")
        lines.extend(f"emotion_edge_{name}{labels} {value}" for labels, value in samples)

    metric("capture_fps", "gauge", "Frames captured per second.", [("", snap.capture_fps)])
    metric("processed_fps", "gauge", "Frames analysed per second.", [("", snap.processed_fps)])
    metric("frames_captured_total", "counter", "Frames captured.", [("", snap.frames_captured)])
    metric("frames_processed_total", "counter", "Frames analysed.", [("", snap.frames_processed)])
    metric(
        "frames_dropped_total",
        "counter",
        "Frames never analysed (a newer one came).",
        [("", snap.frames_dropped)],
    )
    metric(
        "inference_ms",
        "gauge",
        "Mean classifier time per face, recent frames.",
        [("", snap.inference_ms_mean)],
    )
    metric(
        "faces",
        "gauge",
        "Faces in the latest analysed frame.",
        [("", latest.detected_faces if latest else 0)],
    )
    metric(
        "emotion_total",
        "counter",
        "Classified faces per emotion.",
        [(f'{{emotion="{label}"}}', n) for label, n in sorted(stats.emotion_counts().items())],
    )
    return "\n".join(lines) + "\n"


class WebView:
    """A pipeline viewer that serves what it is shown."""

    def __init__(self, cfg: WebConfig, stats: PipelineStats) -> None:
        self.cfg = cfg
        self.stats = stats
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._result: Result | None = None
        self._closing = False
        handler = type("Handler", (_Handler,), {"view": self})
        try:
            self.server = ThreadingHTTPServer((cfg.host, cfg.port), handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"web.port: {cfg.port} is in use on {cfg.host} (choose "
                    "another web.port, or --web PORT)"
                ) from None
            raise ConfigError(
                f"web.host: cannot listen on {cfg.host}:{cfg.port} ({exc.strerror})"
            ) from None
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.description = f"web http://{cfg.host}:{self.port}/"
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="web", kwargs={"poll_interval": 0.2}, daemon=True
        )
        self._thread.start()
        log.info(
            "live view on http://%s:%d/%s",
            cfg.host,
            self.port,
            " (token required)" if cfg.token else "",
        )

    def show(self, frame: Frame, result: Result | None) -> None:
        with self._cond:
            self._frame, self._result = frame, result
            self._cond.notify_all()

    def latest(self) -> tuple[Frame | None, Result | None]:
        with self._cond:
            return self._frame, self._result

    def wait_newer(self, seen_index: int, timeout_s: float) -> tuple[Frame | None, Result | None]:
        with self._cond:
            self._cond.wait_for(
                lambda: (
                    self._closing or (self._frame is not None and self._frame.index != seen_index)
                ),
                timeout_s,
            )
            return self._frame, self._result

    def healthy(self) -> tuple[bool, str]:
        last = self.stats.last_capture_at_s
        if last is None:
            return False, "no frame captured yet"
        age = time.monotonic() - last
        if age > self.cfg.stall_after_s:
            return (
                False,
                f"no frame captured for {age:.0f} s (source state: {self.stats.source_state})",
            )
        return True, "frames flowing"

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(2.0)

    @property
    def closing(self) -> bool:
        return self._closing


class _Handler(BaseHTTPRequestHandler):
    view: WebView
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _authorized(self, query: dict[str, list[str]]) -> bool:
        token = self.view.cfg.token
        if not token:
            return True
        given = query.get("token", [""])[0]
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header[7:]
        return hmac.compare_digest(given.encode(), token.encode())

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if not self._authorized(query):
            self._send(
                401,
                b"token required: ?token=... or Authorization: Bearer\n",
                "text/plain; charset=utf-8",
            )
            return
        view = self.view
        if url.path == "/":
            self._send(200, PAGE.encode(), "text/html; charset=utf-8")
        elif url.path == "/api/result":
            _, result = view.latest()
            body = result_to_dict(result) if result else {}
            self._send(200, json.dumps(body).encode(), "application/json")
        elif url.path == "/healthz":
            ok, why = view.healthy()
            self._send(
                200 if ok else 503,
                json.dumps({"ok": ok, "detail": why}).encode(),
                "application/json",
            )
        elif url.path == "/metrics":
            _, result = view.latest()
            self._send(
                200,
                metrics_text(view.stats, result).encode(),
                "text/plain; version=0.0.4; charset=utf-8",
            )
        elif url.path == "/stream.mjpg":
            self._stream()
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def _stream(self) -> None:
        view = self.view
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        period_s, seen = 1.0 / view.cfg.max_fps, -1
        try:
            while not view.closing:
                started = time.monotonic()
                frame, result = view.wait_newer(seen, 1.0)
                if frame is None or frame.index == seen:
                    continue
                seen = frame.index
                _, newest = view.latest()  # analysis may have finished this frame meanwhile
                if newest is not None and newest.frame_index <= frame.index:
                    result = newest
                ok, jpeg = cv2.imencode(
                    ".jpg", draw_overlay(frame.image_bgr, result), [cv2.IMWRITE_JPEG_QUALITY, 80]
                )
                if not ok:
                    continue
                self.wfile.write(
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    f"{len(jpeg)}\r\n\r\n".encode()
                    + jpeg.tobytes()
                    + b"\r\n"
                )
                time.sleep(max(0.0, period_s - (time.monotonic() - started)))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the viewer closed the page
        self.close_connection = True
