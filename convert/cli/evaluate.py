"""`python -m convert evaluate`: its options and the summary it prints."""

from __future__ import annotations

import argparse
from pathlib import Path

from convert.cli import Command, options_from


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="the .tflite (its .json sidecar beside it)")
    parser.add_argument("data", type=Path, help="one sub-folder per label: whole photos or crops")
    parser.add_argument("--out", type=Path, help="report folder (default: MODEL.eval-DATA/)")
    parser.add_argument("--config", type=Path, help="the device's config.yaml (detector, crop)")
    parser.add_argument(
        "--crop-max-px",
        type=int,
        metavar="PX",
        help="an image without a face found, both sides at most PX, is classified whole as a "
        "face crop (default: twice the model's input)",
    )


def run_evaluate(args: argparse.Namespace) -> int:
    from convert.evaluate import EvaluateOptions, evaluate, summary

    print(summary(evaluate(options_from(EvaluateOptions, args))))
    return 0


COMMAND = Command(
    "evaluate",
    "a .tflite model's accuracy on labelled photos, as the device runs it",
    add_evaluate_arguments,
    run_evaluate,
)
