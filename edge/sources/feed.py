"""Frames from a source whatever happens to it: open, reopen with backoff, pace files.

`ReconnectingSource` is the capture policy the pipeline's capture thread runs, kept
synchronous so that tests drive it with a fake source and a fake clock: every wait goes
through the `wait` callable (the pipeline passes `stop.wait`, which returns True once the
run is stopping).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from edge.sources.base import Source, SourceUnavailable, shrunk_to
from edge.types import SourceState

if TYPE_CHECKING:
    from edge.config import SourceConfig

log = logging.getLogger(__name__)

# Images of a folder are unrelated moments: an hour of media time apart, so nothing
# remembered about one face (smoothing, reuse) carries over to the next image.
IMAGE_GAP_S = 3600.0 * 3


class Backoff:
    """Reconnect delays: initial, doubling, capped; reset after a success."""

    def __init__(self, initial_s: float, max_s: float) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self._next_s = initial_s

    def next_delay_s(self) -> float:
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self.max_s)
        return delay

    def reset(self) -> None:
        self._next_s = self.initial_s


class Pacer:
    """Tells how long to wait so that frame n is released at start + n / fps."""

    def __init__(self, fps: float) -> None:
        self.period_s = 1.0 / fps
        self._start_s: float | None = None
        self._count = 0

    def delay_s(self, now_s: float) -> float:
        if self._start_s is None:
            self._start_s = now_s
        due = self._start_s + self._count * self.period_s
        self._count += 1
        if now_s - due > 1.0:  # fell far behind (a stall): restart the clock, no burst
            self._start_s, self._count = now_s, 1
            return 0.0
        return max(0.0, due - now_s)


@dataclass(frozen=True)
class FeedPolicy:
    """How a source is played and brought back: the capture half of `source:`."""

    realtime: bool = True  # pace files to their frame rate (else as fast as taken)
    reconnect_initial_s: float = 1.0
    reconnect_max_s: float = 30.0
    max_pixels: int = 3840 * 2160  # larger frames are downscaled once, at capture

    @classmethod
    def from_config(cls, cfg: SourceConfig) -> FeedPolicy:
        return cls(cfg.realtime, cfg.reconnect_initial_s, cfg.reconnect_max_s, cfg.max_pixels)


class SourceWatch(Protocol):
    """Where the feed reports what the watchdog and the stats need (PipelineStats)."""

    def camera_call(self, active: bool) -> None: ...

    def set_source_state(self, state: SourceState) -> None: ...


class _NoWatch:
    def camera_call(self, active: bool) -> None:
        pass

    def set_source_state(self, state: SourceState) -> None:
        pass


class ReconnectingSource:
    """Reads frames from `source`; a live source that fails is reopened with backoff."""

    def __init__(
        self,
        source: Source,
        policy: FeedPolicy,
        *,
        wait: Callable[[float], bool],
        watch: SourceWatch | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.policy = policy
        self.description = source.description
        self.lossless = False  # True: the frame must be taken before the next is read
        self._wait, self._clock = wait, clock
        self._watch = watch or _NoWatch()
        self._backoff = Backoff(policy.reconnect_initial_s, policy.reconnect_max_s)
        self._pacer: Pacer | None = None
        self._is_open = self._delivered = False
        self._lost_since_s: float | None = None
        self._frames_read = 0
        self.media_time_s: float | None = None  # of the last frame: its time in the file
        self.downscaled = 0  # frames over policy.max_pixels, made smaller

    def read(self) -> np.ndarray | None:
        """The next frame; None when a wait was cut short by a stop.

        Raises EndOfStream when a finite source is done; errors a reopen cannot fix
        (SourceError, a bug) propagate.
        """
        while True:
            try:
                if not self._is_open:
                    self._open()
                if self._pacer is not None and self._wait(self._pacer.delay_s(self._clock())):
                    return None
                self._watch.camera_call(True)
                image = self.source.read()
            except SourceUnavailable as exc:
                self._watch.camera_call(False)
                if self._lost(exc):
                    return None
                continue
            finally:
                self._watch.camera_call(False)
            if not self._delivered:
                self._came_through()
            self._frames_read += 1
            self.media_time_s = self._media_time_s()
            return self._bounded(image)

    def _bounded(self, image: np.ndarray) -> np.ndarray:
        shrunk = shrunk_to(image, self.policy.max_pixels)
        if shrunk is not image:
            said, self.downscaled = self.downscaled, self.downscaled + 1
            (log.debug if said else log.info)(  # once a run: not a line per frame
                "%s: a %dx%d frame is over source.max_pixels (%d): downscaled to %dx%d",
                self.description,
                image.shape[1],
                image.shape[0],
                self.policy.max_pixels,
                shrunk.shape[1],
                shrunk.shape[0],
            )
        return shrunk

    def _media_time_s(self) -> float | None:
        """Where the last frame sits in its file: a file's answers then do not depend on how
        fast the machine played it. None for a live source (its clock is the real one)."""
        source = self.source
        if source.live or not source.plays_file:
            return None
        if source.nominal_fps:
            return (self._frames_read - 1) / source.nominal_fps
        return (self._frames_read - 1) * IMAGE_GAP_S

    def close(self) -> None:
        self._watch.camera_call(False)
        self.source.close()
        self._is_open = False
        self._watch.set_source_state("ended")

    def _open(self) -> None:
        self._watch.camera_call(True)
        self.source.open()
        self._is_open, self._delivered = True, False
        fps = self.source.nominal_fps if self.policy.realtime and self.source.plays_file else None
        self._pacer = Pacer(fps) if fps else None
        # a finite source played unpaced loses nothing: capture waits for analysis instead
        self.lossless = not self.source.live and self._pacer is None

    def _came_through(self) -> None:
        # an open counts once a frame came through: a GStreamer child or a stream that
        # fails at once must make the backoff grow
        self._delivered = True
        self._backoff.reset()
        if self._lost_since_s is not None:
            log.info(
                "%s is back after %.1f s", self.description, self._clock() - self._lost_since_s
            )
            self._lost_since_s = None

    def _lost(self, exc: SourceUnavailable) -> bool:
        """Close, say so once, wait the backoff delay; True when the wait was stopped."""
        self.source.close()
        self._is_open = False
        delay = self._backoff.next_delay_s()
        if self._lost_since_s is None:
            self._lost_since_s = self._clock()
            log.warning(
                "%s: %s; reopening with backoff (%g s, doubling to %g s)",
                self.description,
                exc,
                delay,
                self.policy.reconnect_max_s,
            )
        else:
            log.debug("%s still unavailable; next try in %.1f s", self.description, delay)
        self._watch.set_source_state("reconnecting")
        return self._wait(delay)
