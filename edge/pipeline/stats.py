"""Counters and timing summaries shared by the pipeline threads, bounded in memory."""

from __future__ import annotations

import itertools
import os
import resource
import threading
import time
from bisect import bisect_left
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from edge.types import Result, SourceState

WINDOW = 2048  # recent samples kept for percentiles; older ones only count in the totals
RATE_WINDOW_S = 5.0
STAGE_ORDER = (
    "detect",
    "preprocess",
    "inference",
    "total",
    "latency",
)  # fps is measured over the last few seconds
# Upper bounds (seconds) of the stage-time histograms: 1-2-5 steps from 0.2 ms (BlazeFace on
# a desktop CPU) to 2 s (a large classifier on a Pi Zero); anything slower lands in +Inf only.
# Fixed bounds keep memory constant however long the device runs.
TIMING_BUCKETS_S = (
    0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0,
)  # fmt: skip


@dataclass(frozen=True)
class StatsSnapshot:
    uptime_s: float
    frames_captured: int
    frames_processed: int
    frames_dropped: int
    capture_fps: float  # over the last RATE_WINDOW_S seconds
    processed_fps: float
    inference_ms_mean: float  # over the recent window
    source_state: SourceState
    statuses: dict[str, int] = field(default_factory=dict)
    last_result_wall_s: float | None = None  # time.time() when the last result was counted
    model_name: str = ""  # the classifier named by the latest result ("" before the first)


@dataclass(frozen=True)
class HistogramSnapshot:
    """Observations so far: `cumulative[i]` counts those <= `bounds_s[i]`; one more for +Inf."""

    bounds_s: tuple[float, ...]
    cumulative: tuple[int, ...]
    sum_s: float
    count: int


class _Histogram:
    """Counts per fixed bucket; not locked itself: PipelineStats holds the lock around it."""

    def __init__(self, bounds_s: tuple[float, ...]) -> None:
        self.bounds_s = bounds_s
        self.counts = [0] * (len(bounds_s) + 1)  # the last one is (largest bound, +Inf)
        self.sum_s = 0.0
        self.count = 0

    def observe(self, value_s: float) -> None:
        self.counts[bisect_left(self.bounds_s, value_s)] += 1  # a value equal to a bound is in it
        self.sum_s += value_s
        self.count += 1

    def snapshot(self) -> HistogramSnapshot:
        return HistogramSnapshot(
            self.bounds_s, tuple(itertools.accumulate(self.counts)), self.sum_s, self.count
        )


class PipelineStats:
    """Written by the capture and processing threads, read by the supervisor and sinks."""

    def __init__(self, *, model_name: str = "") -> None:
        self._lock = threading.Lock()
        self.started_at_s = time.monotonic()
        self.frames_captured = 0
        self.frames_dropped = 0
        self.frames_processed = 0
        self.source_state: SourceState = "starting"
        self.first_result_at_s: float | None = None
        self.last_capture_at_s: float | None = None
        self.last_result_at_s: float | None = None
        self.last_result_wall_s: float | None = None
        self.model_name = model_name  # known before the first result when the caller passes it
        self.streaming_since_s: float | None = None  # when frames (re)started coming
        self.camera_call_since_s: float | None = None  # inside source.open()/read() since
        self._statuses: Counter[str] = Counter()
        self._emotions: Counter[str] = Counter()
        self._stage_ms: dict[str, deque[float]] = {}
        self._captured_at: deque[float] = deque(maxlen=WINDOW)
        self._processed_at: deque[float] = deque(maxlen=WINDOW)
        self._detection = _Histogram(TIMING_BUCKETS_S)  # every analysed frame
        self._inference = _Histogram(TIMING_BUCKETS_S)  # frames where the classifier ran

    def captured(self, dropped_previous: bool) -> None:
        with self._lock:
            self.frames_captured += 1
            self.frames_dropped += int(dropped_previous)
            self.last_capture_at_s = time.monotonic()
            self._captured_at.append(self.last_capture_at_s)
            if self.source_state != "streaming":
                self.streaming_since_s = self.last_capture_at_s
            self.source_state = "streaming"

    def camera_call(self, active: bool) -> None:
        """The capture thread enters (True) or leaves (False) a call that may block."""
        with self._lock:
            self.camera_call_since_s = time.monotonic() if active else None

    def set_source_state(self, state: SourceState) -> None:
        with self._lock:
            self.source_state = state

    def processed(self, result: Result) -> None:
        now, wall_now = time.monotonic(), time.time()
        with self._lock:
            self.frames_processed += 1
            self.last_result_at_s = now
            self.last_result_wall_s = wall_now
            self.model_name = result.model_name or self.model_name
            self._processed_at.append(now)
            if self.first_result_at_s is None:
                self.first_result_at_s = now
            self._statuses[result.status] += 1
            for face in result.faces:
                self._emotions[face.label] += 1
            t = result.timings
            samples = [
                ("detect", t.detect_ms),
                ("total", t.total_ms),
                ("latency", result.latency_ms),
            ]
            self._detection.observe(t.detect_ms / 1000.0)
            if t.inference_ms > 0:  # frames where the classifier ran, not reused or faceless
                samples += [("preprocess", t.preprocess_ms), ("inference", t.inference_ms)]
                self._inference.observe(t.inference_ms / 1000.0)
            for name, value in samples:
                self._stage_ms.setdefault(name, deque(maxlen=WINDOW)).append(value)

    def snapshot(self) -> StatsSnapshot:
        now = time.monotonic()
        with self._lock:
            inference = self._stage_ms.get("inference")
            return StatsSnapshot(
                uptime_s=now - self.started_at_s,
                frames_captured=self.frames_captured,
                frames_processed=self.frames_processed,
                frames_dropped=self.frames_dropped,
                capture_fps=_rate(self._captured_at, now, now - self.started_at_s),
                processed_fps=_rate(self._processed_at, now, now - self.started_at_s),
                inference_ms_mean=float(np.mean(inference)) if inference else 0.0,
                source_state=self.source_state,
                statuses=dict(self._statuses),
                last_result_wall_s=self.last_result_wall_s,
                model_name=self.model_name,
            )

    def timing_histograms(self) -> dict[str, HistogramSnapshot]:
        """Stage times (s) since start: detection per frame, inference per classified frame."""
        with self._lock:
            return {
                "detection": self._detection.snapshot(),
                "inference": self._inference.snapshot(),
            }

    def stage_percentiles(self) -> dict[str, tuple[float, float, float]]:
        """Per stage: (mean, p50, p95) in ms over the recent window."""
        with self._lock:
            samples = {
                name: np.array(self._stage_ms[name])
                for name in STAGE_ORDER
                if name in self._stage_ms
            }
        return {
            name: (float(v.mean()), float(np.percentile(v, 50)), float(np.percentile(v, 95)))
            for name, v in samples.items()
            if len(v)
        }

    def emotion_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._emotions)


def _rate(stamps: deque[float], now_s: float, uptime_s: float) -> float:
    """Events per second over the recent window (or the uptime, when shorter)."""
    window = max(1.0, min(RATE_WINDOW_S, uptime_s))
    recent = sum(1 for _ in itertools.takewhile(lambda t: now_s - t <= window, reversed(stamps)))
    return recent / window


def process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc), for time-to-first-result."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as uptime:
            up_s = float(uptime.read().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    return up_s - int(fields[19]) / os.sysconf("SC_CLK_TCK")


def memory_mb(field: str) -> float | None:
    """A memory line of /proc/self/status (VmRSS now, VmHWM the peak) in MB; None if absent."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process image.

    VmHWM, not getrusage: ru_maxrss survives exec, so a child started by a big parent
    would report the parent's peak.
    """
    peak = memory_mb("VmHWM")
    if peak is not None:
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p95 of `values` (0 when empty) and how many there were, for reports."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "n": 0}
    arr = np.asarray(values)
    return {
        "p50": round(float(np.percentile(arr, 50)), 3),
        "p95": round(float(np.percentile(arr, 95)), 3),
        "n": len(values),
    }
