"""Faces cut out of a frame the way a model's training faces were framed.

With `align: eyes` the face is turned upright (eyes level, from BlazeFace's two eye
keypoints) and cut out in ONE affine warp from the frame: rotation, scale and crop
together, so the pixels are resampled once. The warp's output keeps the crop's own
pixel size, but never less than the model's input (a small face is enlarged here rather
than by a second resize) and never more than `OVERSAMPLE` times it (a large face is then
shrunk by the classifier's area resize, which averages instead of skipping pixels).

Where the crop reaches past the frame's edge, the edge pixels are repeated
(BORDER_REPLICATE): the face keeps its place and size in the crop, as in training, and no
artificial straight edge appears; a constant fill would draw a hard line across the crop,
the kind of feature a CNN reacts to and a training face never has.

A sidecar without `framing` keeps the older rule exactly (`legacy_crop`): the box grown by
`faces.margin`, axis-aligned, cut off at the frame's edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from edge.analysis.geometry import region_in_frame
from edge.analysis.model_meta import Framing
from edge.analysis.preprocess import crop_with_margin

OVERSAMPLE = 4  # the warp's output is at most this many times the model's input side
# Eye keypoints closer than this fraction of the box width (a profile, a poor fit) give no
# roll worth trusting: the face is then cut axis-aligned.
MIN_EYE_DISTANCE = 0.1

XYXY = tuple[int, int, int, int]


@dataclass(frozen=True)
class FaceCrop:
    """The face as the classifier gets it, and where in the frame it came from."""

    image_bgr: np.ndarray
    # the frame region the crop was sampled from, axis-aligned and clamped to the frame;
    # reuse (edge/analysis/track.py) compares thumbnails of this region between frames
    region_xyxy: XYXY
    roll_deg: float  # the rotation that was removed; 0.0 when none was


def roll_deg(
    keypoints_xy: Sequence[tuple[float, float]], box_xywh: tuple[int, int, int, int]
) -> float | None:
    """The face's roll in degrees (positive: turned clockwise on screen), None if unknown.

    From the person's right eye (keypoint 0, on the image's left) to their left eye.
    """
    if len(keypoints_xy) < 2:
        return None
    (rx, ry), (lx, ly) = keypoints_xy[0], keypoints_xy[1]
    dx, dy = lx - rx, ly - ry
    if math.hypot(dx, dy) < MIN_EYE_DISTANCE * box_xywh[2]:
        return None
    return math.degrees(math.atan2(dy, dx))


def crop_size(box_xywh: tuple[int, int, int, int], framing: Framing) -> tuple[int, int]:
    """Width and height of the crop in frame pixels: the box (or its square) plus margins."""
    _, _, w, h = box_xywh
    if framing.square:
        w = h = max(w, h)
    return w + 2 * round(w * framing.margin), h + 2 * round(h * framing.margin)


def legacy_crop(
    image_bgr: np.ndarray, box_xywh: tuple[int, int, int, int], margin: float
) -> FaceCrop:
    """The rule for models without `framing`: grown box, axis-aligned, cut at the frame edge."""
    size_wh = (image_bgr.shape[1], image_bgr.shape[0])
    x0, y0, x1, y1 = crop_with_margin(box_xywh, margin, size_wh)
    return FaceCrop(image_bgr[y0:y1, x0:x1], (x0, y0, x1, y1), 0.0)


def upright_crop(
    image_bgr: np.ndarray, box_xywh: tuple[int, int, int, int], framing: Framing
) -> FaceCrop:
    """Axis-aligned crop with the framing's margin and shape; edges replicated, no resampling."""
    x, y, w, h = box_xywh
    cw, ch = crop_size(box_xywh, framing)
    # centred on the box; an odd difference puts the extra pixel right/below, as slicing would
    x0, y0 = x - (cw - w) // 2, y - (ch - h) // 2
    wanted = (x0, y0, x0 + cw, y0 + ch)
    size_wh = (image_bgr.shape[1], image_bgr.shape[0])
    region = region_in_frame(wanted, size_wh, box_xywh)
    face = image_bgr[region[1] : region[3], region[0] : region[2]]
    pad = (
        region[1] - wanted[1],
        wanted[3] - region[3],
        region[0] - wanted[0],
        wanted[2] - region[2],
    )
    if any(pad):
        face = cv2.copyMakeBorder(face, *pad, cv2.BORDER_REPLICATE)
    return FaceCrop(face, region, 0.0)


def output_size(crop_wh: tuple[int, int], model_hw: tuple[int, int]) -> tuple[int, int]:
    """The warp's output size: the crop's own, kept within [model input, OVERSAMPLE x it]."""
    longest, model_side = max(crop_wh), max(model_hw)
    target = min(max(longest, model_side), OVERSAMPLE * model_side)
    scale = target / longest
    return max(1, round(crop_wh[0] * scale)), max(1, round(crop_wh[1] * scale))


def warp_matrix(
    center_xy: tuple[float, float],
    angle_deg: float,
    crop_wh: tuple[int, int],
    out_wh: tuple[int, int],
) -> np.ndarray:
    """Frame -> crop: turn by `angle_deg` (counter-clockwise on screen) about the centre,
    scale the crop's size to the output's, and put the centre in the output's middle.

    Pixel centres sit on integer coordinates (OpenCV's convention), so with no angle and
    no scale this is a whole-pixel shift and copies the pixels exactly.
    """
    scale = out_wh[0] / crop_wh[0]
    matrix = cv2.getRotationMatrix2D(center_xy, angle_deg, scale)
    matrix[0, 2] += (out_wh[0] - 1) / 2 - center_xy[0]
    matrix[1, 2] += (out_wh[1] - 1) / 2 - center_xy[1]
    return matrix


def sampled_region(
    matrix: np.ndarray,
    out_wh: tuple[int, int],
    size_wh: tuple[int, int],
    box_xywh: tuple[int, int, int, int],
) -> XYXY:
    """The frame's axis-aligned rectangle around the (turned) crop, clamped to the frame."""
    inverse = cv2.invertAffineTransform(matrix)
    w, h = out_wh
    corners = np.array(
        [[-0.5, -0.5, 1], [w - 0.5, -0.5, 1], [-0.5, h - 0.5, 1], [w - 0.5, h - 0.5, 1]]
    )
    xy = np.round(corners @ inverse.T, 6)  # 1e-13 off a whole pixel must not add a pixel
    x0, y0 = np.floor(xy.min(axis=0) + 0.5).astype(int)
    x1, y1 = np.ceil(xy.max(axis=0) + 0.5).astype(int)
    return region_in_frame((int(x0), int(y0), int(x1), int(y1)), size_wh, box_xywh)


def aligned_crop(
    image_bgr: np.ndarray,
    box_xywh: tuple[int, int, int, int],
    angle_deg: float,
    framing: Framing,
    model_hw: tuple[int, int],
) -> FaceCrop:
    """The face turned by `angle_deg` about the box centre, then cut: one warp."""
    x, y, w, h = box_xywh
    crop_wh = crop_size(box_xywh, framing)
    out_wh = output_size(crop_wh, model_hw)
    center = (x + (w - 1) / 2, y + (h - 1) / 2)
    matrix = warp_matrix(center, angle_deg, crop_wh, out_wh)
    size_wh = (image_bgr.shape[1], image_bgr.shape[0])
    region = sampled_region(matrix, out_wh, size_wh, box_xywh)
    face = cv2.warpAffine(
        image_bgr, matrix, out_wh, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return FaceCrop(face, region, angle_deg)


def frame_face(
    image_bgr: np.ndarray,
    box_xywh: tuple[int, int, int, int],
    keypoints_xy: Sequence[tuple[float, float]],
    framing: Framing | None,
    *,
    margin: float,
    model_hw: tuple[int, int],
) -> FaceCrop:
    """The crop a model with this `framing` expects; `margin` serves models without one.

    `align: eyes` without usable eye keypoints falls back to the upright crop.
    """
    if framing is None:
        return legacy_crop(image_bgr, box_xywh, margin)
    if framing.align == "eyes":
        angle = roll_deg(keypoints_xy, box_xywh)
        if angle is not None:
            return aligned_crop(image_bgr, box_xywh, angle, framing, model_hw)
    return upright_crop(image_bgr, box_xywh, framing)
