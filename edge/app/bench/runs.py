"""The measurements behind `emotion-edge bench`, each a plain function returning figures.

Every run uses the real detector, the real interpreter and the real pipeline; only the
frame supply differs (a video file decoded live, or frames held in memory and paced).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.analysis.analyzer import FrameAnalyzer
from edge.config import SourceConfig
from edge.errors import ConfigError
from edge.pipeline.stats import PipelineStats, percentiles
from edge.pipeline.threads import Pipeline
from edge.sinks.payload import result_to_dict
from edge.sources import EndOfStream, FeedPolicy, make_source
from edge.sources.video_file import VideoFile
from edge.types import Frame, Result

Draw = Callable[[np.ndarray, Result | None], np.ndarray]


def load_frames(path: Path, limit: int | None = None) -> tuple[list[np.ndarray], float]:
    with VideoFile(path, error=ConfigError, fix="give --source a video file") as video:
        frames = list(itertools.islice(video.frames(), limit))
        return frames, video.fps or 15.0


class ArraySource:
    """Frames held in memory, played `loops` times, paced by the pipeline at `nominal_fps`."""

    live = False
    plays_file = True
    current_file: str | None = None  # frames in memory, from no file
    skipped = 0

    def __init__(self, frames: list[np.ndarray], fps: float, duration_s: float) -> None:
        self.frames = frames
        self.nominal_fps: float | None = fps
        self.total = max(1, round(duration_s * fps))
        self.description = f"{len(frames)} frames in memory at {fps:g} fps"
        self._next = 0

    def open(self) -> None:
        self._next = 0

    def read(self) -> np.ndarray:
        if self._next >= self.total:
            raise EndOfStream
        image = self.frames[self._next % len(self.frames)]
        self._next += 1
        return image

    def close(self) -> None:
        pass


@dataclass
class Recorder:
    """A sink and a viewer at once: keeps what the bench needs, bounded by the run length."""

    draw: Draw | None = None
    results: list[tuple[float, float, str | None]] = field(default_factory=list)
    shown: int = 0
    description: str = "the bench's recorder"
    not_written: int = 0  # keeps every result

    def emit(self, result: Result) -> None:
        json.dumps(result_to_dict(result))  # the cost a JSON sink pays
        emotion = result.faces[0].label if result.faces else None
        self.results.append((result.captured_at_s, result.latency_ms, emotion))

    def show(self, frame: Frame, result: Result | None) -> None:
        if self.draw is not None:
            self.draw(frame.image_bgr, result)
        self.shown += 1

    def show_paused(self) -> None:
        pass  # the bench never pauses

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass


def serial_run(path: Path, analyzer: FrameAnalyzer, draw: Draw) -> dict[str, object]:
    """The usual example loop: read, detect, classify, draw, one after the other."""
    stage: dict[str, list[float]] = {"decode": [], "analyze": [], "draw": [], "sinks": []}
    started = time.perf_counter()  # opening the file counts, as it does for the pipeline
    with VideoFile(path, error=ConfigError, fix="give --source a video file") as video:
        images = video.frames()
        index = 0
        while True:
            t0 = time.perf_counter()
            image = next(images, None)
            t1 = time.perf_counter()
            if image is None:
                break
            result = analyzer.analyze(Frame(index, image, time.monotonic(), time.time()))
            t2 = time.perf_counter()
            draw(image, result)
            t3 = time.perf_counter()
            json.dumps(result_to_dict(result))
            t4 = time.perf_counter()
            for name, value in (
                ("decode", t1 - t0),
                ("analyze", t2 - t1),
                ("draw", t3 - t2),
                ("sinks", t4 - t3),
            ):
                stage[name].append(value * 1000)
            index += 1
        elapsed = time.perf_counter() - started
    return {
        "frames": index,
        "fps": round(index / elapsed, 2),
        "stage_ms": {k: percentiles(v) for k, v in stage.items()},
    }


def pipeline_run(path: Path, analyzer: FrameAnalyzer, draw: Draw) -> dict[str, object]:
    """The real threaded pipeline on the same file, unpaced (lossless), drawing in its viewer."""
    recorder = Recorder(draw)
    stats = PipelineStats()
    pipeline = Pipeline(
        make_source(SourceConfig(uri=str(path))),
        analyzer,
        [recorder],
        stop=threading.Event(),
        policy=FeedPolicy(realtime=False),
        stats=stats,
        viewers=[recorder],
    )
    started = time.monotonic()
    pipeline.run()
    # to the last result, as the serial loop counts: joining threads is not throughput
    elapsed = (stats.last_result_at_s or time.monotonic()) - started
    return {
        "frames": stats.frames_processed,
        "fps": round(stats.frames_processed / elapsed, 2),
        "drawn": recorder.shown,
    }


def paced_run(
    frames: list[np.ndarray],
    fps: float,
    duration_s: float,
    analyzer: FrameAnalyzer,
    draw: Draw | None,
) -> dict[str, object]:
    """Frames offered at `fps` like a camera: latency, drops, and whether a backlog builds up."""
    source = ArraySource(frames, fps, duration_s)
    recorder = Recorder(draw)
    stats = PipelineStats()
    pipeline = Pipeline(
        source,
        analyzer,
        [recorder],
        stop=threading.Event(),
        policy=FeedPolicy(realtime=True),
        stats=stats,
        viewers=[recorder],
    )
    started = time.perf_counter()
    pipeline.run()
    elapsed = time.perf_counter() - started
    if not recorder.results:
        return {"results": 0}
    t_first = recorder.results[0][0]
    window_s = min(60.0, duration_s / 2)  # the first and last minute, or halves of a short run
    first = [lat for t, lat, _ in recorder.results if t - t_first <= window_s]
    last = [lat for t, lat, _ in recorder.results if recorder.results[-1][0] - t <= window_s]
    return {
        "source_fps": fps,
        "duration_s": round(elapsed, 2),
        "captured": stats.frames_captured,
        "processed": stats.frames_processed,
        "dropped": stats.frames_dropped,
        "latency_ms": percentiles([lat for _, lat, _ in recorder.results]),
        "window_s": window_s,
        "first_window_p95_ms": percentiles(first)["p95"],
        "last_window_p95_ms": percentiles(last)["p95"],
        "display_fps": round(recorder.shown / elapsed, 2),
        "capture_fps": round(stats.frames_captured / elapsed, 2),
    }


def reuse_run(
    frames: list[np.ndarray],
    fps: float,
    open_analyzer: Callable[[bool], AbstractContextManager[FrameAnalyzer]],
) -> dict[str, object]:
    """Same frames with and without reuse, on clip time (deterministic): calls and agreement."""
    reported: dict[bool, list[str | None]] = {}
    raw: list[str | None] = []  # the primary face's own top-1, classified every frame
    calls: dict[bool, int] = {}
    for reuse in (False, True):
        with open_analyzer(reuse) as analyzer:
            reported[reuse] = []
            for i, image in enumerate(frames):
                result = analyzer.analyze(
                    Frame(i, image, i / fps, time.time(), media_time_s=i / fps)
                )
                reported[reuse].append(result.decision.label)
                if not reuse:
                    primary = result.primary_face
                    raw.append(primary.label if primary else None)
            calls[reuse] = analyzer.classifier_calls
    pairs = [
        (a, b)
        for a, b in zip(reported[False], reported[True], strict=True)
        if a is not None or b is not None
    ]
    agree = sum(a == b for a, b in pairs) / len(pairs) if pairs else 1.0
    minutes = len(frames) / fps / 60
    return {
        "frames": len(frames),
        "classifier_calls_every_frame": calls[False],
        "classifier_calls_with_reuse": calls[True],
        "fewer_calls_x": round(calls[False] / max(1, calls[True]), 2),
        # of the reported emotion, with reuse vs classifying every frame
        "emotion_agreement": round(agree, 4),
        "reported_changes_per_min": round(label_changes(reported[False]) / minutes, 1),
        "top1_changes_per_min": round(label_changes(raw) / minutes, 1),
    }


def label_changes(labels: list[str | None]) -> int:
    """How often a shown label changes (a face lost and found again counts too)."""
    return sum(a != b for a, b in itertools.pairwise(labels))
