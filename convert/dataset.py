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
from edge.model_meta import Framing
from edge.sources.uri import IMAGE_SUFFIXES

log = logging.getLogger(__name__)


@dataclass
class LabelledImages:
    paths: list[Path]
    labels: list[int]
    classes: list[str]
    skipped: int = 0
    skipped_paths: list[Path] = field(default_factory=list)


def list_classes(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise ConvertError(f"{folder}: data folder not found (expected one sub-folder per class)")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise ConvertError(f"{folder}: no class sub-folders (e.g. {folder}/happy/*.jpg)")
    return classes


def scan(folder: Path, classes: list[str] | None = None) -> LabelledImages:
    """Every image below folder/<class>/, in name order; `classes` fixes the label order."""
    found = list_classes(folder)
    classes = classes or found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise ConvertError(
            f"{folder}: classes {unknown} are not among the model's labels {classes}"
        )
    paths, labels = [], []
    for index, name in enumerate(classes):
        for path in sorted((folder / name).glob("*")) if (folder / name).is_dir() else []:
            if path.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(path)
                labels.append(index)
    if not paths:
        raise ConvertError(f"{folder}: no images in its class folders")
    return LabelledImages(paths, labels, classes)


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
    """The device's detector and crop rule (edge/align.py), for images that are whole photos.

    `framing` is the model's (its sidecar's); None is the rule for sidecars without one,
    the box grown by `margin`, as the device applies `faces.margin`.
    """

    def __init__(self, framing: Framing | None = None, margin: float = 0.15) -> None:
        from edge.config import DetectorConfig
        from edge.detect import BlazeFaceDetector

        self.detector = BlazeFaceDetector(DetectorConfig())
        self.framing = framing
        self.margin = margin
        self._ts = 0

    def crop(self, image_bgr: np.ndarray, model_hw: tuple[int, int]) -> np.ndarray:
        """The largest face if the image is a photo bigger than the model's input; else as is."""
        from edge.align import frame_face

        height, width = image_bgr.shape[:2]
        if height <= 2 * model_hw[0] and width <= 2 * model_hw[1]:
            return image_bgr  # already a face crop, as in FER-style datasets
        self._ts += 1
        faces = self.detector.detect(image_bgr, self._ts)
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
