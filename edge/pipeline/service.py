"""systemd's notify protocol, and a watchdog that is fed only while frames make progress.

READY=1 is sent once the first frame has gone through the model; STATUS= says what is
going on. WATCHDOG=1 is sent while the process makes progress: frames are captured and
processed, or a lost camera is being reopened (each attempt ends within its timeout;
restarting the service would not bring a remote camera back). The pings stop when the
process itself is stuck, which a restart can cure: a camera call that has blocked for
longer than stall_after_s (a wedged driver), or frames that stop being processed.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.pipeline.stats import PipelineStats

log = logging.getLogger(__name__)

STATUS_EVERY_S = 5.0


SEND_TIMEOUT_S = 0.5


class NotifySocket:
    """A datagram socket to $NOTIFY_SOCKET; does nothing when systemd did not set one."""

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        self._address: str | None = None
        self._sock: socket.socket | None = None
        if not address:
            return
        if address.startswith("@"):  # abstract namespace socket
            address = "\0" + address[1:]
        self._address = address
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        # a datagram to a reader that stopped reading blocks once its queue is full (10 by
        # default): a notification is then dropped, never the main thread's stop held up
        self._sock.settimeout(SEND_TIMEOUT_S)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, *lines: str) -> bool:
        if self._sock is None or self._address is None:
            return False
        try:
            self._sock.sendto("\n".join(lines).encode(), self._address)
        except OSError as exc:  # systemd gone or socket full: never fatal to the pipeline
            log.debug("sd_notify failed: %s", exc)
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval_s() -> float | None:
    """Half of WatchdogSec= (from $WATCHDOG_USEC), when the watchdog is meant for us."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(0.05, int(usec) / 1e6 / 2)
    except ValueError:
        return None


@dataclass(frozen=True)
class Progress:
    healthy: bool
    state: str


def judge_progress(
    stats: PipelineStats, now_s: float, stall_after_s: float, paused: bool = False
) -> Progress:
    """Healthy when frames were captured and processed recently (captured alone while paused:
    nothing is processed then), or the camera is reconnecting."""
    blocked_since = stats.camera_call_since_s
    if blocked_since is not None and now_s - blocked_since > stall_after_s:
        return Progress(False, f"a camera call has blocked for over {stall_after_s:g} s")
    if stats.source_state == "reconnecting":
        return Progress(True, "camera lost, reconnecting")
    if stats.source_state == "ended":
        return Progress(True, "source ended, finishing")
    last_capture, last_result = stats.last_capture_at_s, stats.last_result_at_s
    if last_capture is None or now_s - last_capture > stall_after_s:
        return Progress(False, f"no frame captured for {stall_after_s:g} s")
    if paused:
        return Progress(True, "paused")
    # after a reconnect, the wait for a result starts again with the first new frame
    since = max(last_result or 0.0, stats.streaming_since_s or 0.0)
    if last_result is None or now_s - since > stall_after_s:
        return Progress(False, f"no frame processed for {stall_after_s:g} s")
    return Progress(True, "running")


class ServiceNotifier:
    """Called by the pipeline supervisor on every tick; rate-limits what it sends.

    `clock` is the monotonic clock the stats are stamped with (tests pass a fake one).
    """

    description = "systemd notifier"

    def __init__(
        self,
        stall_after_s: float,
        sock: NotifySocket | None = None,
        clock: Callable[[], float] = time.monotonic,
        paused: Callable[[], bool] = lambda: False,
    ) -> None:
        self.sock = sock or NotifySocket()
        self._paused = paused
        self.stall_after_s = stall_after_s
        self._clock = clock
        self.watchdog_every_s = watchdog_interval_s()
        self.ready_sent = False
        self._next_watchdog_s = 0.0
        self._next_status_s = 0.0
        self._last_state = ""

    def tick(self, stats: PipelineStats) -> None:
        if not self.sock.enabled:
            return
        now = self._clock()
        progress = judge_progress(stats, now, self.stall_after_s, self._paused())
        if not self.ready_sent and stats.first_result_at_s is not None:
            self.ready_sent = self.sock.send("READY=1", "STATUS=first frame processed")
        elif not self.ready_sent and self._paused() and stats.last_capture_at_s is not None:
            # started paused (kept from the last run): no frame will be processed until
            # resumed, and systemd must not take the wait for a failed start
            self.ready_sent = self.sock.send("READY=1", "STATUS=paused, first frame captured")
        if not self.ready_sent:
            return
        if progress.state != self._last_state or now >= self._next_status_s:
            snap = stats.snapshot()
            self.sock.send(
                f"STATUS={progress.state}: capture {snap.capture_fps:.1f} fps, processed "
                f"{snap.processed_fps:.1f} fps, inference {snap.inference_ms_mean:.0f} ms, "
                f"dropped {snap.frames_dropped}"
            )
            if progress.state != self._last_state and not progress.healthy:
                log.warning("watchdog not fed: %s", progress.state)
            self._last_state = progress.state
            self._next_status_s = now + STATUS_EVERY_S
        # after the status, so that a reader sees why the pings stop or start again
        if self.watchdog_every_s and progress.healthy and now >= self._next_watchdog_s:
            self.sock.send("WATCHDOG=1")
            self._next_watchdog_s = now + self.watchdog_every_s

    def stopping(self) -> None:
        self.sock.send("STOPPING=1", "STATUS=stopping")
        self.sock.close()
