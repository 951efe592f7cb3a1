"""Boxes in frame pixels: clipping one to the frame, and how much two overlap.

Boxes travel as `box_xywh` (origin and size, as detections carry them) or as `xyxy`
(corners, x1/y1 exclusive, as slices take them); both are integers in frame pixels.
"""

from __future__ import annotations

import numpy as np

XYWH = tuple[int, int, int, int]
XYXY = tuple[int, int, int, int]


def clip_xyxy(xyxy: XYXY, size_wh: tuple[int, int]) -> XYXY:
    """The part of a box inside the frame; empty (x1 <= x0 or y1 <= y0) if it lay outside."""
    x0, y0 = max(0, xyxy[0]), max(0, xyxy[1])
    x1, y1 = min(size_wh[0], xyxy[2]), min(size_wh[1], xyxy[3])
    return x0, y0, max(x0, x1), max(y0, y1)


def clamp_box(box_xywh: XYWH, size_wh: tuple[int, int]) -> XYWH:
    """A box clipped to the frame; its size is zero if it lay outside."""
    x, y, w, h = box_xywh
    x0, y0, x1, y1 = clip_xyxy((x, y, x + w, y + h), size_wh)
    return x0, y0, x1 - x0, y1 - y0


def region_in_frame(xyxy: XYXY, size_wh: tuple[int, int], box_xywh: XYWH) -> XYXY:
    """A face's crop region clipped to the frame; ValueError if none of it is inside."""
    x0, y0, x1, y1 = clip_xyxy(xyxy, size_wh)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"face box {box_xywh} lies outside the {size_wh[0]}x{size_wh[1]} frame")
    return x0, y0, x1, y1


def iou(box_xyxy: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
    """Intersection over union of one box (4,) with each of `boxes_xyxy` (M, 4); 0 if empty."""
    box = np.asarray(box_xyxy, dtype=np.float64)
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    wh = np.clip(np.minimum(box[2:], boxes[:, 2:]) - np.maximum(box[:2], boxes[:, :2]), 0, None)
    inter = wh[:, 0] * wh[:, 1]
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def box_iou(a_xywh: XYWH, b_xywh: XYWH) -> float:
    """Intersection over union of two boxes given as origin and size."""
    ax, ay, aw, ah = a_xywh
    bx, by, bw, bh = b_xywh
    return float(iou(np.array([ax, ay, ax + aw, ay + ah]), np.array([bx, by, bx + bw, by + bh]))[0])
