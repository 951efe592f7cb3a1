"""`emotion-edge`: run the pipeline, check a config. Errors are one line, never a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from edge import __version__
from edge.app.logs import setup_logging
from edge.app.memory import load_runtime
from edge.app.signals import RUN_REQUEST_SIGNALS, STOP_SIGNALS
from edge.config import (
    DEFAULT_CONFIG,
    DEMO_SAMPLE,
    Config,
    DetectorConfig,
    LoggingConfig,
    SourceConfig,
    load_config,
)
from edge.config.analysis import FacesConfig
from edge.config.view import DisplayConfig, web_address
from edge.errors import ConfigError, EdgeError

log = logging.getLogger("edge")

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


# flag -> (config key, argparse options)
RUN_OVERRIDES: dict[str, tuple[str, dict[str, Any]]] = {
    "--source": ("source.uri", {"help": "camera index, /dev/videoN, URL, file, folder or glob"}),
    "--source-kind": ("source.kind", {"choices": SourceConfig.choices("kind")}),
    "--realtime": (
        "source.realtime",
        {
            "type": parse_bool,
            "metavar": "BOOL",
            "help": "play files at their own rate (default true)",
        },
    ),
    "--loop": ("source.loop", {"type": parse_bool, "metavar": "BOOL"}),
    "--model": ("classifier.model", {"help": "emotion .tflite (its .json beside it)"}),
    "--threads": ("classifier.threads", {"type": int}),
    "--detector": ("detector.model", {"choices": DetectorConfig.choices("model")}),
    "--min-score": ("detector.min_score", {"type": float}),
    "--face-policy": ("faces.policy", {"choices": FacesConfig.choices("policy")}),
    "--output": ("output.jsonl", {"metavar": "FILE", "help": "JSON Lines file, or - for stdout"}),
    "--stats-interval": ("stats.interval_s", {"type": float, "metavar": "SECONDS"}),
    "--log-level": ("logging.level", {"choices": LoggingConfig.choices("level")}),
    "--mqtt-host": ("mqtt.host", {"help": "publish over MQTT to this broker (turns MQTT on)"}),
    "--mqtt-port": ("mqtt.port", {"type": int}),
    "--display": ("display.backend", {"choices": DisplayConfig.choices("backend")}),
    "--web": (
        "web.port",
        {
            "metavar": "[HOST:]PORT",
            "help": "serve the live view on PORT, of HOST when given "
            "(0.0.0.0:8080 for the network, [::]:8080 with IPv6)",
        },
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emotion-edge", description=__doc__)
    parser.add_argument("--version", action="version", version=f"emotion-edge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    _add_bench(sub)
    _add_small_commands(sub)
    return parser


def _add_run(sub: Any) -> None:
    run = sub.add_parser("run", help="run the pipeline")
    run.add_argument("--config", type=Path, help=f"config file (default {DEFAULT_CONFIG})")
    run.add_argument("--demo", action="store_true", help="run on the bundled sample clip")
    run.add_argument("--max-frames", type=int, help="stop after processing this many frames")
    run.add_argument(
        "--summary-json",
        type=Path,
        metavar="FILE",
        help="also write the end-of-run summary as JSON",
    )
    for flag, (key, options) in RUN_OVERRIDES.items():
        options = {"help": f"sets {key}", **options}
        run.add_argument(flag, dest=key, default=None, **options)


def _add_bench(sub: Any) -> None:
    bench = sub.add_parser("bench", help="measure stage times, throughput and latency")
    bench.add_argument("--config", type=Path, help="config for detector/face settings")
    bench.add_argument(
        "--source", type=Path, default=None, help="video file (default: the bundled demo clip)"
    )
    bench.add_argument(
        "--model",
        type=Path,
        action="append",
        dest="models",
        help="emotion model; repeat to compare several (default: config's)",
    )
    bench.add_argument("--json", type=Path, metavar="FILE", help="write the full report here")
    bench.add_argument(
        "--paced-seconds",
        type=float,
        default=130.0,
        help="length of the paced 30 fps run (default 130: two full minutes)",
    )
    bench.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    bench.add_argument(
        "--vgg19",
        action="store_true",
        help="also measure a VGG19-150 int8 (random weights; built once with "
        "TensorFlow into ~/.cache/emotion-edge/models/)",
    )


def _add_small_commands(sub: Any) -> None:
    snap = sub.add_parser("snapshot", help="write one annotated frame as an image")
    snap.add_argument("out", type=Path, help="image file to write (.png or .jpg)")
    snap.add_argument("--config", type=Path, help=f"config file (default {DEFAULT_CONFIG})")
    snap.add_argument("--source", help="camera, file or URL (default: the config's)")

    forget = sub.add_parser(
        "mqtt-forget", help="remove the device from Home Assistant, clear its retained topics"
    )
    forget.add_argument("--config", type=Path, help=f"config file (default {DEFAULT_CONFIG})")

    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument(
        "path", nargs="?", type=Path, default=None, help=f"config file (default {DEFAULT_CONFIG})"
    )


def _config_path(given: Path | None) -> Path | None:
    if given is not None:
        return given
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def config_from_args(args: argparse.Namespace) -> Config:
    given = vars(args)
    flags = {key: flag for flag, (key, _) in RUN_OVERRIDES.items() if given[key] is not None}
    overrides = {key: given[key] for key in flags}
    if "mqtt.host" in overrides:
        overrides["mqtt.enabled"] = True
    if "web.port" in overrides:
        try:
            host, overrides["web.port"] = web_address(overrides["web.port"])
        except ValueError as exc:
            raise ConfigError(f"--web: {exc}") from None
        overrides["web.enabled"] = True
        if host is not None:
            overrides["web.host"], flags["web.host"] = host, "--web"
    if args.demo:
        overrides.setdefault("display.backend", "none")  # the demo is headless unless asked
        overrides.setdefault("source.uri", str(DEMO_SAMPLE))
        overrides.setdefault("source.kind", "auto")
    return load_config(_config_path(args.config), overrides, flags)


def cmd_check_config(args: argparse.Namespace) -> int:
    path = _config_path(args.path)
    config = load_config(path)
    check_runnable(config, path)
    print(f"{path or 'defaults'}: OK")
    return EXIT_OK


def check_runnable(config: Config, path: Path | None) -> None:
    """What `run` refuses before it starts, refused here too (the unit's ExecStartPre), without
    opening a camera or loading a model: the files named must be there, the output writable."""
    from edge.app.outfile import require_writable
    from edge.config.source import resolve_source

    model = config.classifier.model_path
    if not model.is_file():
        raise ConfigError(f"{path}: classifier.model: {model} does not exist")
    config.detector.existing_model_file()
    resolve_source(config.source)  # a missing file or folder, as `run` says it
    if config.output.jsonl not in (None, "-", "auto"):
        require_writable(
            Path(config.output.jsonl).expanduser(), "output.jsonl", "a writable file or '-'"
        )
    if config.mqtt.enabled:
        config.mqtt.resolve_password()
    if config.web.enabled:
        config.web.resolve_token()  # token_env unset or weak: as `run` says it


def cmd_run(args: argparse.Namespace, stop: threading.Event) -> int:
    from edge.app.signals import SignalRequests

    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError(
            f"--max-frames: must be 1 or more (got {args.max_frames}); "
            "leave it out to run until the source ends or you stop it"
        )
    config = config_from_args(args)
    setup_logging(config.logging.level)
    run = load_runtime("edge.app.run")  # heavy imports (cv2, LiteRT) only for `run`
    signals = SignalRequests(stop)
    signals.install()
    if stop.is_set():
        log.info("stop requested while starting")
    code: int = run.run_pipeline(
        config, stop, max_frames=args.max_frames, summary_json=args.summary_json, signals=signals
    )
    return code


def cmd_bench(args: argparse.Namespace) -> int:
    from edge.app.bench import cached_models, run_bench
    from edge.app.bench.report import print_report

    config = load_config(_config_path(args.config))
    setup_logging("WARNING")
    source = args.source or DEMO_SAMPLE
    if not source.is_file():
        raise ConfigError(f"{source}: bench source not found (give --source VIDEO)")
    models = args.models or [config.classifier.model_path]
    try:
        models += cached_models(args.vgg19, models[0])
    except EdgeError as exc:  # no TensorFlow: measure what we have, say what is missing
        if args.vgg19:
            raise
        log.warning("no float twin for the float-vs-int8 comparison: %s", exc)
    report = run_bench(config, source, models, args.paced_seconds, args.quick)
    print_report(report, sys.stdout)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return EXIT_OK


def cmd_snapshot(args: argparse.Namespace) -> int:
    overrides = {"source.uri": args.source} if args.source else {}
    config = load_config(_config_path(args.config), overrides, {"source.uri": "--source"})
    setup_logging(config.logging.level)
    status = load_runtime("edge.app.snapshot").write_snapshot(config, args.out)
    print(f"{args.out}: {status}")
    return EXIT_OK


def main(argv: list[str] | None = None, stop: threading.Event | None = None) -> int:
    """`stop` is set by a signal that came before this was called (see edge.app.entry)."""
    stop = stop or threading.Event()
    args = build_parser().parse_args(argv)
    if args.command != "run":  # short commands: a stop request ends them as usual
        # their defaults again: entry.py held them back while a `run` might come
        for number in (*STOP_SIGNALS, *RUN_REQUEST_SIGNALS):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # after the loop: Ctrl-C
        if stop.is_set():
            return EXIT_INTERRUPTED
    setup_logging("INFO")
    try:
        if args.command == "check-config":
            return cmd_check_config(args)
        if args.command == "bench":
            return cmd_bench(args)
        if args.command == "snapshot":
            return cmd_snapshot(args)
        if args.command == "mqtt-forget":
            from edge.app.forget import forget_device

            config = load_config(_config_path(args.config))
            print(forget_device(config.mqtt, config_file=config.file))
            return EXIT_OK
        return cmd_run(args, stop)
    except ConfigError as exc:
        print(f"emotion-edge: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except EdgeError as exc:
        print(f"emotion-edge: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("emotion-edge: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
