"""systemd integration: notify protocol on a real datagram socket, the real program, the unit."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.pipeline.service import (
    SEND_TIMEOUT_S,
    NotifySocket,
    Progress,
    ServiceNotifier,
    judge_progress,
    watchdog_interval_s,
)
from edge.pipeline.stats import PipelineStats
from tests.conftest import ROOT, wait_until

UNIT = ROOT / "systemd" / "emotion-edge.service"


@pytest.fixture()
def notify_listener(tmp_path: Path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    yield path, sock
    sock.close()


def pending(sock: socket.socket) -> list[str]:
    """The messages already queued, one string per datagram, without waiting.

    A datagram sent to a Unix socket is in its queue when `sendto` returns.
    """
    messages = []
    sock.setblocking(False)
    try:
        while True:
            messages.append(sock.recv(4096).decode())
    except BlockingIOError:
        return messages
    finally:
        sock.settimeout(0.2)


def collect_until(
    sock: socket.socket, done: Callable[[list[str]], bool], timeout_s: float
) -> list[str]:
    """Messages as they come, until `done(messages)` or `timeout_s`; all received."""
    messages: list[str] = []

    def received() -> bool:
        with contextlib.suppress(TimeoutError):  # recv waits up to the socket's 0.2 s
            messages.append(sock.recv(4096).decode())
        return done(messages)

    wait_until(received, timeout_s, step_s=0)
    return messages


def pings_after(messages: list[str], prefix: str) -> int:
    """WATCHDOG=1 pings after the first message that starts with `prefix` (0 if none)."""
    at = next((i for i, m in enumerate(messages) if m.startswith(prefix)), None)
    return 0 if at is None else messages[at:].count("WATCHDOG=1")


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self, now_s: float = 1000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


def test_notify_socket_sends_datagrams(notify_listener):
    path, sock = notify_listener
    notifier = NotifySocket(str(path))
    assert notifier.enabled
    assert notifier.send("READY=1", "STATUS=hello")
    assert sock.recv(4096) == b"READY=1\nSTATUS=hello"
    notifier.close()
    assert not NotifySocket("").enabled and NotifySocket("").send("READY=1") is False


def test_notify_to_a_vanished_socket_is_not_fatal(tmp_path: Path):
    notifier = NotifySocket(str(tmp_path / "gone.sock"))
    assert notifier.send("WATCHDOG=1") is False


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("10000000", None, 5.0),
        ("10000000", "self", 5.0),
        ("10000000", "1", None),
        (None, None, None),
        ("x", None, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch, usec, pid, expected):
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, str(os.getpid()) if value == "self" else value)
    assert watchdog_interval_s() == expected


def _stats(
    state: str,
    capture_age: float | None,
    result_age: float | None,
    now: float,
    blocked_for: float | None = None,
    streaming_for: float | None = None,
):
    stats = PipelineStats()
    stats.source_state = state
    stats.last_capture_at_s = None if capture_age is None else now - capture_age
    stats.last_result_at_s = None if result_age is None else now - result_age
    stats.camera_call_since_s = None if blocked_for is None else now - blocked_for
    stats.streaming_since_s = None if streaming_for is None else now - streaming_for
    return stats


@pytest.mark.parametrize(
    ("state", "capture_age", "result_age", "blocked_for", "streaming_for", "healthy", "text"),
    [
        ("streaming", 0.1, 0.2, None, 60, True, "running"),
        ("streaming", 0.1, 30.0, None, 60, False, "no frame processed for 10 s"),  # stuck model
        ("streaming", 30.0, 30.0, None, 60, False, "no frame captured for 10 s"),
        ("streaming", 11.0, 11.0, 11.0, 60, False, "a camera call has blocked for over 10 s"),
        ("streaming", 3.0, 3.0, 3.0, 60, True, "running"),  # a read inside its timeout
        ("starting", None, None, None, None, False, "no frame captured"),
        # a remote camera lost: each reopen ends within its timeout, a restart would not help
        ("reconnecting", 60.0, 60.0, None, 60, True, "camera lost, reconnecting"),
        ("reconnecting", 60.0, 60.0, 2.0, 60, True, "camera lost, reconnecting"),
        # ... but a reopen that never returns is a process stuck: stop the pings
        ("reconnecting", 60.0, 60.0, 30.0, 60, False, "a camera call has blocked"),
        # back after 60 s away: the first new frame is not yet processed, and that is no stall
        ("streaming", 0.05, 60.0, None, 0.05, True, "running"),
    ],
)
def test_progress_judgement(
    state, capture_age, result_age, blocked_for, streaming_for, healthy, text
):
    now = 1000.0
    stats = _stats(state, capture_age, result_age, now, blocked_for, streaming_for)
    progress = judge_progress(stats, now, 10.0)
    assert progress.healthy is healthy
    assert text in progress.state


def test_paused_frames_captured_alone_are_progress():
    # nothing is processed while paused (edge.sinks.mqtt.pause): the watchdog must stay fed
    now = 1000.0
    stats = _stats("streaming", 0.1, 300.0, now, None, 600)
    assert not judge_progress(stats, now, 10.0).healthy
    assert judge_progress(stats, now, 10.0, paused=True) == Progress(True, "paused")
    stopped = _stats("streaming", 30.0, 300.0, now, None, 600)  # but the camera must deliver
    assert not judge_progress(stopped, now, 10.0, paused=True).healthy


def test_notifier_sends_ready_once_then_watchdog_only_while_healthy(notify_listener, monkeypatch):
    path, sock = notify_listener
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # ping every 50 ms
    clock = FakeClock()
    notifier = ServiceNotifier(stall_after_s=0.5, sock=NotifySocket(str(path)), clock=clock)
    stats = PipelineStats()
    notifier.tick(stats)
    assert pending(sock) == []  # nothing processed yet: not ready, no pings
    stats.last_capture_at_s = stats.last_result_at_s = stats.first_result_at_s = clock()
    stats.source_state = "streaming"
    notifier.tick(stats)
    first = pending(sock)
    assert first[0].startswith("READY=1")
    assert "WATCHDOG=1" in first
    notifier.tick(stats)
    assert pending(sock) == []  # the same instant: no second ping, no repeated status
    clock.advance(0.05)
    notifier.tick(stats)
    assert pending(sock) == ["WATCHDOG=1"]  # one ping per interval; READY only once
    clock.advance(0.6)  # the pipeline stops making progress
    for _ in range(5):
        notifier.tick(stats)
        clock.advance(0.06)
    stalled = pending(sock)
    assert "WATCHDOG=1" not in stalled
    assert any("STATUS=no frame captured" in m for m in stalled)
    assert sum(m.startswith("STATUS=") for m in stalled) == 1  # said once, not every tick
    notifier.stopping()
    assert pending(sock) == ["STOPPING=1\nSTATUS=stopping"]


def _render_unit(tmp_path: Path, prefix: Path) -> Path:
    unit = tmp_path / "emotion-edge.service"
    unit.write_text(UNIT.read_text().replace("@PREFIX@", str(prefix)))
    return unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_unit_verifies(tmp_path: Path):
    # ExecStart must exist for verify: point the unit at this checkout's venv
    unit = _render_unit(tmp_path, ROOT)
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "emotion-edge.service" not in proc.stderr, proc.stderr  # no warnings about our unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_unit_exposure_is_ok_or_better(tmp_path: Path):
    unit = _render_unit(tmp_path, ROOT)
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "Overall exposure level" in x)
    score = float(line.split(":")[1].split()[0])
    assert score <= 4.0, line


@pytest.mark.parametrize(
    "setting",
    [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "DevicePolicy=closed",
        "LoadCredential=mqtt_password:",
        "ExecStartPre=@PREFIX@/.venv/bin/emotion-edge check-config /etc/emotion-edge/config.yaml",
        "StartLimitBurst=",
        "StateDirectory=emotion-edge",
        "User=emotion-edge",
    ],
)
def test_unit_has_the_settings_the_service_relies_on(setting):
    assert any(line.startswith(setting) for line in UNIT.read_text().splitlines())


def setup(env: dict[str, str], option: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "setup.sh"), option],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_install_layout_in_a_staging_root(tmp_path: Path):
    dest = tmp_path / "root"
    env = {**os.environ, "DESTDIR": str(dest), "PREFIX": "/opt/emotion-edge"}
    proc = setup(env, "--install-service")
    assert proc.returncode == 0, proc.stderr
    app = dest / "opt/emotion-edge"
    for part in (
        "edge/app/cli.py",
        "setup.sh",
        "config.yaml",
        "models/face_detection_short_range.tflite",
        "systemd/emotion-edge.service",
    ):
        assert (app / part).is_file(), part
    assert not (app / ".venv").exists()  # a staging root gets no venv: it is built on the target
    unit = (dest / "etc/systemd/system/emotion-edge.service").read_text()
    assert "@PREFIX@" not in unit
    assert (
        "ExecStart=/opt/emotion-edge/.venv/bin/emotion-edge run --config /etc/emotion-edge/config.yaml"
        in unit
    )
    config = dest / "etc/emotion-edge/config.yaml"
    assert config.read_text() == (ROOT / "config.yaml").read_text()
    password = dest / "etc/emotion-edge/mqtt_password"
    assert password.stat().st_size == 0 and (password.stat().st_mode & 0o777) == 0o600
    assert "journalctl -u emotion-edge -f" in proc.stdout

    # a second install keeps an edited config and puts the new default beside it
    config.write_text(config.read_text().replace("level: INFO", "level: DEBUG"))
    proc = setup(env, "--install-service")
    assert proc.returncode == 0, proc.stderr
    assert "level: DEBUG" in config.read_text()
    assert (config.parent / "config.yaml.dist").read_text() == (ROOT / "config.yaml").read_text()

    proc = setup(env, "--uninstall-service")
    assert proc.returncode == 0, proc.stderr
    assert not app.exists()
    assert not (dest / "etc/systemd/system/emotion-edge.service").exists()
    assert config.exists()  # the user's config survives removal


def test_real_program_notifies_ready_watchdog_stall_and_stopping(
    tmp_path: Path, notify_listener, astronaut_bgr
):
    """A network camera that stops sending while its connection stays open.

    The pings stop while the read blocks (stall_after_s 1 s), resume once the read timed
    out and the camera is being reopened (a restart would not bring it back), and the
    recovery raises no false alarm.
    """
    import signal

    from tests.conftest import EMOTION_EDGE
    from tests.mjpeg_server import MjpegCamera

    path, sock = notify_listener
    config = tmp_path / "c.yaml"
    config.write_text("service:\n  stall_after_s: 1.0\nstats:\n  interval_s: 0\n")
    env = {**os.environ, "NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "400000"}
    env.pop("WATCHDOG_PID", None)
    with MjpegCamera(astronaut_bgr) as camera:
        proc = subprocess.Popen(
            [
                *EMOTION_EDGE,
                "run",
                "--config",
                str(config),
                "--source",
                camera.url,
                "--output",
                str(tmp_path / "r.jsonl"),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # ready, and pinging for over stall_after_s (a ping every 0.2 s)
            streaming = collect_until(sock, lambda m: pings_after(m, "READY=1") >= 6, 30)
            camera.hang.set()  # frames stop; the TCP connection stays open
            # the read blocks, times out after 5 s, and the camera is being reopened
            hanging = collect_until(
                sock, lambda m: pings_after(m, "STATUS=camera lost, reconnecting") >= 1, 20
            )
            camera.hang.clear()  # the camera comes back
            # running again, and pinging for over stall_after_s: time for a false alarm
            back = collect_until(sock, lambda m: pings_after(m, "STATUS=running") >= 6, 20)
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=15)
            stopping = pending(sock)  # the program has ended: all it sent is queued
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, stderr
    assert streaming[0].startswith("READY=1"), streaming[:3]
    assert streaming.count("WATCHDOG=1") >= 5
    assert any(m.startswith("STATUS=running: capture") for m in streaming)
    # stuck inside the read: the pings stop ...
    blocked = "STATUS=a camera call has blocked for over 1 s"
    stalled_at = next(i for i, m in enumerate(hanging) if m.startswith(blocked))
    reconnecting_at = next(
        i for i, m in enumerate(hanging) if m.startswith("STATUS=camera lost, reconnecting")
    )
    assert stalled_at < reconnecting_at
    assert "WATCHDOG=1" not in hanging[stalled_at:reconnecting_at], hanging
    # ... and resume once the read timed out and the camera is being reopened
    assert "WATCHDOG=1" in hanging[reconnecting_at:], hanging
    assert any(m.startswith("STATUS=running: capture") for m in back), back
    assert "WATCHDOG=1" in back
    assert "watchdog not fed: a camera call has blocked" in stderr
    assert "watchdog not fed: no frame processed" not in stderr  # no false alarm on recovery
    assert any(m.startswith("STOPPING=1") for m in stopping + back)


def test_logs_under_the_journal_carry_priorities_and_no_timestamps(tmp_path: Path, photo_files):
    from tests.conftest import EMOTION_EDGE

    log_file = tmp_path / "stderr.log"
    with log_file.open("w") as stderr:
        info = os.fstat(stderr.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        proc = subprocess.run(
            [*EMOTION_EDGE, "run", "--source", str(photo_files["one"])],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0
    lines = [line for line in log_file.read_text().splitlines() if line.startswith("<")]
    assert any(line.startswith("<6>edge.app.run: running: images") for line in lines), lines

    # the same run on a terminal gets timestamps and level names instead
    proc = subprocess.run(
        [*EMOTION_EDGE, "run", "--source", str(photo_files["one"])],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert " INFO edge.app.run: running: images" in proc.stderr
    assert "<6>" not in proc.stderr


def test_jetson_gets_a_drop_in_for_the_csi_camera(tmp_path: Path):
    dest = tmp_path / "root"
    (dest / "etc").mkdir(parents=True)
    (dest / "etc/nv_tegra_release").write_text("# R36 (release), REVISION: 4.0\n")
    env = {**os.environ, "DESTDIR": str(dest), "PREFIX": "/opt/emotion-edge"}
    proc = setup(env, "--install-service")
    assert proc.returncode == 0, proc.stderr
    dropin = dest / "etc/systemd/system/emotion-edge.service.d/jetson.conf"
    lines = dropin.read_text().splitlines()
    for setting in ("PrivateTmp=no", "DeviceAllow=", "DevicePolicy=auto"):
        assert setting in lines, setting
    if shutil.which("systemd-analyze"):
        # the unit with its drop-in, as systemd would load it
        unit = _render_unit(tmp_path, ROOT)
        (tmp_path / "emotion-edge.service.d").mkdir()
        shutil.copy(dropin, tmp_path / "emotion-edge.service.d/jetson.conf")
        verify = subprocess.run(
            ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
        )
        assert verify.returncode == 0 and "jetson.conf" not in verify.stderr, verify.stderr
    assert setup(env, "--uninstall-service").returncode == 0
    assert not dropin.exists()


def test_a_pc_gets_no_jetson_drop_in(tmp_path: Path):
    dest = tmp_path / "root"
    env = {**os.environ, "DESTDIR": str(dest), "PREFIX": "/opt/emotion-edge"}
    if Path("/etc/nv_tegra_release").exists():
        pytest.skip("this machine is a Jetson")
    assert setup(env, "--install-service").returncode == 0
    assert not (dest / "etc/systemd/system/emotion-edge.service.d").exists()


def test_a_reader_that_stopped_reading_costs_dropped_notifications_not_a_hang(notify_listener):
    # the queue of a datagram socket holds 10 messages (net.unix.max_dgram_qlen); a sender
    # without a timeout would block on the 11th until someone reads, and with it the main
    # thread that must carry out a stop
    path, _never_read = notify_listener
    notify = NotifySocket(str(path))
    results: list[bool] = []
    sender = threading.Thread(
        target=lambda: results.extend(notify.send(f"STATUS={i}") for i in range(14)),
        daemon=True,
    )
    sender.start()
    sender.join(14 * SEND_TIMEOUT_S + 5)
    assert not sender.is_alive(), "a notification blocked the sender"
    assert results[:10] == [True] * 10 and results[-2:] == [False, False], results
    notify.close()


def test_a_service_started_paused_is_ready_once_frames_come(notify_listener):
    # the pause is kept across restarts: waiting for a processed frame would fail the start
    path, sock = notify_listener
    paused = [True]
    clock = FakeClock()
    notifier = ServiceNotifier(
        stall_after_s=0.5, sock=NotifySocket(str(path)), clock=clock, paused=lambda: paused[0]
    )
    stats = PipelineStats()
    notifier.tick(stats)
    assert pending(sock) == []  # no frame yet: not ready
    stats.last_capture_at_s, stats.source_state = clock(), "streaming"
    notifier.tick(stats)
    assert pending(sock)[0] == "READY=1\nSTATUS=paused, first frame captured"
