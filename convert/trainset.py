"""Training data decoded once into arrays, from either layout users have on disk.

- FER+ (convert/ferplus.py): FER2013Train/, FER2013Valid/, FER2013Test/ with label.csv;
  targets are the vote distributions, scored faces those with a strict majority.
- Class folders (convert/dataset.py): train/, valid/, test/, each with one folder per
  class; targets are one-hot, every readable image is scored.

A split is decoded to uint8 once and kept in the cache folder (an .npz keyed by what it was
made from), so an epoch never touches a PNG and a second run starts in a second.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from convert import ferplus
from convert.common import ConvertError
from convert.dataset import list_classes, load_image, scan
from edge.analysis.preprocess import resize_face
from edge.app.cache import cache_dir

log = logging.getLogger(__name__)
SPLIT_NAMES = ("train", "valid", "test")
CACHE_VERSION = 1
WARNED_UNREADABLE = 20  # one line each for the first ones, then a count


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # (N, size, size, channels) uint8
    targets: np.ndarray  # (N, classes) float32, rows sum to 1
    scored: np.ndarray  # (N,) int: the label index figures use, -1 where none
    skipped: int  # unreadable images left out

    @property
    def scored_images(self) -> np.ndarray:
        return self.images[self.scored >= 0]

    @property
    def scored_labels(self) -> np.ndarray:
        return self.scored[self.scored >= 0]


@dataclass(frozen=True)
class Dataset:
    layout: str  # "ferplus" | "folders"
    classes: list[str]
    splits: dict[str, Split]


def layout_of(data: Path) -> str:
    if not data.is_dir():
        raise ConvertError(
            f"{data}: data folder not found (give a FER+ folder or train/valid/test class folders)"
        )
    if ferplus.is_ferplus(data):
        return "ferplus"
    if all((data / name).is_dir() for name in SPLIT_NAMES):
        return "folders"
    missing = [name for name in SPLIT_NAMES if not (data / name).is_dir()]
    raise ConvertError(
        f"{data}: neither FER+ ({', '.join(f'{n}/label.csv' for n in ferplus.SPLITS.values())}) "
        f"nor class folders ({', '.join(f'{n}/<class>/' for n in SPLIT_NAMES)}; "
        f"{'/, '.join(missing)}/ missing)"
    )


def load(data: Path, size: int, channels: int, cache: Path | None = None) -> Dataset:
    layout = layout_of(data)
    if layout == "ferplus":
        classes = list(ferplus.LABELS)
    else:
        classes = list_classes(data / "train")
        for split in ("valid", "test"):
            if list_classes(data / split) != classes:
                raise ConvertError(
                    f"{data / split}: its class folders differ from train/'s {classes}"
                )
    splits = {
        split: _cached(data, layout, split, classes, size, channels, cache) for split in SPLIT_NAMES
    }
    return Dataset(layout, classes, splits)


def _decode(paths: list[Path], size: int, channels: int) -> tuple[np.ndarray, list[bool]]:
    images = np.zeros((len(paths), size, size, channels), np.uint8)
    readable, unreadable = [], 0
    for k, path in enumerate(paths):
        image = load_image(path)
        readable.append(image is not None)
        if image is None:
            unreadable += 1
            if unreadable <= WARNED_UNREADABLE:
                log.warning("%s: unreadable image, skipped", path)
        else:
            images[k] = resize_face(image, size, size, "grayscale" if channels == 1 else "rgb")
    if unreadable > WARNED_UNREADABLE:
        log.warning("%d unreadable images in all, skipped", unreadable)
    return images, readable


def _ferplus_split(data: Path, split: str, size: int, channels: int) -> Split:
    folder = ferplus.split_folder(data, split)
    faces = [face for face in ferplus.read_votes(folder / "label.csv") if face.kept]
    images, readable = _decode([folder / face.name for face in faces], size, channels)
    kept = [face for face, ok in zip(faces, readable, strict=True) if ok]
    if not kept:
        raise ConvertError(
            f"{folder}: none of the {len(faces)} images its label.csv names could be read "
            "(FERPlus ships the votes only: make the PNGs with its generate_training_data.py "
            "from fer2013.csv)"
        )
    return Split(
        images=images[np.array(readable, bool)],
        targets=np.stack([face.distribution() for face in kept]).astype(np.float32),
        scored=np.array([-1 if face.majority is None else face.majority for face in kept]),
        skipped=len(faces) - len(kept),
    )


def _folder_split(data: Path, split: str, classes: list[str], size: int, channels: int) -> Split:
    listed = scan(data / split, classes)
    images, readable = _decode(listed.paths, size, channels)
    labels = np.array([lab for lab, ok in zip(listed.labels, readable, strict=True) if ok])
    if not len(labels):
        raise ConvertError(f"{data / split}: no readable images in its class folders")
    return Split(
        images=images[np.array(readable, bool)],
        targets=np.eye(len(classes), dtype=np.float32)[labels],
        scored=labels,
        skipped=len(listed.paths) - len(labels),
    )


def _fingerprint(data: Path, layout: str, split: str, classes: list[str]) -> str:
    """What a cached split was made from: its files' names, sizes and times, its labels."""
    digest = hashlib.sha256(
        f"{CACHE_VERSION}:{cv2.__version__}:{layout}:{split}:{classes}".encode()
    )
    folder = data / (ferplus.SPLITS[split] if layout == "ferplus" else split)
    # os.walk with followlinks: a class folder may be a link, as list_classes allows
    for top, dirs, names in sorted(os.walk(folder, followlinks=True)):
        dirs.sort()
        for name in sorted(names):
            stat = (Path(top) / name).stat()
            where = Path(top, name).relative_to(data)
            digest.update(f"{where}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    label_csv = folder / "label.csv"
    if label_csv.is_file():
        digest.update(label_csv.read_bytes())
    return digest.hexdigest()[:16]


def _cached(
    data: Path,
    layout: str,
    split: str,
    classes: list[str],
    size: int,
    channels: int,
    cache: Path | None,
) -> Split:
    folder = cache or cache_dir() / "datasets"
    key = _fingerprint(data, layout, split, classes)
    stem = f"{data.resolve().name}-{split}-{size}px-{channels}ch"
    path = folder / f"{stem}-{key}.npz"
    if path.is_file():
        try:
            with np.load(path) as saved:
                return Split(
                    saved["images"], saved["targets"], saved["scored"], int(saved["skipped"])
                )
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("%s: unreadable cache (%s), decoding the images again", path, exc)
    log.info("decoding %s/%s at %d px (once; cached in %s)", data, split, size, folder)
    if layout == "ferplus":
        made = _ferplus_split(data, split, size, channels)
    else:
        made = _folder_split(data, split, classes, size, channels)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part.npz")
        np.savez(
            partial,
            images=made.images,
            targets=made.targets,
            scored=made.scored,
            skipped=made.skipped,
        )
        partial.replace(path)
        for older in folder.glob(f"{stem}-*.npz"):  # what the same split was made from before
            if older != path:
                older.unlink(missing_ok=True)
    except OSError as exc:  # a cache is a convenience: training goes on without it
        log.warning("%s: cannot keep the decoded images (%s)", folder, exc.strerror)
    return made
