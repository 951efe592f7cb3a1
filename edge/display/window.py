"""A desktop window (X11, or Wayland through XWayland), drawn with Tk. q or Esc stops.

The window lives in a child process (edge/display/tkwindow.py): when the X server goes
away (logout, a display manager restarting), Xlib ends the process holding the connection
from C, and no exception reaches Python. Here that costs the window and one warning line;
the run goes on headless, its outputs and summary intact.

Frames go to the child through a memory file (memfd) plus one short line on its stdin;
the run never waits for it: while the child has not drawn the previous frame, a new one
is dropped (the display shows the newest it can). The child answers on its stdout
(`shown`, `quit` for the keys), and its stderr gives the reason if it dies.

Stop budget: the start waits at most STARTUP_TIMEOUT_S for the child's first window;
close() waits CLOSE_TIMEOUT_S for it to exit, then kills it and waits KILL_WAIT_S, so it
never hangs and leaves no process behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge.display.common import DisplayUnavailable, has_desktop
from edge.display.lines import LineReader
from edge.display.tkwindow import NO_TKINTER

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 15.0  # the child's imports and first window: ~0.5 s on a PC
CLOSE_TIMEOUT_S = 1.0  # a window asked to close is gone in a few ms
KILL_WAIT_S = 1.0
REASON_CHARS = 200  # of the child's last stderr line, in the warning
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # where `edge` is imported from


def _check_tkinter() -> None:
    try:
        import tkinter  # noqa: F401  (only whether it is there: the child uses it)
    except ImportError:
        raise DisplayUnavailable(f"window: {NO_TKINTER}") from None


def _start_child(fullscreen: bool, frames_fd: int) -> subprocess.Popen[bytes]:
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_ROOT, path]))}
    command = [sys.executable, "-m", "edge.display.tkwindow", str(frames_fd)]
    return subprocess.Popen(
        [*command, *(["--fullscreen"] if fullscreen else [])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(frames_fd,),
        env=env,
        start_new_session=True,  # Ctrl-C in the terminal is the run's to handle, not the window's
    )


def exit_description(code: int | None) -> str:
    if code is None:
        return "the window process stopped answering"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


class WindowDisplay:
    def __init__(self, fullscreen: bool, on_quit: Callable[[], None]) -> None:
        if not has_desktop():
            raise DisplayUnavailable(
                "window: no desktop here (DISPLAY and WAYLAND_DISPLAY are "
                "unset); use display.backend: framebuffer on a console"
            )
        _check_tkinter()
        self.fullscreen = fullscreen
        self.on_quit = on_quit
        self.description = "window" + (" (full screen)" if fullscreen else "")
        self.frames_shown = 0  # drawn by the child
        self.frames_dropped = 0  # not sent: the child had not drawn the previous one yet
        self.lost: str | None = None  # why the window went away mid-run, once it did
        self._lock = threading.Lock()  # show_image and close never overlap
        self._busy = False  # a frame was sent and not drawn yet
        self._frames = os.memfd_create("emotion-edge-window")
        try:
            self._proc: subprocess.Popen[bytes] | None = _start_child(fullscreen, self._frames)
        except OSError as exc:
            os.close(self._frames)
            raise DisplayUnavailable(f"window: cannot start its process ({exc})") from None
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._replies = LineReader(self._proc.stdout.fileno())
        self._errors = LineReader(self._proc.stderr.fileno())
        self._last_error = ""
        try:
            self._wait_ready()
        except BaseException:
            self._end_child()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._replies.ended and time.monotonic() < deadline:
            self._note_errors()
            for line in self._replies.read(min(0.1, deadline - time.monotonic())):
                if line == "ready":
                    return
                if line.startswith("error "):
                    raise DisplayUnavailable(f"window: {line.removeprefix('error ')}")
        if self._replies.ended:
            raise DisplayUnavailable(f"window: cannot open a window ({self._reason()})")
        raise DisplayUnavailable(
            f"window: no window after {STARTUP_TIMEOUT_S:.0f} s (is the X server answering?); "
            "use display.backend: none or the web view"
        )

    def show_image(self, image_bgr: np.ndarray) -> None:
        with self._lock:
            if self._proc is None:
                return  # closed, or the window went away: headless from now on
            quits = self._take_replies()
            if self._proc is not None:
                self._send(image_bgr)
        for _ in range(quits):
            self.on_quit()

    def _take_replies(self) -> int:
        """Read what the child said: frames drawn, quit keys; notice its end. Quits seen."""
        quits = 0
        self._note_errors()
        for line in self._replies.read(0.0):
            if line == "shown":
                self._busy = False
                self.frames_shown += 1
            elif line == "quit":
                quits += 1
        assert self._proc is not None
        if self._replies.ended or self._proc.poll() is not None:
            self._went_away()
        return quits

    def _send(self, image_bgr: np.ndarray) -> None:
        if self._busy:
            self.frames_dropped += 1
            return
        assert self._proc is not None and self._proc.stdin is not None
        height, width = image_bgr.shape[:2]
        pixels = np.ascontiguousarray(image_bgr, np.uint8)
        try:
            if os.pwrite(self._frames, pixels.data, 0) != pixels.nbytes:
                raise OSError("the frame did not fit in memory")
            os.write(self._proc.stdin.fileno(), f"frame {width} {height}\n".encode())
        except OSError as exc:  # BrokenPipeError: the child is gone
            self._last_error = self._last_error or str(exc)
            self._went_away()
            return
        self._busy = True

    def _went_away(self) -> None:
        """The child died or stopped listening: one line, then headless."""
        self.lost = self._reason()
        log.warning("window: the display went away (%s); going on without a display", self.lost)
        self._end_child()

    def _note_errors(self) -> None:
        with contextlib.suppress(OSError):
            self._keep_last(self._errors.read(0.0))

    def _keep_last(self, lines: list[str]) -> None:
        """The child's last message; an indented line continues the one before (Xlib's)."""
        for line in lines:
            text = " ".join(line.split())
            if not text:
                continue
            if line[:1].isspace() and self._last_error:
                text = f"{self._last_error} {text}"
            self._last_error = text[:REASON_CHARS]

    def _reason(self) -> str:
        """The child's last stderr line and how it ended, once it has."""
        assert self._proc is not None
        code = self._wait(self._proc, CLOSE_TIMEOUT_S)
        with contextlib.suppress(OSError):
            self._keep_last(self._errors.drain())
        return ", ".join(filter(None, [self._last_error.rstrip("."), exit_description(code)]))

    @staticmethod
    def _wait(proc: subprocess.Popen[bytes], timeout_s: float) -> int | None:
        try:
            return proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def _end_child(self) -> None:
        """Ask the child to close, kill it if it does not, reap it; close our ends."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                os.write(proc.stdin.fileno(), b"close\n")
            if self._wait(proc, CLOSE_TIMEOUT_S) is None:
                proc.kill()
                if self._wait(proc, KILL_WAIT_S) is None:
                    log.warning("window: process %d does not end after SIGKILL", proc.pid)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        frames, self._frames = self._frames, -1
        if frames >= 0:
            os.close(frames)

    def close(self) -> None:
        with self._lock:
            self._end_child()
