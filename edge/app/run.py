"""Build the stages a config describes, run the pipeline, report a summary."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.analysis.analyzer import FrameAnalyzer
from edge.analysis.classify import TFLiteClassifier
from edge.analysis.stages import open_stages
from edge.analysis.track import reuse_state
from edge.app.outfile import require_writable
from edge.app.summary import build_summary, print_summary
from edge.config import Config
from edge.display import camera_preview, open_viewer
from edge.errors import valid_unicode
from edge.pipeline.live import LiveState
from edge.pipeline.service import ServiceNotifier
from edge.pipeline.stats import PipelineStats
from edge.pipeline.threads import Pipeline, Supervisor, Viewer
from edge.sinks import Sink
from edge.sinks.jsonl import JsonLinesSink
from edge.sources import FeedPolicy, Source, make_source, resolve_source

if TYPE_CHECKING:
    from edge.app.signals import SignalRequests
    from edge.display.drm import CameraPreview

log = logging.getLogger(__name__)


@dataclass
class Outputs:
    """What a run's results and frames go to, each in the role the pipeline calls it in.

    MQTT is a sink and a supervisor (its timers keep camera state and stats true while
    no result comes); the web view is neither: it reads the live state on its own threads.
    """

    sinks: list[Sink] = field(default_factory=list)
    viewers: list[Viewer] = field(default_factory=list)
    supervisors: list[Supervisor] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)


def build_outputs(
    config: Config,
    labels: list[str],
    model_name: str,
    stats: PipelineStats,
    live: LiveState,
    *,
    stop: threading.Event,
    preview: CameraPreview | None,
    closing: contextlib.ExitStack,
) -> Outputs:
    """Open every configured output; each is closed by `closing`, in reverse order."""
    outputs = Outputs()
    if config.mqtt.enabled:
        from edge.sinks.mqtt.homeassistant import web_view_url
        from edge.sinks.mqtt.sink import MqttSink  # paho only when MQTT is on

        password = config.mqtt.resolve_password()
        web_url = web_view_url(config.web)  # Home Assistant links the device to it
        mqtt = MqttSink(
            config.mqtt,
            labels,
            model_name,
            stats,
            password,
            web_url=web_url,
            config_file=config.file,
            live=live,
            blur=config.privacy.blur_faces,
        )
        closing.callback(mqtt.close)
        outputs.sinks.append(mqtt)
        outputs.supervisors.append(mqtt)
    target = config.output.jsonl
    if target == "auto":
        target = None if outputs.sinks else "-"  # stdout only when nothing else takes them
    if target is not None:
        # results on stdout and its reader gone (`| head -5`): the run has no one to serve
        on_gone = stop.set if target == "-" else None
        jsonl = JsonLinesSink(target, on_reader_gone=on_gone)
        closing.callback(jsonl.close)
        outputs.sinks.append(jsonl)
    outputs.descriptions.extend(sink.description for sink in outputs.sinks)
    viewer = open_viewer(config.display, stats, stop.set, preview, config.privacy.blur_faces)
    if viewer is not None:
        closing.callback(viewer.close)
        outputs.viewers.append(viewer)
        outputs.descriptions.append(viewer.description)
    if config.web.enabled:
        from edge.web.token import announce_token, with_run_token
        from edge.web.view import WebView  # the HTTP server only when asked for

        web_cfg, generated = with_run_token(config.web, config.file)
        web = WebView(web_cfg, stats, live, blur=config.privacy.blur_faces)
        closing.callback(web.close)
        outputs.descriptions.append(web.description)
        if generated is not None:
            announce_token(web.url, web_cfg.token or "", generated)
    return outputs


@dataclass(frozen=True)
class RunParts:
    """A run's pieces that its report reads after the pipeline is done."""

    source: Source
    analyzer: FrameAnalyzer
    classifier: TFLiteClassifier
    outputs: Outputs


def run_pipeline(
    config: Config,
    stop: threading.Event,
    max_frames: int | None = None,
    summary_json: Path | None = None,
    signals: SignalRequests | None = None,
) -> int:
    """Build the stages and outputs, run until the source ends or `stop`, report; exit code.

    `signals`, when given, also watches the run: SIGHUP reopens the outputs, SIGUSR1 logs
    the stats."""
    spec = resolve_source(config.source)  # the source first: a typo fails fast
    # the Pi camera's DRM preview, if any
    preview = camera_preview(config.display, spec.kind, config.privacy.blur_faces)
    source = make_source(config.source, preview=preview)
    if summary_json is not None:
        require_writable(summary_json, "--summary-json", "a writable file")
    with contextlib.ExitStack() as closing:  # closes in reverse order of opening
        stages = closing.enter_context(open_stages(config))
        stats = PipelineStats(model_name=stages.classifier.name)
        live = LiveState()  # what the pipeline's threads and the web view share
        outputs = build_outputs(
            config,
            stages.classifier.labels,
            stages.classifier.name,
            stats,
            live,
            stop=stop,
            preview=preview,
            closing=closing,
        )
        parts = RunParts(source, stages.analyzer, stages.classifier, outputs)
        if signals is not None:
            signals.serve(outputs.sinks)
            outputs.supervisors.append(signals)
        pipeline, elapsed_s = run_built(config, parts, stats, live, stop, max_frames)
    code = report(config, parts, build_run_summary(config, parts, stats, elapsed_s), summary_json)
    if pipeline.stuck:
        end_process_now(code)
    return code


def run_built(
    config: Config,
    parts: RunParts,
    stats: PipelineStats,
    live: LiveState,
    stop: threading.Event,
    max_frames: int | None,
) -> tuple[Pipeline, float]:
    """Run the pipeline over opened parts; the pipeline and how long it ran."""
    # a no-op outside systemd; paused (edge.sinks.mqtt.pause), frames are captured only
    notifier = ServiceNotifier(config.service.stall_after_s, paused=lambda: live.paused)
    outputs, classifier = parts.outputs, parts.classifier
    pipeline = Pipeline(
        parts.source,
        parts.analyzer,
        outputs.sinks,
        stop=stop,
        policy=FeedPolicy.from_config(config.source),
        stats=stats,
        max_frames=max_frames,
        viewers=outputs.viewers,
        supervisors=[notifier, *outputs.supervisors],
        live=live,
    )
    log.info(
        "running: %s -> %s (%s, %s threads), detector %s, outputs %s",
        parts.source.description,
        classifier.name,
        classifier.backend,
        classifier.threads,
        config.detector.model,
        ", ".join(outputs.descriptions) or "none",
    )
    started = time.monotonic()
    pipeline.run(stats_interval_s=config.stats.interval_s)
    return pipeline, time.monotonic() - started


def build_run_summary(
    config: Config, parts: RunParts, stats: PipelineStats, elapsed_s: float
) -> dict[str, Any]:
    classifier = parts.classifier
    return build_summary(
        stats,
        elapsed_s,
        {
            "model": classifier.name,
            "interpreter": classifier.backend,
            "threads": classifier.threads,
            "detector": config.detector.model,
            "source": valid_unicode(parts.source.description),
            "classifier_calls": parts.analyzer.classifier_calls,
            "reuse": reuse_state(config.reuse.enabled, classifier.multiply_adds_per_face),
            "results_not_written": sum(sink.not_written for sink in parts.outputs.sinks),
            "images_skipped": parts.source.skipped,
        },
    )


def report(
    config: Config, parts: RunParts, summary: dict[str, Any], summary_json: Path | None
) -> int:
    """Print the summary (and write it as JSON when asked); the run's exit code."""
    print_summary(summary)
    code = 1 if summary["results_not_written"] else 0  # the log and summary say how many
    if summary["images_skipped"] and not summary["frames_processed"]:
        log.error("%s: no usable image (each was skipped, see above)", parts.source.description)
        code = 1
    if summary_json is not None:
        try:
            summary_json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            log.error("--summary-json: %s not written (%s)", summary_json, exc.strerror)
            code = 1
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
