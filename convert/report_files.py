"""The files a report is written as: JSON, Markdown and a confusion-matrix picture.

`convert build` (float vs int8) and `convert evaluate` (accuracy) both write theirs here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from convert.common import ConvertError
from edge.app.outfile import unwritable, write_file

CELL_PX = 64  # one matrix cell in the picture
PAD_PX = 12  # white border right of and below the matrix
FONT = cv2.FONT_HERSHEY_SIMPLEX
INK = (0, 0, 0)
OUTLINE = (215, 215, 215)  # so that empty cells still read as a grid
DARKEST = np.array((150, 70, 20), np.float64)  # BGR of a cell holding a whole row

ReportFile = dict[str, Any] | str | np.ndarray


def _text(image: np.ndarray, text: str, xy: tuple[int, int], scale: float, color=INK) -> None:
    cv2.putText(image, text, xy, FONT, scale, color, 1, cv2.LINE_AA)


def _width(text: str, scale: float) -> int:
    return cv2.getTextSize(text, FONT, scale, 1)[0][0]


def _turned(strip: np.ndarray) -> np.ndarray:
    """A strip drawn left to right, turned to read bottom to top (OpenCV draws no angle)."""
    return cv2.rotate(strip, cv2.ROTATE_90_COUNTERCLOCKWISE)


def confusion_picture(matrix: np.ndarray, labels: list[str], title: str) -> np.ndarray:
    """Counts in cells shaded by their share of the row; truth down the left, predicted on top.

    The matrix is the bottom-right square of CELL_PX * len(labels), PAD_PX from the edges.
    """
    grid = CELL_PX * len(labels)
    label_px = max(_width(label, 0.5) for label in labels) + 14
    axis_px, title_px = 24, 34
    width = max(axis_px + label_px + grid + PAD_PX, _width(title, 0.55) + 20)
    height = title_px + axis_px + label_px + grid + PAD_PX
    left, top = width - PAD_PX - grid, height - PAD_PX - grid
    image = np.full((height, width, 3), 255, np.uint8)
    _text(image, title, (10, 24), 0.55)
    _text(image, "predicted", (left + (grid - _width("predicted", 0.5)) // 2, title_px + 16), 0.5)
    columns = np.full((grid, label_px, 3), 255, np.uint8)
    truth = np.full((axis_px, grid, 3), 255, np.uint8)
    _text(truth, "truth", ((grid - _width("truth", 0.5)) // 2, axis_px - 7), 0.5)
    image[top : top + grid, left - label_px - axis_px : left - label_px] = _turned(truth)
    share = matrix / matrix.sum(axis=1, keepdims=True).clip(min=1)
    for i, label in enumerate(labels):
        middle = i * CELL_PX + CELL_PX // 2 + 5
        _text(columns, label, (6, middle), 0.5)
        _text(image, label, (left - 8 - _width(label, 0.5), top + middle), 0.5)
        for j in range(len(labels)):
            x, y, s = left + j * CELL_PX, top + i * CELL_PX, float(share[i, j])
            fill = np.round(255 + s * (DARKEST - 255)).astype(int).tolist()
            cv2.rectangle(image, (x, y), (x + CELL_PX - 3, y + CELL_PX - 3), fill, -1)
            cv2.rectangle(image, (x, y), (x + CELL_PX - 3, y + CELL_PX - 3), OUTLINE, 1)
            ink = (255, 255, 255) if s > 0.55 else INK
            number = str(int(matrix[i, j]))
            _text(image, number, (x + (CELL_PX - _width(number, 0.55)) // 2, y + 30), 0.55, ink)
            if matrix[i, j]:
                part = f"{s:.0%}"
                _text(image, part, (x + (CELL_PX - _width(part, 0.4)) // 2, y + 50), 0.4, ink)
    image[top - label_px : top, left : left + grid] = _turned(columns)
    return image


def write_report(files: Mapping[Path, ReportFile], fix: str) -> list[Path]:
    """Each file in order: a dict as indented JSON, text as UTF-8, a picture by its suffix.

    ConvertError naming the file and `fix` (how to choose another --out) when one fails.
    """
    for path, content in files.items():
        if isinstance(content, np.ndarray):
            data = _encoded(path, content, fix)
        elif isinstance(content, str):
            data = content.encode("utf-8")
        else:
            data = (json.dumps(content, indent=2) + "\n").encode("utf-8")
        write_file(path, data, "--out", fix, error=ConvertError)
    return list(files)


def _encoded(path: Path, picture: np.ndarray, fix: str) -> bytes:
    try:
        ok, buffer = cv2.imencode(path.suffix, picture)
    except cv2.error:
        ok = False
    if not ok:
        reason = f"OpenCV cannot encode a picture as {path.suffix or 'a file without a suffix'}"
        raise ConvertError(unwritable("--out", path, reason, fix))
    return buffer.tobytes()
