"""The bench report as a table a person reads; the JSON holds everything."""

from __future__ import annotations

from typing import Any, TextIO


def _ms(p: dict[str, float]) -> str:
    return f"{p['p50']:7.2f} {p['p95']:7.2f}"


def _print_model(name: str, m: dict[str, Any], out: TextIO) -> None:
    print(f"\nmodel {name}", file=out)
    print("  stage            p50 ms  p95 ms", file=out)
    for stage, p in m["stage_ms"].items():
        two = stage == "inference" and m.get("mirror_average")
        print(f"  {stage:<15}{_ms(p)}{'   (face + mirror image)' if two else ''}", file=out)
    for stage, p in m["serial"]["stage_ms"].items():
        if stage != "analyze":
            print(f"  {stage:<15}{_ms(p)}   (serial loop)", file=out)
    sweep = ", ".join(f"{t} thr {p['p50']:.2f} ms" for t, p in m["inference_ms_by_threads"].items())
    print(f"  inference by threads (one pass): {sweep}", file=out)
    print(
        f"  unpaced: serial {m['serial']['fps']:.1f} fps, pipeline "
        f"{m['pipeline']['fps']:.1f} fps -> {m['pipeline_vs_serial_x']:.2f}x",
        file=out,
    )
    paced = m["paced_30fps"]
    if paced.get("results", 1):
        print(
            f"  paced 30 fps for {paced['duration_s']:.0f} s: latency p50/p95 "
            f"{_ms(paced['latency_ms'])} ms, first/last {paced['window_s']:.0f} s p95 "
            f"{paced['first_window_p95_ms']:.1f}/{paced['last_window_p95_ms']:.1f} ms, "
            f"dropped {paced['dropped']} of {paced['captured']}",
            file=out,
        )
        print(
            f"  display {paced['display_fps']:.1f} fps vs source "
            f"{paced['capture_fps']:.1f} fps -> {m['display_vs_source']:.2f}",
            file=out,
        )
    start = m["startup"]
    if "error" in start:
        print(f"  startup: failed: {start['error']}", file=out)
    else:
        print(
            f"  first result {start['first_result_after_start_s']} s after start, "
            f"peak RSS {start['peak_rss_mb']} MB",
            file=out,
        )


def print_report(report: dict[str, Any], out: TextIO) -> None:
    src = report["source"]
    print(
        f"bench on {src['path']} ({src['frames']} frames at {src['fps']:g} fps), "
        f"{report['machine']['cpus']} CPUs, Python {report['machine']['python']}",
        file=out,
    )
    for name, m in report["models"].items():
        _print_model(name, m, out)
    for scene, r in report.get("reuse", {}).items():
        print(
            f"\nreuse on {scene}: {r['classifier_calls_every_frame']} -> "
            f"{r['classifier_calls_with_reuse']} classifier calls ({r['fewer_calls_x']}x "
            f"fewer), reported emotion agreement {r['emotion_agreement'] * 100:.1f}%; "
            f"label changes a minute: reported {r['reported_changes_per_min']}, "
            f"top-1 {r['top1_changes_per_min']}",
            file=out,
        )
    pair = report.get("model_pair")
    if pair:
        print(
            f"\nfloat vs int8: {pair['float_ms']['p50']:.2f} vs {pair['int8_ms']['p50']:.2f} "
            f"ms, top-1 agreement {pair['top1_agreement'] * 100:.1f}% on {pair['faces']} faces",
            file=out,
        )
