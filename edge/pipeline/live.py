"""The one live state the run shares: the newest frame and the newest result.

The pipeline's capture thread publishes frames, its analysis thread takes them and
stores results; viewers and the web view's client threads only read. It is the single
place where those threads meet, so everything in it is under one condition variable.
"""

from __future__ import annotations

import threading

from edge.types import Frame, Result

POLL_S = 0.1  # the longest a lossless publish waits before looking at the stop event again


class LiveState:
    """Latest-frame slot with the newest result: one taker (analysis), any number of readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._result: Result | None = None
        self._seq = 0
        self._taken_seq = 0
        self._closed = False
        self._paused = False

    def publish(self, frame: Frame, wait_taken: bool, stop: threading.Event) -> bool:
        """Store `frame`; True when it replaced one that was never taken (a drop).

        While paused the frame is let go at once: nothing analyses or shows it.
        """
        with self._cond:
            if self._paused:
                return False
            while wait_taken and self._taken_seq < self._seq and not stop.is_set():
                self._cond.wait(POLL_S)
            dropped = self._taken_seq < self._seq
            self._frame, self._seq = frame, self._seq + 1
            self._cond.notify_all()
            return dropped

    def take(self, timeout_s: float) -> Frame | None:
        """The newest frame not taken yet, waiting up to `timeout_s`; None if there is none."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > self._taken_seq or self._closed, timeout_s)
            if self._seq == self._taken_seq:
                return None
            self._taken_seq = self._seq
            self._cond.notify_all()
            return self._frame

    def set_result(self, result: Result) -> None:
        with self._cond:
            self._result = result

    def latest(self) -> tuple[Frame | None, Result | None]:
        with self._cond:
            return self._frame, self._result

    def newer_than(
        self, seen_seq: int, timeout_s: float
    ) -> tuple[Frame | None, Result | None, int]:
        """The newest frame if newer than `seen_seq` (else None), the newest result, the seq."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > seen_seq or self._closed, timeout_s)
            if self._seq > seen_seq:
                return self._frame, self._result, self._seq
            return None, self._result, seen_seq

    def set_paused(self, paused: bool) -> None:
        """Pause (privacy): from now on no frame reaches analysis, screens or the web view,
        and what was shown before is let go too."""
        with self._cond:
            self._paused = paused
            if paused:
                self._frame = self._result = None
                self._taken_seq = self._seq
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    def close(self) -> None:
        """No more frames will come: waiting readers return at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    @property
    def drained(self) -> bool:
        with self._cond:
            return self._closed and self._seq == self._taken_seq
