"""Faces made unrecognisable in a picture: each detected face's box, with a margin, becomes
a coarse mosaic. Applied before the overlay is drawn, so labels and boxes stay readable."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

MARGIN = 0.25  # of the box, on each side: hair, ears and chin go too
CELLS = 6  # mosaic cells across a face: nobody is recognised from 6 x 6 squares


def blur_faces(
    image_bgr: np.ndarray, boxes_xywh: Iterable[tuple[int, int, int, int]]
) -> np.ndarray:
    """A copy of `image_bgr` with every box (grown by MARGIN) pixelated."""
    out = image_bgr.copy()
    height, width = out.shape[:2]
    for x, y, w, h in boxes_xywh:
        dx, dy = int(w * MARGIN), int(h * MARGIN)
        x0, y0 = max(0, x - dx), max(0, y - dy)
        x1, y1 = min(width, x + w + dx), min(height, y + h + dy)
        if x1 <= x0 or y1 <= y0:
            continue
        region = out[y0:y1, x0:x1]
        cells = cv2.resize(region, (CELLS, CELLS), interpolation=cv2.INTER_AREA)
        out[y0:y1, x0:x1] = cv2.resize(cells, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    return out
