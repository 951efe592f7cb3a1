"""`python -m convert evaluate`: a model's accuracy on labelled photos, through the device's path.

Each image goes through what the device runs on a camera frame (`edge.analysis.stages.open_stages`:
BlazeFace, the face policy, the crop, the classifier), so the figures are the device's, not
those of a separate preprocessing path. The largest face is classified (face policy
`largest` whatever the config says), reuse is off and the per-frame label is scored.

An image in which no face is found is taken as an already-cut face crop when it is small,
both sides at most `crop_max_px` (default twice the model's input, the size below which
`build` also treats an image as a crop), and classified whole, as the device classifies a
crop; a larger one is skipped and counted. Unreadable files are skipped and counted, as the
device's image source does.

The labelled folder has one sub-folder per label, or is one FER+ split (FER2013Test/ with
its label.csv): then its faces with a strict majority of votes are scored (convert/ferplus.py).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from convert import ferplus
from convert.common import ConvertError
from convert.dataset import find_images
from convert.evaluate_report import build_report, write_evaluation_report
from convert.evaluate_sample import PathTaken, Sample
from edge.analysis.model_meta import ModelMeta, load_model_meta
from edge.analysis.stages import Stages
from edge.app.outfile import require_writable_folder
from edge.errors import printable
from edge.sources.base import as_bgr
from edge.sources.images import read_image
from edge.types import Frame

log = logging.getLogger(__name__)

OUT_FIX = "another folder with --out"
PROGRESS_EVERY_S = 10.0  # a long run (VGG19: ~90 ms an image on a PC) says how far it is


@dataclass(frozen=True)
class EvaluateOptions:
    model: Path
    data: Path
    out: Path | None = None  # default: MODEL_DIR/<model stem>.eval-<data folder name>/
    config: Path | None = None  # the device's config.yaml (detector, margin, min face size)
    crop_max_px: int | None = None  # default: twice the model's larger input side


def check_model(model: Path) -> ModelMeta:
    if model.is_dir() or model.suffix.lower() in (".keras", ".h5", ".hdf5"):
        raise ConvertError(
            f"{model}: evaluate runs the .tflite the device runs; convert it first "
            f"(python -m convert build {model} --out NAME.tflite ...)"
        )
    if not model.is_file():
        raise ConvertError(f"{model}: model not found (give the .tflite that convert build wrote)")
    return load_model_meta(model)  # a missing or bad sidecar is a ModelError naming the .json


def prepare_out(out: Path) -> Path:
    """Create the output folder and prove it writable before the (long) run, not after."""
    return require_writable_folder(out, "--out", OUT_FIX, error=ConvertError)


def default_out(model: Path, data: Path) -> Path:
    return model.parent / f"{model.stem}.eval-{data.resolve().name or 'data'}"


def classify_one(
    stages: Stages, image_bgr: np.ndarray, index: int, crop_max_px: int
) -> tuple[PathTaken, int | None, float | None, int]:
    """(path, predicted index, its score, faces found) for one image, as the device sees it."""
    now = time.monotonic()
    result = stages.analyzer.analyze(Frame(index, image_bgr, now, time.time()))
    face = result.primary_face
    if face is not None:
        labels = stages.classifier.labels
        return "face", labels.index(face.label), face.confidence, len(result.detections)
    height, width = image_bgr.shape[:2]
    if max(height, width) > crop_max_px:
        return "no_face", None, None, 0
    probabilities = stages.classifier.classify(image_bgr).probabilities
    best = int(np.argmax(probabilities))
    return "whole_image", best, float(probabilities[best]), 0


def run_images(
    stages: Stages, data: Path, files: list[tuple[Path, int]], crop_max_px: int
) -> list[Sample]:
    samples: list[Sample] = []
    last_note = time.monotonic()
    for index, (path, truth) in enumerate(files):
        name = str(path.relative_to(data))
        image, problem = read_image(str(path))
        if image is None:
            log.warning("%s: %s, skipped", printable(str(path)), problem)
            samples.append(Sample(name, truth, "unreadable", reason=problem))
            continue
        taken, predicted, confidence, faces = classify_one(
            stages, as_bgr(image), index, crop_max_px
        )
        reason = ""
        if taken == "no_face":
            height, width = image.shape[:2]
            reason = f"no face found in a {width}x{height} image (over {crop_max_px} px: no crop)"
        samples.append(Sample(name, truth, taken, predicted, confidence, faces, reason))
        if time.monotonic() - last_note > PROGRESS_EVERY_S:
            last_note = time.monotonic()
            log.info("evaluate: %d of %d images", index + 1, len(files))
    return samples


def labelled_files(data: Path, labels: list[str]) -> tuple[list[tuple[Path, int]], list[str]]:
    """A FER+ split (label.csv: its strict-majority faces) or one folder per label."""
    if ferplus.is_split(data):
        return ferplus.scored_files(data, labels)
    if ferplus.is_ferplus(data):
        raise ConvertError(
            f"{data}: a FER+ folder with several splits; give one, e.g. "
            f"{data / ferplus.SPLITS['test']}"
        )
    return find_images(data, labels)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def evaluate(options: EvaluateOptions) -> dict[str, Any]:
    """Run the model over the labelled folder; write report.json/.md and confusion.png."""
    from edge.analysis.stages import open_stages
    from edge.config import load_config

    if options.crop_max_px is not None and options.crop_max_px < 1:
        raise ConvertError(f"--crop-max-px: must be 1 or more (got {options.crop_max_px})")
    meta = check_model(options.model)
    labels = list(meta.labels)
    files, missing = labelled_files(options.data, labels)
    config = load_config(options.config)
    # the largest face is what a frame's reported emotion describes; the rest is the device's
    faces = config.faces.model_copy(update={"policy": "largest"})
    config = config.model_copy(update={"faces": faces})
    crop_max_px = options.crop_max_px or 2 * max(meta.input_size_hw)
    out = prepare_out(options.out or default_out(options.model, options.data))
    if missing:
        log.info("no images for %s: their rows stay empty", ", ".join(missing))
    with open_stages(config, model=options.model, reuse=False) as stages:
        samples = run_images(stages, options.data, files, crop_max_px)
    classified = [s for s in samples if s.predicted is not None]
    if not classified:
        unreadable = sum(s.path == "unreadable" for s in samples)
        raise ConvertError(
            f"{options.data}: none of its {len(samples)} images could be classified "
            f"({unreadable} unreadable, {len(samples) - unreadable} without a face and over "
            f"{crop_max_px} px); add photos with a visible face or face crops"
        )
    report = build_report(
        model=options.model,
        meta=meta,
        sha256=sha256_of(options.model),
        data=options.data,
        config=options.config,
        samples=samples,
        missing=missing,
        crop_max_px=crop_max_px,
    )
    report["files"] = [str(p) for p in write_evaluation_report(report, out)]
    return report


def summary(report: dict[str, Any]) -> str:
    counts = report["counts"]
    return (
        f"{report['model']['name']} on {report['data']['folder']}: accuracy "
        f"{report['accuracy']:.1%}, macro-F1 {report['macro_f1']:.3f} over "
        f"{counts['classified']} images ({counts['face']} by a detected face, "
        f"{counts['whole_image']} whole as face crops); skipped {counts['no_face']} without "
        f"a face, {counts['unreadable']} unreadable\nreport: {', '.join(report['files'])}"
    )
