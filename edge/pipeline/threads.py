"""The run's threads: capture → live state → analysis → sinks, and a viewer thread.

Capture never waits for analysis on a live source: a newer frame replaces an
untaken one and the drop is counted. Files played unpaced and image folders
are lossless instead: the capture thread waits (in short, stop-aware steps)
until the frame was taken, so every frame is processed.

This is the only module of ours that starts threads. Two libraries start their own:
the web view's HTTP server (`http.server`, a thread per client, bounded in
edge/web/server.py), which only reads the LiveState and the stats, and paho-mqtt's
network loop, which only sends what the MQTT sink hands it.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from edge.analysis.analyzer import FrameAnalyzer
from edge.errors import first_line
from edge.pipeline.live import LiveState
from edge.pipeline.stats import PipelineStats
from edge.sinks import Sink
from edge.sources import EndOfStream, FeedPolicy, ReconnectingSource, Source
from edge.types import Frame, Result

log = logging.getLogger(__name__)

POLL_S = 0.1  # upper bound of every wait inside the threads
# all threads together, so that a stop (Ctrl-C, SIGTERM) ends the run within 2 s even while
# the capture thread sits in a blocking call OpenCV cannot interrupt (FFmpeg's stream open
# and read wait up to sources.opencv.STREAM_TIMEOUT_MS, a GStreamer read up to
# sources.gstreamer.READ_TIMEOUT_S); such a thread is reported in `stuck`
JOIN_TIMEOUT_S = 1.5


class Viewer(Protocol):
    """Sees every captured frame with the newest result (a display)."""

    description: str

    def show(self, frame: Frame, result: Result | None) -> None: ...

    def show_paused(self) -> None: ...  # the pause switch is on: no frame comes

    def close(self) -> None: ...


class Supervisor(Protocol):
    """Watches the run from the caller's thread (the systemd notifier, MQTT's timers)."""

    description: str

    def tick(self, stats: PipelineStats) -> None: ...

    def stopping(self) -> None: ...


class Pipeline:
    """Runs a source through the analyzer into the sinks on two threads (three with viewers).

    The stages come opened and stay open: their owner closes them after `run()`.
    """

    def __init__(
        self,
        source: Source,
        analyzer: FrameAnalyzer,
        sinks: Sequence[Sink],
        *,
        stop: threading.Event,
        policy: FeedPolicy | None = None,
        stats: PipelineStats | None = None,
        max_frames: int | None = None,
        viewers: Sequence[Viewer] = (),
        supervisors: Sequence[Supervisor] = (),
        live: LiveState | None = None,
    ) -> None:
        self.stop = stop
        self.stats = stats or PipelineStats()
        self.feed = ReconnectingSource(
            source, policy or FeedPolicy(), wait=stop.wait, watch=self.stats
        )
        self.analyzer = analyzer
        self.sinks = list(sinks)
        self.viewers = list(viewers)
        self.supervisors = list(supervisors)
        self.max_frames = max_frames
        self.live = live or LiveState()
        self.failure: BaseException | None = None
        self.stuck: tuple[str, ...] = ()  # threads still running when run() returned
        self.output_failures: dict[str, int] = {}  # calls a sink or supervisor raised on, by name

    # -- capture thread -------------------------------------------------------------
    def _capture_loop(self) -> None:
        feed, stop = self.feed, self.stop
        index = 0
        try:
            while not stop.is_set():
                try:
                    image = feed.read()
                except EndOfStream:
                    break
                if image is None:  # stopped while waiting to reopen or to pace
                    break
                frame = Frame(
                    index=index,
                    image_bgr=image,
                    captured_at_s=time.monotonic(),
                    wall_time_s=time.time(),
                    source_file=feed.source.current_file,
                    media_time_s=feed.media_time_s,
                )
                index += 1
                dropped = self.live.publish(frame, wait_taken=feed.lossless, stop=stop)
                self.stats.captured(dropped)
        except BaseException as exc:  # reported by the supervisor, never lost in a thread
            self.failure = self.failure or exc
            stop.set()
        finally:
            feed.close()
            self.live.close()

    # -- analysis thread ------------------------------------------------------------
    def _process_loop(self) -> None:
        try:
            while not self.stop.is_set():
                frame = self.live.take(POLL_S)
                if frame is None:
                    if self.live.drained:
                        return
                    continue
                result = self.analyzer.analyze(frame)
                self.stats.processed(result)
                self.live.set_result(result)
                for sink in self.sinks:
                    self._emit(sink, result)
                if self.max_frames and self.stats.frames_processed >= self.max_frames:
                    return
        except BaseException as exc:
            self.failure = self.failure or exc
        finally:
            self.stop.set()  # analysis is over, for whatever reason: so is the run, at once

    def _emit(self, sink: Sink, result: Result) -> None:
        self._guarded(sink, lambda: sink.emit(result))

    def _guarded(self, part: Sink | Supervisor, call: Callable[[], None]) -> None:
        """One output that fails must not stop the others: said once, then counted."""
        try:
            call()
        except Exception as exc:
            name = part.description
            failures = self.output_failures.get(name, 0) + 1
            self.output_failures[name] = failures
            if failures == 1:
                log.error("output %s failed (%s); going on without it", name, first_line(exc))

    # -- viewer thread: every captured frame, at the camera's rate ---------------------
    def _view_loop(self) -> None:
        seen, paused_shown = 0, False
        try:
            while not self.stop.is_set():
                frame, result, seen = self.live.newer_than(seen, POLL_S)
                if frame is None:
                    if self.live.closed:
                        return
                    if self.live.paused and not paused_shown:  # not the last frame, for ever
                        for viewer in self.viewers:
                            viewer.show_paused()
                        paused_shown = True
                    continue
                paused_shown = False
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
        analysis = threading.Thread(target=self._process_loop, name="analysis", daemon=True)
        threads = [
            threading.Thread(target=self._capture_loop, name="capture", daemon=True),
            analysis,
        ]
        if self.viewers:
            threads.append(threading.Thread(target=self._view_loop, name="viewer", daemon=True))
        for thread in threads:
            thread.start()
        next_stats_s = time.monotonic() + stats_interval_s
        try:
            while not self.stop.is_set() and analysis.is_alive():
                self.stop.wait(POLL_S)
                for supervisor in self.supervisors:
                    self._guarded(supervisor, functools.partial(supervisor.tick, self.stats))
                if stats_interval_s and time.monotonic() >= next_stats_s:
                    next_stats_s += stats_interval_s
                    log_stats(self.stats)
        finally:
            self.stop.set()
            for supervisor in self.supervisors:
                self._guarded(supervisor, supervisor.stopping)
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
