"""`python -m convert default-model`: the bundled emotion model, rebuilt from FER+ by our code.

1. Train `vgg-compact` on FER2013Train with the recorded recipe (seed included); FER2013Valid
   picks the best epoch (convert/train.py).
2. Calibrate int8 on FER+ training faces (a class-balanced sample), and measure float vs
   int8 on every scored FER2013Test face, faces calibration never saw.
3. Choose `smoothing.min_confidence` on FER2013Valid (convert/confidence.py).
4. Measure the int8 model through the device's own path on FER2013Test (`convert evaluate`)
   and write its figures, the recipe and the file's sha256 into the sidecar.
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from convert import ferplus, runstate
from convert.common import ConvertError, sha256_of, tensorflow, write_output
from convert.confidence import choose_min_confidence, confidence_figures
from convert.int8 import (
    check_classifier,
    convert_float,
    convert_int8,
    mirror_averaged,
    mirror_passes,
    passes_agreement,
    write_model,
)
from convert.report import metrics
from convert.runstate import files_for
from convert.train import TrainOptions, train
from convert.trainset import Split, load
from edge.analysis.model_meta import FER_STYLE_FRAMING, SCHEMA, ModelMeta
from edge.app.cache import cache_dir

log = logging.getLogger(__name__)

NAME = "emotion_ferplus_vgg_compact_int8"
SEED = 0
EPOCHS = 30
CALIBRATION_FACES = 700  # 100 a class where FER+ has them (disgust has fewer)
MACHINE_NOTE = "trained on 2 x86-64 cores without a GPU"


def recipe(data: Path, work: Path, resume: bool = False) -> TrainOptions:
    return TrainOptions(
        data=data,
        out=work / "vgg_compact.keras",
        arch="vgg-compact",
        epochs=EPOCHS,
        batch=64,
        patience=8,
        learning_rate=1e-3,
        seed=SEED,
        resume=resume,
    )


def calibration_sample(split: Split, count: int, seed: int) -> np.ndarray:
    """Up to count // classes faces of each strict-majority class, in a fixed order."""
    rng = np.random.default_rng(seed)
    classes = int(split.targets.shape[1])
    chosen = []
    for label in range(classes):
        where = np.flatnonzero(split.scored == label)
        chosen.extend(rng.permutation(where)[: count // classes].tolist())
    return split.images[np.sort(chosen)]


def _sidecar(tf_version: str, report: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "name": "ferplus-vgg-compact-int8",
        "labels": list(ferplus.LABELS),
        "input_size_hw": [report["input"]["size"]] * 2,
        "color_mode": "grayscale",
        "normalization": {"scale": 1 / 255, "offset": 0.0},
        "output": "probabilities",
        "framing": FER_STYLE_FRAMING.model_dump(),
        "source": {
            "trained_by": "python -m convert default-model (this project's code)",
            "data": "FER+ (FER2013 faces, Microsoft FERPlus votes, MIT): FER2013Train "
            "to train, FER2013Valid to pick the epoch and min_confidence",
            "arch": report["arch"],
            "seed": report["seed"],
            "epochs_run": report["epochs_run"],
            "best_epoch": report["best_epoch"],
            "train_minutes": round(report["train_seconds"] / 60, 1),
            "machine": MACHINE_NOTE,
            "license": "Apache-2.0 (the project's; weights trained here)",
        },
        "conversion": {
            "tool": "python -m convert default-model",
            "tensorflow": tf_version,
            "input_type": "int8",
            "output_type": "int8",
        },
    }


def _scored_inputs(split: Split) -> tuple[np.ndarray, np.ndarray]:
    return split.scored_images.astype(np.float32) / 255.0, split.scored_labels


def _figures(passes: dict[str, np.ndarray], truth: np.ndarray) -> dict[str, Any]:
    """What the device reports (the mirror average), float and int8, and how they agree."""
    labels = list(ferplus.LABELS)
    averaged = {kind: mirror_averaged(passes, kind) for kind in ("float", "int8")}
    right = averaged["int8"].argmax(axis=1) == truth
    return {
        "agreement": passes_agreement(passes),
        "float": metrics(truth.tolist(), averaged["float"].argmax(axis=1).tolist(), labels),
        "int8": metrics(truth.tolist(), averaged["int8"].argmax(axis=1).tolist(), labels),
        "confidence": confidence_figures(averaged["int8"].max(axis=1).tolist(), right.tolist()),
    }


def _trained(data: Path, work: Path, resume: bool) -> tuple[TrainOptions, dict[str, Any]]:
    """The recipe's finished run in `work` (reused), else a run trained (or resumed) now."""
    options = recipe(data, work, resume)
    files = files_for(options.out)
    state, done = runstate.read_state(files), runstate.finished(files)
    if (
        not resume
        and done
        and state
        and not runstate.differences(state["options"], asdict(options))
    ):
        log.info("using the finished training run in %s", work)
        return options, done
    report = train(options)
    if report.get("interrupted"):
        raise ConvertError(f"training interrupted: continue with --resume (files in {work})")
    return options, report


def build_default_model(
    data: Path, out_dir: Path, work: Path | None = None, resume: bool = False
) -> dict[str, Any]:
    if not ferplus.is_ferplus(data):
        raise ConvertError(
            f"{data}: not a FER+ folder (FER2013Train/label.csv, ...); the default model is "
            f"trained on FER+: give its folder with --data"
        )
    work = work or cache_dir() / "default-model"
    options, report = _trained(data, work, resume)
    tf = tensorflow()
    best = files_for(options.out)["best"]
    model = tf.keras.models.load_model(str(best), compile=False)
    check_classifier(model, ferplus.LABELS, str(best))
    splits = load(data, options.input_size(), options.channels(), options.cache).splits
    calibration = calibration_sample(splits["train"], CALIBRATION_FACES, SEED)
    tflite = _int8(tf, model, calibration)
    note = (
        f"{len(calibration)} FER+ training faces, up to "
        f"{CALIBRATION_FACES // len(ferplus.LABELS)} of each strict-majority class "
        f"(seed {SEED})"
    )
    sidecar, test = _measured_sidecar(tf.__version__, report, (model, tflite), splits, note)
    # built and measured in the work folder; models/ gets both files only once all is known
    staged = work / f"{NAME}.tflite"
    write_output(staged, tflite)
    sidecar["figures"]["device_path_ferplus_test"] = _device_figures(staged, data, work, sidecar)
    sidecar["sha256"] = sha256_of(tflite)
    target = out_dir / staged.name
    write_model(target, tflite, sidecar)
    # the float twin, for the bench's float-vs-int8 figures on this PC (edge/app/bench); not shipped
    twin = cache_dir() / "models" / target.name.replace("int8", "float32")
    write_model(twin, convert_float(model), {**sidecar, "name": "ferplus-vgg-compact-float32"})
    return {
        "model": str(target),
        "sha256": sidecar["sha256"],
        "bytes": len(tflite),
        "train": report,
        "figures": sidecar["figures"],
        "float_vs_int8": test["agreement"],
    }


def _int8(tf: Any, model: Any, calibration: np.ndarray) -> bytes:
    """The int8 TFLite of `model`, calibrated on `calibration`'s faces in their order."""

    def batches() -> Iterator[np.ndarray]:
        for face in calibration:
            yield (face.astype(np.float32) / 255.0)[np.newaxis]

    tf.random.set_seed(SEED)
    return convert_int8(model, batches, "int8")


def _measured_sidecar(
    tf_version: str,
    report: dict[str, Any],
    models: tuple[Any, bytes],
    splits: dict[str, Split],
    calibration_note: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The sidecar with float vs int8 (the Keras model and its int8 TFLite) on FER2013Test,
    mirror averaged, and the min_confidence chosen on FER2013Valid; and the test figures."""
    model, tflite = models
    test_x, test_y = _scored_inputs(splits["test"])
    valid_x, valid_y = _scored_inputs(splits["valid"])
    test = _figures(mirror_passes(model, tflite, test_x, batch_size=256), test_y)
    valid = mirror_averaged(mirror_passes(model, tflite, valid_x, batch_size=256), "int8")
    sidecar = _sidecar(tf_version, report)
    ModelMeta.model_validate(sidecar)
    sidecar["conversion"] |= {
        "calibration": calibration_note,
        "float_vs_int8_ferplus_test": test["agreement"],
    }
    sidecar["figures"] = {
        "ferplus_test_faces": len(test_y),
        "float_mirror_averaged": test["float"],
        "int8_mirror_averaged": test["int8"],
        "int8_confidence": test["confidence"],
        "min_confidence_from_valid": choose_min_confidence(
            valid.max(axis=1).tolist(), (valid.argmax(axis=1) == valid_y).tolist()
        ),
    }
    return sidecar, test


def _device_figures(
    target: Path, data: Path, work: Path, sidecar: dict[str, Any]
) -> dict[str, Any]:
    """`convert evaluate` on FER2013Test: BlazeFace, the sidecar's framing, mirror average."""
    from convert.evaluate import EvaluateOptions, evaluate

    write_output(target.with_suffix(".json"), (json.dumps(sidecar, indent=2) + "\n").encode())
    out = work / "evaluate-ferplus-test"
    report = evaluate(EvaluateOptions(target, data / ferplus.SPLITS["test"], out=out))
    shutil.copy(out / "confusion.png", work / "confusion.png")
    return {
        "command": f"python -m convert evaluate models/{target.name} FER2013Test",
        "images": report["counts"]["classified"],
        "by_detected_face": report["counts"]["face"],
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "recall": report["recall"],
        "expected_calibration_error": report["confidence"]["expected_calibration_error"],
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
