"""The summary a run ends with (edge.app.summary), from real stats of known results."""

from __future__ import annotations

import time

import pytest

from edge.app.summary import build_summary, print_summary
from edge.pipeline.stats import PipelineStats
from edge.types import Detection, FaceResult, Result, Timings

EXTRA = {
    "model": "ferplus-vgg-compact-int8",
    "interpreter": "ai-edge-litert",
    "threads": 2,
    "detector": "short_range",
    "classifier_calls": 2,
    "reuse": "off",
}


def result(index: int, status: str, inference_ms: float) -> Result:
    faces = ()
    if status == "ok":
        scores = {"happy": 0.8, "neutral": 0.2}
        faces = (FaceResult(Detection((10, 10, 50, 50), 0.9), "happy", 0.8, scores),)
    return Result(
        frame_index=index,
        captured_at_s=time.monotonic(),
        wall_time_s=time.time(),
        status=status,  # type: ignore[arg-type]
        detections=tuple(f.detection for f in faces),
        faces=faces,
        timings=Timings(detect_ms=2.0, preprocess_ms=1.0, inference_ms=inference_ms, total_ms=9.0),
        latency_ms=12.0,
    )


@pytest.fixture()
def stats() -> PipelineStats:
    """4 frames captured (one replaced before it was analysed), 3 processed: 2 faces, 1 none."""
    stats = PipelineStats()
    for dropped in (False, False, True, False):
        stats.captured(dropped_previous=dropped)
    for i, (status, inference_ms) in enumerate((("ok", 4.0), ("no_face", 0.0), ("ok", 6.0))):
        stats.processed(result(i, status, inference_ms))
    return stats


def test_the_summary_counts_what_happened(stats):
    summary = build_summary(stats, 2.0, EXTRA)
    assert (summary["frames_captured"], summary["frames_processed"]) == (4, 3)
    assert summary["frames_dropped"] == 1
    assert (summary["elapsed_s"], summary["processed_fps"]) == (2.0, 1.5)
    assert summary["statuses"] == {"ok": 2, "no_face": 1}
    assert summary["emotions"] == {"happy": 2}
    # inference and preprocessing only where the classifier ran: two frames, 4 and 6 ms
    assert summary["stage_ms"]["inference"] == {"mean": 5.0, "p50": 5.0, "p95": 5.9}
    assert summary["stage_ms"]["detect"]["mean"] == 2.0
    assert summary["stage_ms"]["latency"]["p95"] == 12.0
    assert set(summary["stage_ms"]) == {"detect", "preprocess", "inference", "total", "latency"}
    assert 0 <= summary["first_result_s"] < 60
    assert summary["peak_rss_mb"] > 0
    assert {k: summary[k] for k in EXTRA} == EXTRA  # the run's own facts, as given


def test_no_time_elapsed_and_no_result_give_zeros_not_errors():
    summary = build_summary(PipelineStats(), 0.0, EXTRA)
    assert (summary["processed_fps"], summary["first_result_s"]) == (0.0, None)
    assert summary["first_result_after_start_s"] is None
    assert (summary["statuses"], summary["emotions"], summary["stage_ms"]) == ({}, {}, {})


def test_the_printed_summary(stats, capsys):
    print_summary(build_summary(stats, 2.0, {**EXTRA, "images_skipped": 0}))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "summary: 3 frames processed of 4 captured (1 dropped) in 2.0 s: 1.5 fps"
    assert "  status: no_face 1, ok 2" in lines
    assert "  emotions: happy 2" in lines
    assert "  inference    5.0    5.0    5.9" in lines
    assert not any("images skipped" in line or "not written" in line for line in lines)
    calls = (
        "  classifier calls: 2 (reuse of unchanged faces' scores: off; see reuse: in config.yaml)"
    )
    assert calls in lines
    model = "  model ferplus-vgg-compact-int8 on ai-edge-litert (2 threads), detector short_range"
    assert lines[-1] == model


def test_what_was_lost_is_printed_only_when_something_was(capsys):
    summary = build_summary(PipelineStats(), 1.0, {**EXTRA, "images_skipped": 2})
    print_summary({**summary, "results_not_written": 5})
    err = capsys.readouterr().err
    assert "  status: none\n  emotions: none\n" in err
    assert "  images skipped: 2 (see the log)" in err
    assert "  results not written: 5 (see the log)" in err
