"""Pure functions from a frame and a face box to the classifier's input tensor, and back."""

from __future__ import annotations

import cv2
import numpy as np

from edge.analysis.geometry import region_in_frame
from edge.analysis.model_meta import ModelMeta


def crop_with_margin(
    box_xywh: tuple[int, int, int, int], margin: float, size_wh: tuple[int, int]
) -> tuple[int, int, int, int]:
    """Grow a face box by `margin` of its size on every side, clamped to the frame.

    Returns (x0, y0, x1, y1) with x1 > x0 and y1 > y0 for any box that touches the frame.
    """
    x, y, w, h = box_xywh
    dx, dy = round(w * margin), round(h * margin)
    return region_in_frame((x - dx, y - dy, x + w + dx, y + h + dy), size_wh, box_xywh)


def resize_face(face_bgr: np.ndarray, height: int, width: int, color_mode: str) -> np.ndarray:
    """A BGR crop colour-converted and resized to HxWxC uint8: what a model is fed, before
    its normalisation; training (convert/trainset.py) uses it too, so both see the same."""
    if color_mode == "grayscale":
        converted = cv2.cvtColor(face_bgr, cv2.COLOR_BGR2GRAY)
    elif color_mode == "rgb":
        converted = cv2.cvtColor(face_bgr, cv2.COLOR_BGR2RGB)
    else:
        converted = face_bgr
    shrinking = converted.shape[0] > height or converted.shape[1] > width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(converted, (width, height), interpolation=interpolation)
    return resized[:, :, np.newaxis] if resized.ndim == 2 else resized


def to_model_pixels(face_bgr: np.ndarray, meta: ModelMeta) -> np.ndarray:
    """Colour-convert and resize a BGR crop to the model's HxWxC, still 0..255 float32."""
    height, width = meta.input_size_hw
    return resize_face(face_bgr, height, width, meta.color_mode).astype(np.float32)


def normalize(pixels: np.ndarray, meta: ModelMeta) -> np.ndarray:
    """Apply the sidecar's `pixel * scale + offset` (scalars or per channel)."""
    scale = np.asarray(meta.normalization.scale, dtype=np.float32)
    offset = np.asarray(meta.normalization.offset, dtype=np.float32)
    return pixels * scale + offset


def quantize(values: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """Float to int8/uint8 with the tensor's own parameters, saturating at the type's range."""
    info = np.iinfo(dtype)
    q = np.round(values / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (values.astype(np.float32) - zero_point) * scale


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - np.max(logits)
    exp = np.exp(shifted)
    return exp / np.sum(exp)
