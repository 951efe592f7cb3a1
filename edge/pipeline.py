"""The only module with threads: capture → latest-frame slot → analysis → sinks.

Capture never waits for analysis on a live source: a newer frame replaces an
untaken one and the drop is counted. Files played unpaced and image folders
are lossless instead: the capture thread waits (in short, stop-aware steps)
until the frame was taken, so every frame is processed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from edge.analyze import FrameAnalyzer
from edge.capture import Backoff, EndOfStream, Pacer, Source, SourceUnavailable
from edge.config import SourceConfig
from edge.errors import first_line
from edge.sinks import Sink
from edge.stats import PipelineStats
from edge.types import Frame, Result

log = logging.getLogger(__name__)

POLL_S = 0.1  # upper bound of every wait inside the threads
# all threads together, so that a stop (Ctrl-C, SIGTERM) ends the run within 2 s even while
# the capture thread sits in a blocking call OpenCV cannot interrupt (FFmpeg's stream open
# and read wait up to capture.STREAM_TIMEOUT_MS); such a thread is reported in `stuck`
JOIN_TIMEOUT_S = 1.5
T = TypeVar("T")


class FrameSlot:
    """Latest-frame slot: one taker (analysis) and any number of peekers (a display)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._seq = 0
        self._taken_seq = 0
        self._closed = False

    def publish(self, frame: Frame, wait_taken: bool, stop: threading.Event) -> bool:
        """Store `frame`; True when it replaced one that was never taken (a drop)."""
        with self._cond:
            while wait_taken and self._taken_seq < self._seq and not stop.is_set():
                self._cond.wait(POLL_S)
            dropped = self._taken_seq < self._seq
            self._frame, self._seq = frame, self._seq + 1
            self._cond.notify_all()
            return dropped

    def take(self, timeout_s: float) -> Frame | None:
        with self._cond:
            self._cond.wait_for(lambda: self._seq > self._taken_seq or self._closed, timeout_s)
            if self._seq == self._taken_seq:
                return None
            self._taken_seq = self._seq
            self._cond.notify_all()
            return self._frame

    def peek_newer(self, seen_seq: int, timeout_s: float) -> tuple[Frame | None, int]:
        """The newest frame if it is newer than `seen_seq`, for readers that must not take."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > seen_seq or self._closed, timeout_s)
            return (self._frame, self._seq) if self._seq > seen_seq else (None, seen_seq)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def drained(self) -> bool:
        with self._cond:
            return self._closed and self._seq == self._taken_seq


class LatestValue(Generic[T]):
    """A value written by one thread and read by others, under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: T | None = None

    def set(self, value: T) -> None:
        with self._lock:
            self._value = value

    def get(self) -> T | None:
        with self._lock:
            return self._value


class Viewer(Protocol):
    """Sees every captured frame with the newest result (a display, a web stream)."""

    def show(self, frame: Frame, result: Result | None) -> None: ...

    def close(self) -> None: ...


class Supervisor(Protocol):
    """Watches the run from the caller's thread (the systemd notifier)."""

    def tick(self, stats: PipelineStats) -> None: ...

    def stopping(self) -> None: ...


class Pipeline:
    def __init__(
        self,
        source: Source,
        analyzer: FrameAnalyzer,
        sinks: Sequence[Sink],
        source_cfg: SourceConfig,
        stop: threading.Event,
        stats: PipelineStats | None = None,
        max_frames: int | None = None,
        viewers: Sequence[Viewer] = (),
        supervisor: Supervisor | None = None,
    ) -> None:
        self.source = source
        self.viewers = list(viewers)
        self.supervisor = supervisor
        self.analyzer = analyzer
        self.sinks = list(sinks)
        self.source_cfg = source_cfg
        self.stop = stop
        self.stats = stats or PipelineStats()
        self.max_frames = max_frames
        self.frames = FrameSlot()
        self.latest_result: LatestValue[Result] = LatestValue()
        self.failure: BaseException | None = None
        self.stuck: tuple[str, ...] = ()  # threads still running when run() returned
        self.sink_failures: dict[str, int] = {}  # results an output raised on, by output

    # -- capture thread -------------------------------------------------------------
    def _capture_loop(self) -> None:
        source, cfg, stop = self.source, self.source_cfg, self.stop
        backoff = Backoff(cfg.reconnect_initial_s, cfg.reconnect_max_s)
        pacer: Pacer | None = None
        is_open, delivered, lossless, lost_since, index = False, False, False, 0.0, 0
        try:
            while not stop.is_set():
                try:
                    if not is_open:
                        self.stats.camera_call(True)
                        source.open()
                        is_open, delivered = True, False
                        fps = source.nominal_fps if cfg.realtime and source.plays_file else None
                        pacer = Pacer(fps) if fps else None
                        # a finite source played unpaced loses nothing: capture waits instead
                        lossless = not source.live and pacer is None
                    if pacer is not None:
                        stop.wait(pacer.delay_s(time.monotonic()))
                    self.stats.camera_call(True)
                    image = source.read()
                    self.stats.camera_call(False)
                    if not delivered:
                        # an open counts once a frame came through: a GStreamer child or a
                        # stream that fails at once must make the backoff grow
                        delivered = True
                        backoff.reset()
                        if lost_since:
                            log.info(
                                "%s is back after %.1f s",
                                source.description,
                                time.monotonic() - lost_since,
                            )
                            lost_since = 0.0
                except EndOfStream:
                    self.stats.camera_call(False)
                    break
                except SourceUnavailable as exc:
                    self.stats.camera_call(False)
                    source.close()
                    is_open = False
                    delay = backoff.next_delay_s()
                    if not lost_since:
                        lost_since = time.monotonic()
                        log.warning(
                            "%s: %s; reopening with backoff (%g s, doubling to %g s)",
                            source.description,
                            exc,
                            delay,
                            cfg.reconnect_max_s,
                        )
                    else:
                        log.debug(
                            "%s still unavailable; next try in %.1f s", source.description, delay
                        )
                    self.stats.set_source_state("reconnecting")
                    stop.wait(delay)
                    continue
                frame = Frame(
                    index=index,
                    image_bgr=image,
                    captured_at_s=time.monotonic(),
                    wall_time_s=time.time(),
                    source_file=getattr(source, "current_file", None),
                )
                index += 1
                dropped = self.frames.publish(frame, wait_taken=lossless, stop=stop)
                self.stats.captured(dropped)
        except BaseException as exc:  # reported by the supervisor, never lost in a thread
            self.failure = self.failure or exc
            stop.set()
        finally:
            self.stats.camera_call(False)
            source.close()
            self.stats.set_source_state("ended")
            self.frames.close()

    # -- analysis thread ------------------------------------------------------------
    def _process_loop(self) -> None:
        try:
            while not self.stop.is_set():
                frame = self.frames.take(POLL_S)
                if frame is None:
                    if self.frames.drained:
                        return
                    continue
                result = self.analyzer.analyze(frame)
                self.stats.processed(result)
                self.latest_result.set(result)
                for sink in self.sinks:
                    self._emit(sink, result)
                if self.max_frames and self.stats.frames_processed >= self.max_frames:
                    return
        except BaseException as exc:
            self.failure = self.failure or exc
        finally:
            self.stop.set()  # analysis is over, for whatever reason: so is the run, at once

    def _emit(self, sink: Sink, result: Result) -> None:
        """One output that fails must not stop the others: said once, then counted."""
        try:
            sink.emit(result)
        except Exception as exc:
            name = getattr(sink, "description", type(sink).__name__)
            failures = self.sink_failures.get(name, 0) + 1
            self.sink_failures[name] = failures
            if failures == 1:
                log.error("output %s failed (%s); going on without it", name, first_line(exc))

    # -- viewer thread: every captured frame, at the camera's rate ---------------------
    def _view_loop(self) -> None:
        seen = 0
        try:
            while not self.stop.is_set():
                frame, seen = self.frames.peek_newer(seen, POLL_S)
                if frame is None:
                    if self.frames.drained:
                        return
                    continue
                result = self.latest_result.get()
                for viewer in self.viewers:
                    viewer.show(frame, result)
        except BaseException as exc:
            self.failure = self.failure or exc
            self.stop.set()

    # -- supervisor (caller's thread) -----------------------------------------------
    def run(self, stats_interval_s: float = 0.0) -> None:
        """Run until the source ends, `max_frames` are done or `stop` is set.

        On return both threads have stopped; the stages stay open for their owner to close.
        """
        threads = [
            threading.Thread(target=self._capture_loop, name="capture", daemon=True),
            threading.Thread(target=self._process_loop, name="analysis", daemon=True),
        ]
        if self.viewers:
            threads.append(threading.Thread(target=self._view_loop, name="viewer", daemon=True))
        for thread in threads:
            thread.start()
        next_stats_s = time.monotonic() + stats_interval_s
        try:
            while not self.stop.is_set() and threads[1].is_alive():
                self.stop.wait(POLL_S)
                if self.supervisor is not None:
                    self.supervisor.tick(self.stats)
                if stats_interval_s and time.monotonic() >= next_stats_s:
                    next_stats_s += stats_interval_s
                    log_stats(self.stats)
        finally:
            self.stop.set()
            if self.supervisor is not None:
                self.supervisor.stopping()
            deadline = time.monotonic() + JOIN_TIMEOUT_S
            for thread in reversed(threads):  # shutdown joins in reverse order of start
                thread.join(max(0.0, deadline - time.monotonic()))
            self.stuck = tuple(thread.name for thread in threads if thread.is_alive())
            if self.stuck:
                log.info(
                    "%s thread still in a blocking call after %.1f s (a stalled stream?); "
                    "not waiting for it",
                    ", ".join(self.stuck),
                    JOIN_TIMEOUT_S,
                )
        if self.failure is not None:
            raise self.failure


def log_stats(stats: PipelineStats) -> None:
    snap = stats.snapshot()
    log.info(
        "capture %.1f fps, processed %.1f fps, inference %.1f ms, dropped %d of %d, source %s",
        snap.capture_fps,
        snap.processed_fps,
        snap.inference_ms_mean,
        snap.frames_dropped,
        snap.frames_captured,
        snap.source_state,
    )
