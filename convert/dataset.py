"""Image folders as the original design laid them out: one sub-folder per class.

Calibration and evaluation read images the way the device sees faces: a whole photo
is cropped to its face with the device's own detector and crop rule; a face crop is
used as it is. Unreadable images are skipped and counted, never fatal.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from convert.common import ConvertError
from edge.analysis.model_meta import DEFAULT_MARGIN, Framing
from edge.config.source import IMAGE_SUFFIXES
from edge.errors import printable

log = logging.getLogger(__name__)


@dataclass
class LabelledImages:
    paths: list[Path]
    labels: list[int]
    classes: list[str]
    skipped: int = 0
    skipped_paths: list[Path] = field(default_factory=list)


def list_classes(folder: Path) -> list[str]:
    """The class sub-folders' names, sorted; hidden ones (.ipynb_checkpoints) are not classes."""
    _check_folder(folder)
    try:
        classes = _class_folders(folder)
    except OSError as exc:  # a folder this user may not read
        raise ConvertError(f"{exc.filename}: cannot be read ({exc.strerror})") from None
    if not classes:
        raise ConvertError(f"{folder}: no class sub-folders (e.g. {folder}/happy/*.jpg)")
    return classes


def scan(folder: Path, classes: list[str] | None = None) -> LabelledImages:
    """Every image below folder/<class>/, in name order; `classes` fixes the label order."""
    classes = classes or list_classes(folder)
    files, _ = find_images(folder, classes)
    return LabelledImages([path for path, _ in files], [index for _, index in files], classes)


def _check_folder(data: Path) -> None:
    if not data.exists():
        raise ConvertError(f"{data}: data folder not found (one sub-folder per class)")
    if not data.is_dir():
        raise ConvertError(f"{data}: not a folder (give a folder with one sub-folder per class)")


def _class_folders(data: Path) -> list[str]:
    return sorted(p.name for p in data.iterdir() if p.is_dir() and not p.name.startswith("."))


def _has_folders(folder: Path) -> bool:
    try:
        return any(p.is_dir() for p in folder.iterdir())
    except OSError:
        return False


def _not_labels_message(data: Path, unknown: list[str], labels: list[str]) -> str:
    by_lower = {label.lower(): label for label in labels}
    renames = [
        f"{name} -> {by_lower[name.lower()]}" for name in unknown if name.lower() in by_lower
    ]
    if renames:
        fix = f"labels are case-sensitive: rename {', '.join(renames)}"
    elif all(_has_folders(data / name) for name in unknown):
        fix = f"this looks like a dataset root: give one split, e.g. {data / unknown[0]}"
    else:
        fix = "rename each to one of the labels, or move it out of the folder"
    return (
        f"{data}: folder(s) {printable(', '.join(unknown))} are not among the model's labels "
        f"({', '.join(labels)}); {fix}"
    )


def find_images(data: Path, labels: list[str]) -> tuple[list[tuple[Path, int]], list[str]]:
    """(image, label index) for every image file in data/<label>/, and labels with none.

    A folder that is not a label is an error, not skipped: a misspelt class would otherwise
    drop its images without anyone noticing. Hidden folders (.ipynb_checkpoints) are ignored.
    """
    _check_folder(data)
    try:
        return _list_images(data, labels)
    except OSError as exc:  # a folder this user may not read
        raise ConvertError(f"{exc.filename}: cannot be read ({exc.strerror})") from None


def _list_images(data: Path, labels: list[str]) -> tuple[list[tuple[Path, int]], list[str]]:
    folders = _class_folders(data)
    if not folders:
        raise ConvertError(
            f"{data}: no class sub-folders (put the images in "
            f"{', '.join(f'{data / label}/' for label in labels[:2])}, ... named after the "
            "model's labels)"
        )
    unknown = [name for name in folders if name not in labels]
    if unknown:
        raise ConvertError(_not_labels_message(data, unknown, labels))
    files = [
        (path, index)
        for index, label in enumerate(labels)
        if label in folders
        for path in sorted((data / label).iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not files:
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        raise ConvertError(f"{data}: no images in its class folders ({suffixes})")
    counted = {index for _, index in files}
    return files, [label for i, label in enumerate(labels) if i not in counted]


def balanced_sample(images: LabelledImages, count: int, seed: int = 0) -> LabelledImages:
    """Up to `count` images, as evenly spread over the classes as the data allows."""
    rng = random.Random(seed)
    by_class: dict[int, list[Path]] = {}
    for path, label in zip(images.paths, images.labels, strict=True):
        by_class.setdefault(label, []).append(path)
    for paths in by_class.values():
        rng.shuffle(paths)
    chosen: list[tuple[Path, int]] = []
    while len(chosen) < count and any(by_class.values()):
        for label in sorted(by_class):
            if by_class[label] and len(chosen) < count:
                chosen.append((by_class[label].pop(), label))
    return LabelledImages([p for p, _ in chosen], [lab for _, lab in chosen], images.classes)


class FaceCropper:
    """The device's detector and crop rule (edge/analysis/align.py), for whole photos.

    `framing` is the model's (its sidecar's); None is the rule for sidecars without one,
    the box grown by `margin`, as the device applies `faces.margin`.
    """

    def __init__(self, framing: Framing | None = None, margin: float = DEFAULT_MARGIN) -> None:
        from edge.analysis.blazeface import BlazeFaceDetector
        from edge.config import DetectorConfig

        self.detector = BlazeFaceDetector(DetectorConfig())
        self.framing = framing
        self.margin = margin

    def crop(self, image_bgr: np.ndarray, model_hw: tuple[int, int]) -> np.ndarray:
        """The largest face if the image is a photo bigger than the model's input; else as is."""
        from edge.analysis.align import frame_face

        height, width = image_bgr.shape[:2]
        if height <= 2 * model_hw[0] and width <= 2 * model_hw[1]:
            return image_bgr  # already a face crop, as in FER-style datasets
        faces = self.detector.detect(image_bgr)
        if not faces:
            return image_bgr
        face = max(faces, key=lambda d: d.area_px)
        return frame_face(
            image_bgr,
            face.box_xywh,
            face.keypoints_xy,
            self.framing,
            margin=self.margin,
            model_hw=model_hw,
        ).image_bgr

    def close(self) -> None:
        self.detector.close()


def load_image(path: Path) -> np.ndarray | None:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return image if image is not None and image.size else None
