"""The learning curve beside a trained model: losses and validation accuracy per epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from convert.report_files import write_report

WIDTH, HEIGHT, MARGIN = 900, 420, 60
INK, GRID = (40, 40, 40), (225, 225, 225)
SERIES = (  # key, label, BGR colour, which axis (0: loss, 1: accuracy)
    ("loss", "train loss", (200, 120, 30), 0),
    ("val_loss", "validation loss", (60, 60, 220), 0),
    ("val_accuracy", "validation accuracy", (40, 160, 40), 1),
)


def _text(image: np.ndarray, text: str, xy: tuple[int, int], color=INK, scale=0.5) -> None:
    cv2.putText(image, text, xy, cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)


def curve_picture(history: list[dict[str, Any]], title: str) -> np.ndarray:
    image = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    left, right, top, bottom = MARGIN, WIDTH - MARGIN, MARGIN, HEIGHT - MARGIN
    epochs = [row["epoch"] for row in history]
    losses = [row[k] for row in history for k in ("loss", "val_loss") if np.isfinite(row[k])]
    loss_top = max(losses, default=1.0) * 1.05 or 1.0
    first, last = min(epochs), max(max(epochs), min(epochs) + 1)

    def x_of(epoch: float) -> int:
        return round(left + (epoch - first) / (last - first) * (right - left))

    def y_of(value: float, axis: int) -> int:
        share = value / loss_top if axis == 0 else value
        return round(bottom - min(max(share, 0.0), 1.0) * (bottom - top))

    for tick in range(11):
        y = round(bottom - tick / 10 * (bottom - top))
        cv2.line(image, (left, y), (right, y), GRID, 1)
        _text(image, f"{tick * 10}%", (right + 6, y + 4), scale=0.4)
        _text(image, f"{loss_top * tick / 10:.2f}", (6, y + 4), scale=0.4)
    cv2.rectangle(image, (left, top), (right, bottom), INK, 1)
    step = max(1, len(epochs) // 10)
    for epoch in epochs[::step]:
        _text(image, str(epoch), (x_of(epoch) - 6, bottom + 18), scale=0.4)
    _text(image, "epoch", ((left + right) // 2 - 20, bottom + 40))
    _text(image, "loss", (6, top - 12))
    _text(image, "accuracy", (right - 20, top - 12))
    _text(image, title, (left, 24), scale=0.6)
    for k, (key, label, color, axis) in enumerate(SERIES):
        points = [(x_of(r["epoch"]), y_of(r[key], axis)) for r in history if np.isfinite(r[key])]
        if len(points) > 1:
            cv2.polylines(image, [np.array(points, np.int32)], False, color, 2, cv2.LINE_AA)
        for point in points:
            cv2.circle(image, point, 3, color, -1, cv2.LINE_AA)
        _text(image, label, (left + 10 + 220 * k, top + 20), color)
    best = max(history, key=lambda row: row["val_accuracy"])
    _text(
        image,
        f"best validation accuracy {best['val_accuracy']:.1%} at epoch {best['epoch']}",
        (left + 10, top + 42),
    )
    return image


def write_curve(history: list[dict[str, Any]], path: Path, title: str) -> Path:
    return write_report({path: curve_picture(history, title)}, fix="a writable --out")[0]
