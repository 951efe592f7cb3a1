"""`python -m convert build`: its options and the lines it prints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from convert.cli import Command, options_from
from convert.common import ConvertError
from edge.analysis.model_meta import DEFAULT_MARGIN

FER_STYLE_SPEC = f"margin={DEFAULT_MARGIN},square=true,align=eyes"


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    _add_model_arguments(parser)
    _add_input_arguments(parser)
    _add_quality_arguments(parser)


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help=".keras, .h5/.hdf5 or a SavedModel folder")
    parser.add_argument("--out", type=Path, required=True, help="the .tflite to write")
    labels = parser.add_mutually_exclusive_group(required=True)
    labels.add_argument("--labels", help="class names in output order, comma separated")
    labels.add_argument(
        "--labels-from",
        type=Path,
        metavar="FOLDER",
        help="class names from a dataset folder's sub-folders (sorted), as `train` uses them",
    )
    parser.add_argument(
        "--calibration",
        type=Path,
        required=True,
        metavar="FOLDER",
        dest="calibration_dir",
        help="images to calibrate with, one sub-folder per class",
    )
    parser.add_argument("--calibration-count", type=int, default=300)


def _add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--io",
        choices=["int8", "uint8"],
        default="int8",
        dest="io_type",
        help="type of the input and output tensors",
    )
    parser.add_argument(
        "--color", choices=["rgb", "bgr", "grayscale"], default=None, dest="color_mode"
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1 / 255,
        help="input = pixel * scale + offset (default 1/255)",
    )
    parser.add_argument("--offset", type=float, default=0.0)


def _add_quality_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report",
        type=Path,
        metavar="FOLDER",
        dest="report_dir",
        help="labelled images to compare float and int8 on (e.g. DATA/test)",
    )
    parser.add_argument(
        "--fail-under",
        type=float,
        metavar="AGREEMENT",
        help="exit 1 when float/int8 top-1 agreement is below this (0-1)",
    )
    parser.add_argument("--name", help="model name in the sidecar and in results")
    parser.add_argument(
        "--framing",
        default=FER_STYLE_SPEC,
        metavar="SPEC",
        help="how the training faces were cut out (the device will cut the same): "
        "margin=F,square=true|false,align=eyes|none (default: FER-style, square and upright), "
        "or none: the box grown by faces.margin, as seen",
    )


def run_build(args: argparse.Namespace) -> int:
    from convert.build import BuildOptions, build, parse_framing
    from convert.dataset import list_classes

    if args.labels_from:
        labels = list_classes(args.labels_from)
    else:
        labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    options = options_from(BuildOptions, args, labels=labels, framing=parse_framing(args.framing))
    report = build(options)
    print(
        f"wrote {args.out} ({report['model']['tflite_bytes']:,} bytes; calibrated on "
        f"{report['calibration']['images']} images, {report['calibration']['skipped']} "
        "skipped)"
    )
    quality = report.get("quality")
    if quality:
        print(_quality_line(quality, report["files"]))
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


def _quality_line(quality: dict[str, Any], files: list[str]) -> str:
    return (
        f"float vs int8 top-1 agreement {quality['top1_agreement']:.1%} on "
        f"{quality['agreement']['images']} {_which_images(quality)} images "
        f"({quality['agreement']['top1_agreement_clear']:.1%} where float is clear); "
        "accuracy float "
        f"{quality['float']['accuracy']:.1%}, int8 {quality['int8']['accuracy']:.1%}; "
        f"report: {', '.join(files)}"
    )


def _which_images(quality: dict[str, Any]) -> str:
    if quality["used_for_calibration"] == quality["images"]:
        return "calibration (none held out: give --report other faces)"
    return "held-out"


COMMAND = Command(
    "build",
    "Keras classifier -> int8 TFLite + sidecar + report",
    add_build_arguments,
    run_build,
)
