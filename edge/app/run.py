"""Build the stages a config describes, run the pipeline, report a summary."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.analysis.stages import open_stages
from edge.analysis.track import reuse_state
from edge.app.outfile import require_writable
from edge.config import Config
from edge.display import camera_preview, open_viewer
from edge.pipeline.live import LiveState
from edge.pipeline.service import ServiceNotifier
from edge.pipeline.stats import PipelineStats, peak_rss_mb, process_age_s
from edge.pipeline.threads import Pipeline, Viewer
from edge.sinks import Sink
from edge.sinks.jsonl import JsonLinesSink
from edge.sources import FeedPolicy, make_source, resolve_source

if TYPE_CHECKING:
    from edge.display.drm import CameraPreview
    from edge.sinks.mqtt.sink import MqttSink

log = logging.getLogger(__name__)


def build_sinks(
    config: Config,
    labels: list[str],
    model_name: str,
    stats: PipelineStats,
    stop: threading.Event | None = None,
) -> list[Sink]:
    sinks: list[Sink] = []
    if config.mqtt.enabled:
        from edge.sinks.mqtt.homeassistant import web_view_url
        from edge.sinks.mqtt.sink import MqttSink  # paho only when MQTT is on

        password = config.mqtt.resolve_password()
        web_url = web_view_url(config.web)  # Home Assistant links the device to it
        sinks.append(MqttSink(config.mqtt, labels, model_name, stats, password, web_url=web_url))
    target = config.output.jsonl
    if target == "auto":
        target = None if sinks else "-"  # stdout only when nothing else takes the results
    if target is not None:
        # results on stdout and its reader gone (`| head -5`): the run has no one to serve
        on_gone = stop.set if stop is not None and target == "-" else None
        sinks.append(JsonLinesSink(target, on_reader_gone=on_gone))
    return sinks


def mqtt_sinks(sinks: list[Sink]) -> list[MqttSink]:
    """The MQTT sink also watches the run, so that what it reports stays true without results."""
    from edge.sinks.mqtt.sink import MqttSink

    return [sink for sink in sinks if isinstance(sink, MqttSink)]


def build_viewers(
    config: Config, stats: PipelineStats, stop: threading.Event, preview: CameraPreview | None
) -> list[Viewer]:
    """The display, if one is configured and can open."""
    viewer = open_viewer(config.display, stats, stop.set, preview)
    return [viewer] if viewer is not None else []


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


def run_pipeline(
    config: Config,
    stop: threading.Event,
    max_frames: int | None = None,
    summary_json: Path | None = None,
) -> int:
    spec = resolve_source(config.source)  # the source first: a typo fails fast
    preview = camera_preview(config.display, spec.kind)  # the Pi camera's DRM preview, if any
    source = make_source(config.source, preview=preview)
    if summary_json is not None:
        require_writable(summary_json, "--summary-json", "a writable file")
    with contextlib.ExitStack() as closing:  # closes in reverse order of opening
        stages = closing.enter_context(open_stages(config))
        analyzer, classifier = stages.analyzer, stages.classifier
        stats = PipelineStats(model_name=classifier.name)
        live = LiveState()  # what the pipeline's threads and the web view share
        sinks = build_sinks(config, classifier.labels, classifier.name, stats, stop)
        for sink in sinks:
            closing.callback(sink.close)
        viewers = build_viewers(config, stats, stop, preview)
        for viewer in viewers:
            closing.callback(viewer.close)
        outputs = [*sinks, *viewers]
        if config.web.enabled:
            from edge.web.view import WebView  # the HTTP server only when asked for

            web = WebView(config.web, stats, live)
            closing.callback(web.close)
            outputs.append(web)
        notifier = ServiceNotifier(config.service.stall_after_s)  # a no-op outside systemd
        pipeline = Pipeline(
            source,
            analyzer,
            sinks,
            stop=stop,
            policy=FeedPolicy.from_config(config.source),
            stats=stats,
            max_frames=max_frames,
            viewers=viewers,
            supervisors=[notifier, *mqtt_sinks(sinks)],  # MQTT's timer: camera, stats
            live=live,
        )
        described = ", ".join(getattr(o, "description", type(o).__name__) for o in outputs)
        log.info(
            "running: %s -> %s (%s, %s threads), detector %s, outputs %s",
            source.description,
            classifier.name,
            classifier.backend,
            classifier.threads,
            config.detector.model,
            described or "none",
        )
        started = time.monotonic()
        pipeline.run(stats_interval_s=config.stats.interval_s)
        elapsed_s = time.monotonic() - started
    summary = build_summary(
        stats,
        elapsed_s,
        {
            "model": classifier.name,
            "interpreter": classifier.backend,
            "threads": classifier.threads,
            "detector": config.detector.model,
            "source": source.description,
            "classifier_calls": analyzer.classifier_calls,
            "reuse": reuse_state(config.reuse.enabled, classifier.multiply_adds_per_face),
            "results_not_written": sum(getattr(s, "not_written", 0) for s in sinks),
            "images_skipped": getattr(source, "skipped", 0),
        },
    )
    print_summary(summary)
    code = 1 if summary["results_not_written"] else 0  # the log and summary say how many
    if summary["images_skipped"] and not summary["frames_processed"]:
        log.error("%s: no usable image (each was skipped, see above)", source.description)
        code = 1
    if summary_json is not None:
        try:
            summary_json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            log.error("--summary-json: %s not written (%s)", summary_json, exc.strerror)
            code = 1
    if pipeline.stuck:
        end_process_now(code)
    return code


def end_process_now(code: int) -> None:
    """Exit at once, everything written, without finalising the interpreter.

    A thread inside a native blocking call (OpenCV's FFmpeg waiting on a stalled stream)
    cannot be interrupted, and finalising the interpreter under it can abort the process
    ("terminate called without an active exception", exit 134). The outputs are closed and
    the summary printed by now, so nothing is lost by skipping finalisation.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):  # None when closed
            stream.flush()
    os._exit(code)
