"""The threaded pipeline with the real detector and classifier on real video files."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from edge.config import SourceConfig
from edge.pipeline.threads import Pipeline
from edge.sources import FeedPolicy, make_source
from edge.types import Frame, Result
from tests.conftest import wait_until, write_video


class ListSink:
    """Collects results; optionally slow, to stand in for a model slower than the camera."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.results: list[Result] = []
        self.closed = False
        self.delay_s = delay_s

    def emit(self, result: Result) -> None:
        self.results.append(result)
        time.sleep(self.delay_s)  # the behaviour under test: a consumer slower than capture

    def close(self) -> None:
        self.closed = True


def _frame(i: int) -> Frame:
    return Frame(i, np.zeros((4, 4, 3), np.uint8), time.monotonic(), time.time())


@pytest.fixture(scope="module")
def clip_frames(astronaut_bgr, no_face_bgr, two_faces_bgr) -> list[np.ndarray]:
    import cv2

    def fit(image: np.ndarray) -> np.ndarray:
        return cv2.resize(image, (640, 480))

    return [fit(astronaut_bgr)] * 6 + [fit(no_face_bgr)] * 4 + [two_faces_bgr] * 4


def pipeline_for(cfg: SourceConfig, analyzer, sinks, stop=None, **kwargs) -> Pipeline:
    policy = FeedPolicy.from_config(cfg)
    stop = stop or threading.Event()
    return Pipeline(make_source(cfg), analyzer, sinks, stop=stop, policy=policy, **kwargs)


def run_pipeline(cfg: SourceConfig, analyzer, sink, stop=None, **kwargs) -> Pipeline:
    pipeline = pipeline_for(cfg, analyzer, [sink], stop, **kwargs)
    pipeline.run()
    return pipeline


def test_unpaced_file_processes_every_frame_in_order(tmp_path: Path, clip_frames, analyzer):
    clip = write_video(tmp_path / "c.avi", clip_frames)
    sink = ListSink()
    pipeline = run_pipeline(SourceConfig(uri=str(clip), realtime=False), analyzer, sink)
    assert [r.frame_index for r in sink.results] == list(range(len(clip_frames)))
    assert [r.status for r in sink.results] == ["ok"] * 6 + ["no_face"] * 4 + ["multiple_faces"] * 4
    assert pipeline.stats.frames_dropped == 0


def test_slow_consumer_never_blocks_capture(tmp_path: Path, clip_frames, analyzer):
    clip = write_video(tmp_path / "c.avi", clip_frames * 3, fps=30)  # 42 frames, 1.4 s
    sink = ListSink(delay_s=0.25)
    pipeline = run_pipeline(SourceConfig(uri=str(clip), realtime=True), analyzer, sink)
    stats = pipeline.stats
    assert stats.frames_captured == 42  # capture kept its pace
    assert stats.frames_dropped > 0
    assert stats.frames_processed == len(sink.results) < 42
    # every captured frame was either processed or counted as dropped
    assert stats.frames_processed + stats.frames_dropped == 42


def test_camera_that_vanishes_is_reopened(tmp_path: Path, clip_frames, analyzer, caplog):
    clip = write_video(tmp_path / "cam.avi", clip_frames, fps=30)
    hidden = tmp_path / "unplugged.avi"
    cfg = SourceConfig(
        uri=str(clip), treat_as_camera=True, reconnect_initial_s=0.2, reconnect_max_s=0.4
    )
    sink, stop = ListSink(), threading.Event()
    pipeline = pipeline_for(cfg, analyzer, [sink], stop)
    runner = threading.Thread(target=pipeline.run)
    caplog.set_level(logging.DEBUG, logger="edge.sources.feed")
    runner.start()
    try:
        assert wait_until(lambda: sink.results, 10)
        clip.rename(hidden)  # the camera is unplugged
        assert wait_until(lambda: pipeline.stats.source_state == "reconnecting", 10), (
            pipeline.stats.source_state
        )
        # several failed reopen attempts (said at DEBUG only) before it comes back
        retries = lambda: sum("still unavailable" in r.getMessage() for r in caplog.records)  # noqa: E731
        assert wait_until(lambda: retries() >= 2, 10), caplog.text
        before = len(sink.results)
        hidden.rename(clip)  # and plugged back in
        assert wait_until(lambda: len(sink.results) > before + 3, 10), len(sink.results)
    finally:
        stop.set()
        runner.join(5)
    assert not runner.is_alive()
    assert pipeline.failure is None
    lost = [r for r in caplog.records if "reopening with backoff" in r.getMessage()]
    back = [r for r in caplog.records if "is back after" in r.getMessage()]
    assert len(back) >= 1
    assert len(lost) == len(back)  # one line per change of state, not one per attempt


def test_stop_event_ends_a_looping_source_quickly(tmp_path: Path, clip_frames, analyzer):
    clip = write_video(tmp_path / "c.avi", clip_frames, fps=30)
    cfg = SourceConfig(uri=str(clip), loop=True)
    sink, stop = ListSink(), threading.Event()
    pipeline = pipeline_for(cfg, analyzer, [sink], stop)
    runner = threading.Thread(target=pipeline.run)
    runner.start()
    try:  # the clip has 14 frames: a result after those means it looped past the end
        assert wait_until(lambda: len(sink.results) > len(clip_frames) + 2, 20), len(sink.results)
        assert runner.is_alive()  # still going: only the stop below may end it
    finally:
        stopped_at = time.monotonic()
        stop.set()
        runner.join(5)
    assert not runner.is_alive()
    assert time.monotonic() - stopped_at < 2.0
    assert pipeline.failure is None


def test_max_frames(tmp_path: Path, clip_frames, analyzer):
    clip = write_video(tmp_path / "c.avi", clip_frames)
    sink = ListSink()
    run_pipeline(SourceConfig(uri=str(clip), realtime=False), analyzer, sink, max_frames=3)
    assert len(sink.results) == 3


def test_a_failing_output_does_not_stop_the_others(tmp_path: Path, clip_frames, analyzer, caplog):
    clip = write_video(tmp_path / "c.avi", clip_frames)

    class BrokenSink(ListSink):
        description = "broken"

        def emit(self, result: Result) -> None:
            raise OSError("disk full")

    cfg = SourceConfig(uri=str(clip), realtime=False)
    kept = ListSink()
    pipeline = pipeline_for(cfg, analyzer, [BrokenSink(), kept])
    pipeline.run()
    assert len(kept.results) == len(clip_frames)  # every result still reached the other one
    assert pipeline.output_failures == {"broken": len(clip_frames)}
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["output broken failed (disk full); going on without it"]


def test_viewer_sees_every_frame_while_analysis_is_slow(tmp_path: Path, clip_frames, analyzer):
    clip = write_video(tmp_path / "c.avi", clip_frames * 3, fps=30)  # 42 frames

    class RecordingViewer:
        def __init__(self) -> None:
            self.shown: list[tuple[int, int | None]] = []

        def show(self, frame: Frame, result: Result | None) -> None:
            self.shown.append((frame.index, result.frame_index if result else None))

        def close(self) -> None:
            pass

    viewer, sink, stop = RecordingViewer(), ListSink(delay_s=0.25), threading.Event()
    cfg = SourceConfig(uri=str(clip), realtime=True)
    pipeline = pipeline_for(cfg, analyzer, [sink], stop, viewers=[viewer])
    pipeline.run()
    indexes = [index for index, _ in viewer.shown]
    assert indexes == sorted(set(indexes))  # in order, none twice
    assert len(indexes) >= 0.9 * pipeline.stats.frames_captured
    assert len(sink.results) < len(indexes)  # analysis saw far fewer frames
    # frames carry the newest result available, never one from the future
    assert all(res is None or res <= idx for idx, res in viewer.shown)


def test_a_failing_supervisor_does_not_stop_the_run(tmp_path: Path, clip_frames, analyzer, caplog):
    clip = write_video(tmp_path / "c.avi", clip_frames)

    class BrokenWatcher:
        description = "watcher"

        def __init__(self) -> None:
            self.ticks = 0

        def tick(self, stats) -> None:
            self.ticks += 1
            raise RuntimeError("broker gone")

        def stopping(self) -> None:
            raise RuntimeError("still gone")

    watcher, sink = BrokenWatcher(), ListSink(delay_s=0.02)  # long enough for a few ticks
    cfg = SourceConfig(uri=str(clip), realtime=False)
    pipeline = pipeline_for(cfg, analyzer, [sink], supervisors=[watcher])
    pipeline.run()
    assert len(sink.results) == len(clip_frames) and pipeline.failure is None
    assert watcher.ticks >= 1 and pipeline.output_failures["watcher"] == watcher.ticks + 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["output watcher failed (broker gone); going on without it"]
