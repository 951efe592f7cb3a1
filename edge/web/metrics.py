"""The /metrics page: Prometheus text exposition format 0.0.4, written by hand.

No client library on the device: the page is a few dozen lines built from one read of
PipelineStats per scrape. Names follow the Prometheus naming guide: an `emotion_edge_`
prefix, base units in the name (`_seconds`), `_total` on counters, `_info` for the build.
Counters and histograms count since the program started; a restart resets them, which
Prometheus' rate() handles.
"""

from __future__ import annotations

import functools
import math
import platform
from collections.abc import Iterable, Mapping
from importlib import metadata

from edge import __version__
from edge.pipeline.stats import HistogramSnapshot, PipelineStats, StatsSnapshot
from edge.types import Result

PREFIX = "emotion_edge_"
DISTRIBUTION = "emotion-edge"  # the name in pyproject.toml, whose metadata holds the version

# (name suffix, labels, value) of one sample line
Sample = tuple[str, Mapping[str, str], float]


def escape_label_value(value: str) -> str:
    """A label value may hold any text; these three would end it or the line early."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    """Integers stay integers; floats as Go's ParseFloat reads them (+Inf, -Inf, NaN)."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


@functools.cache
def package_version() -> str:
    """The installed distribution's version; the source tree's when run uninstalled."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return __version__


class _Page:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples: Iterable[Sample]) -> None:
        full = PREFIX + name
        self.lines.append(f"# HELP {full} {escape_help(help_text)}")
        self.lines.append(f"# TYPE {full} {kind}")
        for suffix, labels, value in samples:
            self.lines.append(f"{full}{suffix}{_labels(labels)} {format_value(value)}")

    def one(self, name: str, kind: str, help_text: str, value: float) -> None:
        self.family(name, kind, help_text, [("", {}, value)])

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"  # the format wants a line feed after the last line


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{escape_label_value(value)}"' for key, value in labels.items())
    return "{" + inner + "}"


def _histogram(h: HistogramSnapshot) -> list[Sample]:
    bounds = [format_value(bound) for bound in h.bounds_s] + ["+Inf"]
    samples: list[Sample] = [
        ("_bucket", {"le": le}, n) for le, n in zip(bounds, h.cumulative, strict=True)
    ]
    return [*samples, ("_sum", {}, h.sum_s), ("_count", {}, h.count)]


def metrics_text(stats: PipelineStats, latest: Result | None) -> str:
    """Everything /metrics shows, from the pipeline's counters and the latest result."""
    snap = stats.snapshot()
    timings = stats.timing_histograms()
    build = {
        "version": package_version(),
        "model": snap.model_name or (latest.model_name if latest else ""),
        "python": platform.python_version(),
    }
    page = _Page()
    page.family(
        "build_info",
        "gauge",
        "Always 1; the labels name the program version, the classifier model and Python.",
        [("", build, 1)],
    )
    _frame_counts(page, snap)
    page.family(
        "detection_seconds",
        "histogram",
        "Face detector time per analysed frame.",
        _histogram(timings["detection"]),
    )
    page.family(
        "inference_seconds",
        "histogram",
        "Classifier time per frame, all its faces together; frames with no face classified "
        "(none found, or scores reused) are not counted.",
        _histogram(timings["inference"]),
    )
    page.one(
        "faces_detected",
        "gauge",
        "Faces the detector found in the latest analysed frame.",
        len(latest.detections) if latest else 0,
    )
    page.family(
        "faces_total",
        "counter",
        "Faces reported, by emotion label (a face counts once per frame it is in).",
        [("", {"emotion": label}, n) for label, n in sorted(stats.emotion_counts().items())],
    )
    return page.text()


def _frame_counts(page: _Page, snap: StatsSnapshot) -> None:
    page.one(
        "frames_captured_total", "counter", "Frames read from the source.", snap.frames_captured
    )
    page.one("frames_processed_total", "counter", "Frames analysed.", snap.frames_processed)
    page.one(
        "frames_dropped_total",
        "counter",
        "Frames never analysed: a newer one replaced them while analysis was busy.",
        snap.frames_dropped,
    )
    page.one(
        "capture_frames_per_second",
        "gauge",
        "Frames read from the source per second, over the last few seconds.",
        snap.capture_fps,
    )
    page.one(
        "processed_frames_per_second",
        "gauge",
        "Frames analysed per second, over the last few seconds.",
        snap.processed_fps,
    )
    page.one(
        "last_frame_timestamp_seconds",
        "gauge",
        "Unix time when the last frame was analysed; 0 before the first.",
        snap.last_result_wall_s or 0.0,
    )
