"""The summary a run ends with: on stderr for people, as JSON for scripts (--summary-json)."""

from __future__ import annotations

import sys
import time
from typing import Any

from edge.pipeline.stats import PipelineStats, peak_rss_mb, process_age_s


def build_summary(stats: PipelineStats, elapsed_s: float, extra: dict[str, Any]) -> dict[str, Any]:
    snap = stats.snapshot()
    first = stats.first_result_at_s
    age_s = process_age_s()
    first_after_start = (
        round(age_s - (time.monotonic() - first), 3) if first is not None and age_s else None
    )
    return {
        "frames_captured": snap.frames_captured,
        "frames_processed": snap.frames_processed,
        "frames_dropped": snap.frames_dropped,
        "elapsed_s": round(elapsed_s, 3),
        "processed_fps": round(snap.frames_processed / elapsed_s, 2) if elapsed_s > 0 else 0.0,
        "first_result_s": round(first - stats.started_at_s, 3) if first else None,
        "first_result_after_start_s": first_after_start,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "statuses": snap.statuses,
        "emotions": stats.emotion_counts(),
        "stage_ms": {
            name: {"mean": round(m, 2), "p50": round(p50, 2), "p95": round(p95, 2)}
            for name, (m, p50, p95) in stats.stage_percentiles().items()
        },
        **extra,
    }


def print_summary(summary: dict[str, Any]) -> None:
    out = sys.stderr
    print(
        f"summary: {summary['frames_processed']} frames processed of "
        f"{summary['frames_captured']} captured ({summary['frames_dropped']} dropped) in "
        f"{summary['elapsed_s']:.1f} s: {summary['processed_fps']:.1f} fps",
        file=out,
    )
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary["statuses"].items()))
    emotions = ", ".join(
        f"{k} {v}" for k, v in sorted(summary["emotions"].items(), key=lambda kv: -kv[1])
    )
    print(f"  status: {statuses or 'none'}", file=out)
    print(f"  emotions: {emotions or 'none'}", file=out)
    print("  stage ms   mean    p50    p95", file=out)
    for name, v in summary["stage_ms"].items():
        print(f"  {name:<10}{v['mean']:>6.1f} {v['p50']:>6.1f} {v['p95']:>6.1f}", file=out)
    if summary.get("images_skipped"):
        print(f"  images skipped: {summary['images_skipped']} (see the log)", file=out)
    if summary.get("results_not_written"):
        print(f"  results not written: {summary['results_not_written']} (see the log)", file=out)
    print(
        f"  classifier calls: {summary['classifier_calls']} (reuse of unchanged faces' scores: "
        f"{summary['reuse']}; see reuse: in config.yaml)",
        file=out,
    )
    print(
        f"  model {summary['model']} on {summary['interpreter']} ({summary['threads']} "
        f"threads), detector {summary['detector']}",
        file=out,
    )
