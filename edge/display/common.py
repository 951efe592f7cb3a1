"""What every display backend shares."""

from __future__ import annotations

import os

import cv2
import numpy as np

from edge.errors import EdgeError


class DisplayUnavailable(EdgeError):
    """This backend cannot show anything here; the message says why and what to do."""


def has_desktop() -> bool:
    """An X or Wayland session is there to open a window on (its variables are set)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def fit(image_bgr: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale into width x height keeping the aspect ratio, centred on black."""
    h, w = image_bgr.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    canvas = np.zeros((height, width, 3), np.uint8)
    x0, y0 = (width - new_w) // 2, (height - new_h) // 2
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas[y0 : y0 + new_h, x0 : x0 + new_w] = cv2.resize(
        image_bgr, (new_w, new_h), interpolation=interpolation
    )
    return canvas
