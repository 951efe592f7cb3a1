"""Outlined text whose outline is made of the same glyphs as its letters.

Two `cv2.putText` calls, a dark "thicker" one under the letters, do not line up. OpenCV 5
(what the locks install) draws its fonts from TrueType: thickness 1 is the regular weight,
anything above is bold. The bold outline of regular text advances further, so it drifts
right along the line ("inference 5.6 ms" read "inference 5.6 mss"), and the outline of
bold text is the same bold glyphs, hidden under the letters. Here the letters are drawn
once, into a mask, and the outline is that mask grown by a few pixels (`cv2.dilate`): the
same glyphs at the same places, for any weight and any OpenCV.
"""

from __future__ import annotations

import functools
from typing import Any

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
OUTLINE_COLOR = (0, 0, 0)


@functools.lru_cache(maxsize=512)  # labels repeat every frame; OpenCV's measure is not free
def text_size(text: str, scale: float, thickness: int) -> tuple[int, int, int]:
    """Width, height above the baseline and depth below it, in pixels, as drawn."""
    (width, height), depth = cv2.getTextSize(text, FONT, scale, thickness)
    return width, height, depth


@functools.lru_cache(maxsize=16)
def _disc(radius_px: int) -> np.ndarray:
    """A round structuring element; at radius 1 the full 3x3, so diagonals are ringed too."""
    dy, dx = np.mgrid[-radius_px : radius_px + 1, -radius_px : radius_px + 1]
    disc = (dx * dx + dy * dy <= radius_px * radius_px + radius_px).astype(np.uint8)
    disc.setflags(write=False)  # shared by every call (cached)
    return disc


def draw_text(
    image: np.ndarray,
    text: str,
    org: tuple[int, int],
    scale: float,
    color: tuple[int, int, int],
    thickness: int,
    outline_px: int = 1,
) -> None:
    """`text` with its baseline starting at `org`, in `color`, ringed `outline_px` wide in
    black; drawn in place (antialiased), clipped at the image's edges."""
    if outline_px < 0:
        raise ValueError(f"outline_px must be 0 or more, got {outline_px}")
    width, height, depth = text_size(text, scale, thickness)
    pad = outline_px + thickness + 2  # antialiasing and strokes reach past getTextSize's box
    x0, y0 = org[0] - pad, org[1] - height - pad
    mask = np.zeros((height + depth + 2 * pad, width + 2 * pad), np.uint8)
    cv2.putText(mask, text, (pad, height + pad), FONT, scale, 255, thickness, cv2.LINE_AA)
    halo = cv2.dilate(mask, _disc(outline_px)) if outline_px else mask
    img_h, img_w = image.shape[:2]
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(img_w, x0 + mask.shape[1]), min(img_h, y0 + mask.shape[0])
    if cx0 >= cx1 or cy0 >= cy1:
        return  # entirely outside the image
    window = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
    # blend in 8 bits with OpenCV (a tenth of the time numpy's floats take): the outline's
    # coverage over the picture, then the letters' over that
    letters = cv2.cvtColor(mask[window], cv2.COLOR_GRAY2BGR)
    ring = cv2.cvtColor(halo[window], cv2.COLOR_GRAY2BGR)
    region = image[cy0:cy1, cx0:cx1]
    region = _blend(region, ring, OUTLINE_COLOR)
    image[cy0:cy1, cx0:cx1] = _blend(region, letters, color)


def _blend(region: np.ndarray, coverage: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    """`region` with `color` laid over it, `coverage` (0-255 a pixel) opaque."""
    kept = cv2.multiply(region, cv2.bitwise_not(coverage), scale=1 / 255)
    # a 4-tuple is a per-channel scalar to OpenCV (its stubs do not say so); far cheaper
    # than filling an image with the colour
    scalar: Any = (*color, 0)
    return cv2.add(kept, cv2.multiply(coverage, scalar, scale=1 / 255))
