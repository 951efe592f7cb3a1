"""`python -m convert train` and `default-model`: their options, checks and summaries."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from convert.archs import ARCHS
from convert.cli import ROOT, Command, agreement_lines, options_from
from convert.common import ConvertError
from convert.ferplus import SHARED_FERPLUS

ARCH_HELP = "; ".join(
    f"{name}: {arch.what}, {arch.size} px {arch.color}" for name, arch in ARCHS.items()
)


class DefaultsShown(argparse.HelpFormatter):
    """--help gives each option's default, unless there is none or its help says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


def add_default_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=SHARED_FERPLUS,
        help="the FER+ folder (FER2013Train/, FER2013Valid/, FER2013Test/ with label.csv)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "models")
    parser.add_argument(
        "--work",
        type=Path,
        help="where training keeps its checkpoints (default: ~/.cache/emotion-edge/default-model)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted training run"
    )


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    _add_what_to_train(parser)
    _add_how_to_train(parser)


def _add_what_to_train(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data",
        type=Path,
        help="a FER+ folder (FER2013Train/, FER2013Valid/, FER2013Test/ with label.csv) "
        "or one with train/, valid/, test/, each holding one sub-folder per class",
    )
    parser.add_argument("--out", type=Path, required=True, help="the .keras file to write")
    parser.add_argument("--arch", choices=sorted(ARCHS), default="vgg-compact", help=ARCH_HELP)
    parser.add_argument(
        "--size", type=int, help="input side in pixels (default: the arch's, 48 or 150)"
    )
    parser.add_argument(
        "--color",
        choices=["rgb", "grayscale"],
        help="input colour (default: the arch's, grayscale or rgb)",
    )


def _add_how_to_train(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=30, help="at most this many epochs")
    parser.add_argument("--batch", type=int, default=64, help="images per step")
    parser.add_argument(
        "--patience",
        type=int,
        default=8,
        help="stop after this many epochs without a better validation accuracy",
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        help="AdamW's peak rate, decayed by a cosine (default: the arch's, 0.001 or 0.0001)",
    )
    parser.add_argument("--seed", type=int, default=0, help="makes a run repeatable")
    parser.add_argument(
        "--limit", type=int, metavar="N", help="at most N faces per split (a quick trial)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run whose files are beside --out (after Ctrl-C or to add epochs)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        metavar="FOLDER",
        help="where the decoded images are kept (default: ~/.cache/emotion-edge/datasets)",
    )
    parser.add_argument(
        "--imagenet-weights",
        type=Path,
        help="--arch vgg19 only: a local VGG19 no-top weights .h5 (nothing is downloaded)",
    )


def check_numbers(args: argparse.Namespace) -> None:
    """Each bad number is one line naming the option, before anything is loaded."""
    for name in ("epochs", "batch", "size", "limit", "patience"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ConvertError(f"--{name} {value}: must be 1 or more")
    if args.learning_rate is not None and not 0 < args.learning_rate < 1:
        raise ConvertError(f"--learning-rate {args.learning_rate}: must be between 0 and 1")
    if not 0 <= args.seed < 2**32:
        raise ConvertError(f"--seed {args.seed}: must be between 0 and 4294967295")


def run_default_model(args: argparse.Namespace) -> int:
    from convert.default_model import build_default_model

    report = build_default_model(args.data, args.out, args.work, args.resume)
    figures, device = report["figures"], report["figures"]["device_path_ferplus_test"]
    print(train_summary(report["train"]))
    print(
        f"wrote {report['model']} ({report['bytes']:,} bytes, sha256 {report['sha256']})\n"
        f"FER2013Test through the device's path: accuracy {device['accuracy']:.1%}, macro-F1 "
        f"{device['macro_f1']:.3f} on {device['images']} faces\n"
        + agreement_lines("FER2013Test", report["float_vs_int8"])
        + f"\nsmoothing.min_confidence from FER2013Valid: {figures['min_confidence_from_valid']}"
    )
    return 0


def run_train(args: argparse.Namespace) -> int:
    from convert.train import TrainOptions, train

    check_numbers(args)
    report = train(options_from(TrainOptions, args))
    print(train_summary(report))
    return 130 if report["interrupted"] else 0


def train_summary(report: dict[str, Any]) -> str:
    files = report["files"]
    lines = [
        f"{report['epochs_run']} epochs in {report['train_seconds'] / 60:.1f} min; best "
        f"validation accuracy {report['best_val_accuracy']:.1%} at epoch {report['best_epoch']}"
    ]
    if report["interrupted"]:
        lines.append(
            f"interrupted: the best model so far is {files['best']}; continue with the same "
            "command and --resume"
        )
    else:
        test = report["test"]
        lines.append(
            f"test ({report['scored_faces']['test']} faces): accuracy {test['accuracy']:.1%}, "
            f"macro-F1 {test['macro_f1']:.3f}"
        )
    lines.append(
        f"wrote {files['best']} (best), {files['curve']}, {files['report']}; make it int8 "
        f"with: python -m convert build {files['best']} --labels {','.join(report['classes'])} "
        "--calibration FOLDER --out MODEL.tflite"
    )
    return "\n".join(lines)


COMMANDS = (
    Command(
        "default-model",
        "rebuild the bundled emotion model: train on FER+, int8, measure (about an hour)",
        add_default_model_arguments,
        run_default_model,
        DefaultsShown,
    ),
    Command(
        "train",
        "train an emotion classifier on FER+ or DATA/{train,valid,test}/<class>/",
        add_train_arguments,
        run_train,
        DefaultsShown,
    ),
)
