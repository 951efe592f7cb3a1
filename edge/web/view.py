"""A light live view over HTTP (standard library only): page, MJPEG stream, JSON, health, metrics.

It reads the run's LiveState (the newest frame and result) and nothing else; a frame is
drawn and JPEG-encoded once for all viewers, by whichever viewer's thread asks first
(edge/web/stream.py), so nothing is encoded while nobody watches. Listens on 127.0.0.1
unless configured otherwise.

Clients may be broken or hostile: edge/web/server.py holds the server layer that bounds
time, connections and log lines per client, checks the token early and keeps it out of the
log.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from edge.config.view import WebConfig
from edge.errors import ConfigError
from edge.pipeline.live import LiveState
from edge.pipeline.stats import PipelineStats
from edge.web.auth import is_token
from edge.web.metrics import metrics_text
from edge.web.page import NO_VIDEO, PAGE_FILE, PICTURE_PATHS, result_view
from edge.web.server import (
    CONTROL_CHARS,
    HOST_REFUSED,
    DeadlineReader,
    HeaderGate,
    LimitedServer,
    Refused,
    ServerLimits,
    describe_error,
    host_allowed,
    is_loopback,
    redact,
    this_machines_names,
)
from edge.web.stream import BOUNDARY, SharedJpeg

log = logging.getLogger(__name__)


class WebView:
    """Serves the run's live state: page, stream, result JSON, health and metrics."""

    def __init__(
        self,
        cfg: WebConfig,
        stats: PipelineStats,
        live: LiveState,
        limits: ServerLimits | None = None,
        blur: bool = False,
    ) -> None:
        self.cfg = cfg
        self.stats = stats
        self.live = live
        self.limits = limits or ServerLimits()
        self.page = PAGE_FILE.read_bytes()  # read when the view starts, not at import
        self.loopback_only = is_loopback(cfg.host)
        self.host_names = this_machines_names(cfg.host)
        self.jpeg = SharedJpeg(live, cfg.max_fps, blur)  # privacy.blur_faces: every picture
        handler = type("Handler", (_Handler,), {"view": self})
        try:
            self.server = LimitedServer((cfg.host, cfg.port), handler, self.limits, cfg.token)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"web.port: {cfg.port} is in use on {cfg.host} (choose "
                    "another web.port, or --web PORT)"
                ) from None
            raise ConfigError(
                f"web.host: cannot listen on {cfg.host}:{cfg.port} ({exc.strerror})"
            ) from None
        self.port = int(self.server.server_address[1])
        url_host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
        self.description = f"web http://{url_host}:{self.port}/"
        # what to open from elsewhere: this machine's name when it listens everywhere
        wildcard = cfg.host in ("0.0.0.0", "::")
        self.url = f"http://{socket.gethostname() if wildcard else url_host}:{self.port}/"
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="web", kwargs={"poll_interval": 0.2}, daemon=True
        )
        self._thread.start()
        log.info(
            "live view on http://%s:%d/%s",
            url_host,
            self.port,
            " (token required)" if cfg.token else "",
        )
        if not cfg.token and not is_loopback(cfg.host):
            log.warning(
                "web.host is %s but web.token is not set: anyone who can reach this device "
                "can watch the camera; set web.token (16+ characters), or web.host: 127.0.0.1",
                cfg.host,
            )

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

    @property
    def open_connections(self) -> int:
        """Client connections being served right now (streams included)."""
        return self.server.open_connections

    def close(self) -> None:
        self.server.stopping.set()  # streams end at once
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(2.0)


class _Handler(BaseHTTPRequestHandler):
    view: WebView
    protocol_version = "HTTP/1.1"
    _reader: DeadlineReader
    _token_ok = False
    _error_logged = False

    def setup(self) -> None:
        super().setup()
        send_timeout_s = self.view.limits.send_timeout_s
        self.connection.settimeout(send_timeout_s)
        self.rfile.close()  # the default reader; ours bounds how long a request may take
        self._reader = DeadlineReader(self.connection, send_timeout_s)
        self.rfile = io.BufferedReader(self._reader)

    def handle(self) -> None:
        try:
            super().handle()
        except OSError as exc:  # reset, broken pipe, timed out: the client's doing
            self.close_connection = True
            if not self._error_logged:  # one line per failure: an error reply said it already
                log.debug("%s connection dropped (%s)", self.address_string(), describe_error(exc))

    def handle_one_request(self) -> None:
        self._reader.deadline = time.monotonic() + self.view.limits.read_timeout_s
        self._error_logged = False
        super().handle_one_request()

    def parse_request(self) -> bool:
        token = self.view.cfg.token
        self._token_ok = not token
        if not token:
            return super().parse_request()
        reader = self.rfile
        self.rfile = HeaderGate(reader, self._check_query, self._check_header)
        try:
            return super().parse_request()
        except Refused:
            self._refuse()
            return False
        finally:
            self.rfile = reader

    def _is_token(self, given: bytes) -> bool:
        if is_token(given, self.view.cfg.token or ""):
            return True
        self.view.server.wrong_tokens.add(self.client_address[0])  # someone guessing, maybe
        return False

    def _check_query(self) -> None:
        """The request line is parsed, no header read yet: a token in the query decides."""
        try:
            given = parse_qs(urlsplit(self.path).query).get("token", [])
        except ValueError:
            raise Refused from None
        if given:
            if not all(self._is_token(value.encode()) for value in given):
                raise Refused
            self._token_ok = True

    def _check_header(self, line: bytes) -> None:
        """Each header line as it arrives: a wrong Bearer token, or none by the end, is refused."""
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"authorization":
            scheme, _, credentials = value.strip().partition(b" ")
            if scheme.lower() == b"bearer":
                if not self._is_token(credentials.strip()):
                    raise Refused
                self._token_ok = True
        elif line in (b"\r\n", b"\n", b"") and not self._token_ok:
            raise Refused

    def _refuse(self) -> None:
        self._send(
            401,
            b"token required: ?token=... or Authorization: Bearer\n",
            "text/plain; charset=utf-8",
            {"WWW-Authenticate": "Bearer", "Connection": "close"},
        )

    def log_message(self, format: str, *args: Any) -> None:
        message = redact(format % args, self.view.cfg.token).translate(CONTROL_CHARS)
        log.debug("%s %s", self.address_string(), message)

    def log_error(self, format: str, *args: Any) -> None:
        self._error_logged = True  # the request line is in it: no second line for the reply
        self.log_message(format, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if not self._error_logged:
            super().log_request(code, size)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if not self._token_ok:  # parse_request refuses first; this only guards against a slip
            self._refuse()
            return
        view = self.view
        if not host_allowed(self.headers.get("Host"), view.host_names, view.loopback_only):
            self._send(403, HOST_REFUSED, "text/plain; charset=utf-8", {"Connection": "close"})
            return
        try:
            path = urlsplit(self.path).path
        except ValueError:
            self._send(400, b"bad request target\n", "text/plain; charset=utf-8")
            return
        if path in PICTURE_PATHS and not view.cfg.video:
            self._send(404, NO_VIDEO, "text/plain; charset=utf-8")
        elif path == "/":
            self._send(200, view.page, "text/html; charset=utf-8")
        elif path == "/api/result":
            self._send(200, json.dumps(result_view(view.live)).encode(), "application/json")
        elif path == "/latest.jpg":
            self._latest_jpeg()
        elif path == "/healthz":
            ok, why = view.healthy()
            self._send(
                200 if ok else 503,
                json.dumps({"ok": ok, "detail": why}).encode(),
                "application/json",
            )
        elif path == "/metrics":
            _, result = view.live.latest()
            self._send(
                200,
                metrics_text(view.stats, result).encode(),
                "text/plain; version=0.0.4; charset=utf-8",
            )
        elif path == "/stream.mjpg":
            self._stream()
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def _latest_jpeg(self) -> None:
        """The newest frame with its result drawn: what Home Assistant's generic camera and
        dashboards fetch. 503 while there is none (starting, paused)."""
        jpeg = self.view.jpeg.latest()
        if jpeg is None:
            why = b"paused\n" if self.view.live.paused else b"no frame yet\n"
            self._send(503, why, "text/plain; charset=utf-8", {"Retry-After": "1"})
            return
        self._send(200, jpeg, "image/jpeg")

    def _stream(self) -> None:
        """Frames until the viewer leaves, the view closes, or a write times out."""
        view = self.view
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            with view.jpeg.viewer():
                for part in view.jpeg.parts(view.server.stopping):
                    self.wfile.write(part)  # the bytes every viewer is sent: no copy
        except OSError as exc:  # the viewer left, or stopped reading (send timeout)
            log.debug("%s stream ended (%s)", self.address_string(), describe_error(exc))
        self.close_connection = True
