"""The live web view served by the real program, opened in a real headless Chromium."""

from __future__ import annotations

import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np
import pytest

from edge.config.view import WebConfig
from edge.pipeline.live import LiveState
from edge.pipeline.stats import PipelineStats
from edge.types import Frame
from edge.web.view import ServerLimits, WebView
from tests.conftest import (
    EMOTION_EDGE,
    ROOT,
    run_cli,
    start_program,
    stop_program,
    wait_until,
    write_video,
)
from tests.mqtt_broker import free_port

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
    ok = wait_until(lambda: http_status(f"{base}/healthz") == 200, 60) and wait_until(
        lambda: b'"status"' in get(f"{base}/api/result")[1], 20
    )
    yield base, clip, proc
    stop_program(proc)
    assert ok, "the web view never became healthy"
    assert proc.returncode == 0


def http_status(url: str) -> int | None:
    """The HTTP status `url` answers with; None while nothing listens there."""
    try:
        return get(url)[0]
    except OSError:
        return None


def test_page_in_chromium_shows_the_stream_and_the_current_emotion(tmp_path, device):
    base, _, _ = device
    status, body = get(f"{base}/api/result")
    assert status == 200 and json.loads(body)["emotion"] == "happy"
    dom = chromium(tmp_path, "--dump-dom", f"{base}/")
    shown = re.search(r'<div id="emotion" class="current">([^<]*)</div>', dom)
    assert (
        shown is not None and shown.group(1) == json.loads(get(f"{base}/api/result")[1])["emotion"]
    )
    assert 'src="stream.mjpg?n=1"' in dom

    shot = tmp_path / "page.png"
    chromium(tmp_path, "--window-size=1000,560", f"--screenshot={shot}", f"{base}/")
    image = cv2.imread(str(shot))
    stream_area = image[20:490, 20:650]  # where the 640x480 <img> sits
    assert stream_area.std() > 20  # a photo, not an empty box on the dark page
    assert (np.abs(stream_area.astype(int) - EMOTION_YELLOW).max(axis=2) < 40).any()  # its box


EMOTION_YELLOW = np.array((0, 215, 255))  # happy, as the overlay draws it


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
    config.write_text(f"web:\n  enabled: true\n  port: {port}\n  token: s3cret-Vq7Lm2xR9kTz\n")
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
        assert wait_until(lambda: http_status(f"{base}/healthz") is not None, 60)
        assert get(f"{base}/api/result")[0] == 401
        assert get(f"{base}/api/result?token=wrong-token")[0] == 401
        assert get(f"{base}/api/result?token=s3cret-Vq7Lm2xR9kTz")[0] == 200
        assert get(f"{base}/metrics", {"Authorization": "Bearer s3cret-Vq7Lm2xR9kTz"})[0] == 200
    finally:
        stop_program(proc)


def test_port_in_use_and_short_token_are_one_line_errors(tmp_path, photo_files):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_cli("run", "--source", str(photo_files["one"]), "--web", str(port))
    assert proc.returncode == 2
    assert f"web.port: {port} is in use" in proc.stderr and "Traceback" not in proc.stderr
    config = tmp_path / "c.yaml"
    config.write_text("web:\n  token: short\n")
    proc = run_cli("check-config", str(config), timeout=60)
    assert proc.returncode == 2
    assert "web.token: is 5 characters long; at least 16 are needed" in proc.stderr


# --- broken and hostile clients, against real servers on 127.0.0.1 over real sockets ---

TOKEN = "s3cret-Vq7Lm2xR9kTz-42"
DEFAULTS = ServerLimits()


@dataclass
class Guarded:
    port: int
    log: Path
    proc: subprocess.Popen[str]

    def log_text(self, start: int = 0) -> str:
        return self.log.read_text(errors="replace")[start:]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, astronaut_bgr):
    """The real program with a token, at DEBUG, its stderr in a file the tests can read."""
    folder = tmp_path_factory.mktemp("guarded")
    port = free_port()
    clip = write_video(folder / "cam.avi", [cv2.resize(astronaut_bgr, (640, 480))] * 15)
    config = folder / "c.yaml"
    config.write_text(f"web:\n  enabled: true\n  port: {port}\n  token: {TOKEN}\n")
    log = folder / "stderr.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [
                *EMOTION_EDGE,
                *("run", "--config", str(config), "--source", str(clip), "--loop", "true"),
                *("--log-level", "DEBUG", "--output", "/dev/null"),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
        )
    try:
        up = wait_until(
            lambda: b'"status"' in ask(port, f"/api/result?token={TOKEN}", "", 2, b"}"), 60
        )
        assert up, log.read_text()[-3000:]  # running, and its first frames analysed
        yield Guarded(port, log, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
    text = log.read_text(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    assert "Traceback" not in text
    assert TOKEN not in text
    assert "web.token is not set" not in text  # a token, on 127.0.0.1: nothing to warn about


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def receive(sock: socket.socket, within_s: float, until: bytes = b"\r\n\r\n") -> bytes:
    """What arrives until `until` does, the server closes, or `within_s` passes."""
    deadline, data = time.monotonic() + within_s, b""
    try:
        while until not in data and (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def ask(
    port: int, target: str, headers: str = "", within_s: float = 2.0, until: bytes = b"\r\n\r\n"
) -> bytes:
    """One request on a fresh connection; its response up to `until` (b"" if none in time)."""
    try:
        with connect(port) as sock:
            sock.sendall(
                f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}\r\n".encode()
            )
            return receive(sock, within_s, until)
    except OSError:
        return b""


def status_of(head: bytes) -> int | None:
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", head)
    return int(match.group(1)) if match else None


def drained_until_closed(sock: socket.socket, within_s: float) -> bytes | None:
    """All the server sends until it closes the connection; None if still open after `within_s`."""
    deadline, data = time.monotonic() + within_s, b""
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    except ConnectionResetError:
        return data
    except TimeoutError:
        pass
    return None


def reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST, as from a crashed or hostile client."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def threads_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))


def test_silent_half_and_surplus_connections_cannot_starve_the_server(guarded):
    port, cap = guarded.port, DEFAULTS.max_connections
    threads_before = threads_of(guarded.proc.pid)
    opened_at = time.monotonic()
    silent = connect(port)  # sends nothing
    half = connect(port)  # half a request: its line and one header, never the blank line
    half.sendall(f"GET /api/result?token={TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
    assert status_of(ask(port, f"/api/result?token={TOKEN}")) == 200  # the next one is served

    hanging = [silent, half, *(connect(port) for _ in range(cap + 8))]  # 10 over the cap
    try:
        received = {sock: b"" for sock in hanging}

        def surplus_answered() -> bool:
            readable, _, _ = select.select(hanging, [], [], 0.05)
            for sock in readable:
                received[sock] += sock.recv(65536)
            return sum(status_of(data) == 503 for data in received.values()) >= len(hanging) - cap

        assert wait_until(surplus_answered, 3)  # the ones over the cap are told 503 at once
        assert status_of(ask(port, f"/api/result?token={TOKEN}")) == 503  # answered, not hung
        assert threads_of(guarded.proc.pid) <= threads_before + cap + 4  # none for the surplus

        # the server closes every one of them once the read timeout (a few seconds) has passed
        assert DEFAULTS.read_timeout_s <= 5
        deadline = opened_at + DEFAULTS.read_timeout_s + 3
        still_open = [
            sock
            for sock in hanging
            if drained_until_closed(sock, max(0.1, deadline - time.monotonic())) is None
        ]
        assert not still_open, f"{len(still_open)} of {len(hanging)} never closed"
    finally:  # a failure here must not leave the server full for the next test
        for sock in hanging:
            sock.close()
    assert wait_until(
        lambda: status_of(ask(port, f"/api/result?token={TOKEN}")) == 200, 3
    )  # and serves again
    assert "Request timed out" in guarded.log_text()


def test_a_wrong_or_missing_token_is_refused_before_the_request_is_complete(guarded):
    port = guarded.port
    partial_requests = [
        "GET /stream.mjpg?token=wrong-token HTTP/1.1\r\n",  # the request line alone decides
        "GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong-token\r\n",
        f"GET /stream.mjpg?token={TOKEN} HTTP/1.1\r\nAuthorization: Bearer wrong-token\r\n",
    ]
    for partial in partial_requests:  # never finished: no blank line after the headers
        with connect(port) as sock:
            sock.sendall(partial.encode())
            head = receive(sock, 1.0)
            assert status_of(head) == 401, (partial, head)
            assert b"multipart" not in head
            assert drained_until_closed(sock, 1.0) is not None  # and it hangs up
    assert status_of(ask(port, "/stream.mjpg")) == 401  # no token at all
    assert status_of(ask(port, "/metrics", "Authorization: Basic czNjcmV0\r\n")) == 401

    with connect(port) as sock:  # the right token: the server waits for the headers' end
        sock.sendall(f"GET /api/result?token={TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
        assert receive(sock, 0.5) == b""
        sock.sendall(b"Connection: close\r\n\r\n")
        assert status_of(receive(sock, 2.0)) == 200
    bearer = f"Authorization: Bearer {TOKEN}\r\n"
    assert status_of(ask(port, "/metrics", bearer)) == 200


def test_resets_and_malformed_requests_log_no_traceback(guarded):
    port, start = guarded.port, len(guarded.log_text())
    resets = 0
    for _ in range(3):  # sends nothing
        reset(connect(port))
        resets += 1
    for _ in range(3):  # half a request
        sock = connect(port)
        sock.sendall(f"GET /metrics?token={TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
        reset(sock)
        resets += 1
    for _ in range(2):  # in the middle of a stream
        sock = connect(port)
        sock.sendall(f"GET /stream.mjpg?token={TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        assert b"image/jpeg" in receive(sock, 5.0, b"image/jpeg")
        reset(sock)
        resets += 1
    for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", b"GET\r\n\r\n"):
        sock = connect(port)
        sock.sendall(junk)
        reset(sock)
        resets += 1
    with connect(port) as sock:  # a header line past the limit: 431, one line
        sock.sendall(b"GET / HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n")
        assert status_of(receive(sock, 2.0)) == 431
    assert resets == 10

    def client_lines() -> list[str]:
        return [
            line
            for line in guarded.log_text(start).splitlines()
            if "connection dropped" in line or "stream ended" in line or "code 4" in line
        ]

    # every client-side failure is noted (the last of them a 431): wait until they are all in
    assert wait_until(lambda: any("code 431" in line for line in client_lines()), 5)
    assert wait_until(lambda: sum("stream ended" in line for line in client_lines()) == 2, 5)
    assert status_of(ask(port, f"/api/result?token={TOKEN}")) == 200
    text = guarded.log_text(start)
    assert "Traceback" not in text
    assert len(client_lines()) <= resets + 1, "\n".join(client_lines())  # at most one each
    assert all(" DEBUG " in line for line in client_lines())


def test_the_token_never_reaches_a_debug_log(guarded):
    port, start = guarded.port, len(guarded.log_text())
    assert status_of(ask(port, f"/api/result?token={TOKEN}")) == 200
    assert status_of(ask(port, f"/metrics?x=1&token={quote(TOKEN, safe='')}")) == 200
    assert status_of(ask(port, "/healthz", f"Authorization: Bearer {TOKEN}\r\n")) in (200, 503)
    assert status_of(ask(port, f"/{TOKEN}?token={TOKEN}")) == 404
    assert status_of(ask(port, f"/\x1b[2J\x07forged?token={TOKEN}")) == 404  # control characters
    assert status_of(ask(port, f"/api/result?token={TOKEN[:-1]}")) == 401
    with connect(port) as sock:  # malformed: its request line goes into the error line
        sock.sendall(f"GET/?token={TOKEN}\r\n\r\n".encode())
        assert b"Bad request syntax" in receive(sock, 2.0, b"</html>")

    def logged() -> list[str]:
        return [line for line in guarded.log_text(start).splitlines() if "edge.web.view" in line]

    assert wait_until(lambda: sum("token=***" in line for line in logged()) >= 6, 5), logged()
    assert TOKEN not in guarded.log_text(start)
    assert TOKEN[:-1] not in guarded.log_text(start)
    assert '"GET /\\x1b[2J\\x07forged?token=*** HTTP/1.1" 404' in guarded.log_text(start)


def test_listening_on_all_interfaces_without_a_token_gets_one_and_bad_hosts_are_refused(
    tmp_path, photo_files
):
    def run(web: str) -> str:
        config = tmp_path / "c.yaml"
        config.write_text(f"web:\n  enabled: true\n  port: {free_port()}\n{web}")
        proc = run_cli(
            *("run", "--config", str(config), "--source", str(photo_files["one"])),
            *("--output", "/dev/null"),
            env={**os.environ, "STATE_DIRECTORY": str(tmp_path / "state")},
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stderr

    # it used to warn that anyone could watch; now a token is generated (test_web_reachable.py)
    log = run("  host: 0.0.0.0\n")
    assert "WARNING" not in log and log.count("web: open http://") == 1
    assert "web: open" not in run(f"  host: 0.0.0.0\n  token: {TOKEN}\n")  # it was chosen

    config = tmp_path / "bad.yaml"
    config.write_text('web:\n  host: "not a host"\n')
    proc = run_cli("check-config", str(config), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "web.host: must be an IP address or a host name" in proc.stderr
    assert "(got 'not a host')" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture()
def in_process():
    """A WebView in this process with short limits, so their effects show within a second."""
    views: list[WebView] = []

    def start(limits: ServerLimits, **web: object) -> WebView:
        cfg = WebConfig(enabled=True, port=free_port(), **web)  # type: ignore[arg-type]
        views.append(WebView(cfg, PipelineStats(), LiveState(), limits))
        return views[-1]

    yield start
    for view in views:
        view.close()


def test_a_stream_outlives_the_read_timeout_and_a_stalled_one_is_dropped(in_process):
    limits = ServerLimits(read_timeout_s=0.5, send_timeout_s=1.0, max_connections=4)
    view = in_process(limits, max_fps=60)
    noise = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    stop = threading.Event()

    def camera() -> None:  # a new frame every 1/60 s, as a source would hand them over
        index = 0
        while not stop.wait(1 / 60):
            frame = Frame(index, noise, time.monotonic(), time.time())
            view.live.publish(frame, wait_taken=False, stop=stop)
            index += 1

    threading.Thread(target=camera, daemon=True).start()
    request = b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    try:
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", view.port))
        stalled.sendall(request)  # and never reads: the server's writes block
        with connect(view.port) as watcher:
            watcher.sendall(request)
            started, last_part_at, parts, buffer = time.monotonic(), 0.0, 0, b""
            while time.monotonic() - started < 5 * limits.read_timeout_s:
                buffer += receive(watcher, 1.0, b"--emotionedgeframe")
                while b"--emotionedgeframe" in buffer:
                    buffer = buffer.split(b"--emotionedgeframe", 1)[1]
                    parts, last_part_at = parts + 1, time.monotonic()
            assert parts > 10
            assert time.monotonic() - last_part_at < limits.read_timeout_s  # still flowing
            # the stalled client was dropped after the send timeout: only the watcher is left
            assert wait_until(lambda: view.open_connections == 1, limits.send_timeout_s + 3)
        assert wait_until(lambda: view.open_connections == 0, 3)
        stalled.close()
    finally:
        stop.set()


def thread_cpu_s(native_id: int) -> float:
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_no_busy_loop_when_file_descriptors_run_out(in_process):
    view = in_process(ServerLimits(read_timeout_s=3.0))
    web_thread = next(t for t in threading.enumerate() if t.name == "web" and t.is_alive())
    assert web_thread.native_id is not None
    clients = [socket.socket() for _ in range(3)]  # their descriptors exist before the limit
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowest_free = os.dup(0)
    os.close(lowest_free)
    cpu_before, started = thread_cpu_s(web_thread.native_id), time.monotonic()
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))  # no new descriptor
        for client in clients:  # the kernel completes these; the server's accept() fails
            client.settimeout(5)
            client.connect(("127.0.0.1", view.port))
            client.sendall(
                b"GET /api/result HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )
        time.sleep(1.0)  # the window measured, not a wait for anything
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    spent = thread_cpu_s(web_thread.native_id) - cpu_before
    assert spent < 0.25 * (time.monotonic() - started), spent  # spinning would use ~all of it
    for client in clients:  # and once descriptors are back, the waiting clients are served
        assert status_of(receive(client, 3.0)) == 200
        client.close()
