"""BlazeFace face detection without MediaPipe: the model on LiteRT, post-processing in numpy.

It reproduces what MediaPipe Tasks' FaceDetector does with the two bundled models (which carry
no detector metadata, so MediaPipe picks its built-in settings from the input width):

1. letterbox: the frame, as RGB, is scaled into the square input keeping its aspect ratio
   (bilinear, zero borders, centred) and mapped to -1..1 (the models' mean = std = 127.5);
2. SSD anchors: one centre per feature-map cell and per anchor, size fixed at 1;
3. decode: boxes and 6 keypoints relative to their anchor (x, y, w, h order, divided by the
   input size), score = sigmoid of the logit clipped to ±100, keep score >= min_score;
4. weighted non-maximum suppression: every box whose IoU with the best remaining one exceeds
   min_suppression is merged into it (score-weighted mean of boxes and keypoints; the best
   score is kept);
5. mapping back to frame pixels; boxes are truncated to integers as MediaPipe does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from edge.analysis.geometry import clamp_box, iou
from edge.analysis.interpreter import load_interpreter
from edge.errors import ModelError
from edge.types import Detection

if TYPE_CHECKING:
    from edge.config.analysis import DetectorConfig

NUM_KEYPOINTS = 6  # right eye, left eye, nose tip, mouth, right ear tragion, left ear tragion
NUM_COORDS = 4 + 2 * NUM_KEYPOINTS
SCORE_CLIP = 100.0


@dataclass(frozen=True)
class AnchorSpec:
    """SsdAnchorsCalculator options of one model (min/max scale do not matter: fixed size)."""

    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int  # aspect ratios (1) plus 1 if interpolated_scale_aspect_ratio > 0
    offset: float = 0.5

    @property
    def num_anchors(self) -> int:
        return sum(
            math.ceil(self.input_size / s) ** 2 * self.anchors_per_layer for s in self.strides
        )


# Keyed by the model's input width, as MediaPipe's face_detector_graph.cc chooses them.
SPECS = {
    128: AnchorSpec(128, (8, 16, 16, 16), anchors_per_layer=2),  # short range: 896 anchors
    192: AnchorSpec(192, (4,), anchors_per_layer=1),  # full range: 2304 anchors
}


def ssd_anchors(spec: AnchorSpec) -> np.ndarray:
    """Anchor centres (N, 2) as (x, y) in 0..1, in the order the model's outputs use.

    Consecutive layers with the same stride share one grid: per cell, all their anchors follow
    each other; cells run row by row.
    """
    centres = []
    layer = 0
    while layer < len(spec.strides):
        stride = spec.strides[layer]
        same = 1
        while layer + same < len(spec.strides) and spec.strides[layer + same] == stride:
            same += 1
        cells = math.ceil(spec.input_size / stride)
        grid = (np.arange(cells, dtype=np.float32) + spec.offset) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        xy = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(xy, same * spec.anchors_per_layer, axis=0))
        layer += same
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class Letterbox:
    """Frame pixels -> input pixels: input = frame * scale + (pad_x, pad_y)."""

    scale: float
    pad_x: float
    pad_y: float
    input_size: int

    def affine(self) -> np.ndarray:
        return np.array([[self.scale, 0, self.pad_x], [0, self.scale, self.pad_y]], np.float64)

    def to_frame(self, xy_norm: np.ndarray) -> np.ndarray:
        """Points (..., 2) in 0..1 of the input square -> frame pixels."""
        pad = np.array([self.pad_x, self.pad_y])
        return (xy_norm * self.input_size - pad) / self.scale


def letterbox(size_wh: tuple[int, int], input_size: int) -> Letterbox:
    """Centre the frame in a square of side max(w, h), scaled to input_size (MediaPipe's PadRoi)."""
    width, height = size_wh
    side = max(width, height)
    scale = input_size / side
    return Letterbox(scale, (side - width) / 2 * scale, (side - height) / 2 * scale, input_size)


def decode(
    raw_boxes: np.ndarray,
    raw_scores: np.ndarray,
    anchors: np.ndarray,
    input_size: int,
    min_score: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw outputs (N, 16) and (N,) -> boxes (M, 4) xyxy, keypoints (M, 6, 2), scores (M,).

    Coordinates are 0..1 of the input square. Boxes with a negative or NaN size are dropped.
    """
    logits = np.clip(raw_scores.reshape(-1).astype(np.float32), -SCORE_CLIP, SCORE_CLIP)
    with np.errstate(over="ignore"):  # exp(100) overflows float32: the score is then 0
        scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(scores >= min_score)
    raw = raw_boxes.reshape(-1, NUM_COORDS)[keep].astype(np.float32) / np.float32(input_size)
    anchor = anchors[keep]
    centre = raw[:, 0:2] + anchor
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = raw[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) + anchor[:, None, :]
    valid = (raw[:, 2] >= 0) & (raw[:, 3] >= 0)  # NaN compares False
    return boxes[valid], keypoints[valid], scores[keep][valid]


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, min_suppression: float
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's WEIGHTED non-maximum suppression; (box, keypoints, score), best first."""
    remaining = np.argsort(-scores, kind="stable")
    merged = []
    while remaining.size:
        best = remaining[0]
        overlap = iou(boxes[best], boxes[remaining]) > min_suppression
        group = remaining[overlap]
        if group.size == 0:  # not even itself (zero area, min_suppression >= 1): MediaPipe stops
            merged.append((boxes[best], keypoints[best], float(scores[best])))
            break
        weights = scores[group] / scores[group].sum()
        box = weights @ boxes[group]
        kps = np.tensordot(weights, keypoints[group], axes=1)
        merged.append((box, kps, float(scores[best])))
        remaining = remaining[~overlap]
    return merged


def to_detection(
    box: np.ndarray,
    kps: np.ndarray,
    score: float,
    lb: Letterbox,
    size_wh: tuple[int, int],
    zoom: float = 1.0,
) -> Detection | None:
    """A merged result in 0..1 of the input -> frame pixels (None if it lies outside)."""
    (x0, y0), (x1, y1) = lb.to_frame(box.reshape(2, 2)) * zoom
    # MediaPipe truncates origin and size separately; clamp_box then clips to the frame.
    x, y, w, h = clamp_box((int(x0), int(y0), int(x1 - x0), int(y1 - y0)), size_wh)
    if w <= 0 or h <= 0:
        return None
    points = lb.to_frame(kps) * zoom
    keypoints_xy = tuple((float(px), float(py)) for px, py in points)
    return Detection(box_xywh=(x, y, w, h), score=score, keypoints_xy=keypoints_xy)


class BlazeFaceDetector:
    """The bundled (or a compatible) BlazeFace model run by LiteRT; see the module docstring."""

    def __init__(self, cfg: DetectorConfig, threads: int | None = 1) -> None:
        # one thread: 1.46 ms vs 1.65 ms with two on a 2-core x86 (short range, demo clip)
        path = cfg.existing_model_file()
        self._interpreter: Any
        self._interpreter, _ = load_interpreter(path, threads)
        self.model_path = path
        inp = self._interpreter.get_input_details()
        outs = self._interpreter.get_output_details()
        shape = tuple(int(d) for d in inp[0]["shape"]) if len(inp) == 1 else ()
        spec = SPECS.get(shape[2]) if len(shape) == 4 else None
        by_width = {int(d["shape"][-1]): d for d in outs}
        if (
            spec is None
            or shape != (1, spec.input_size, spec.input_size, 3)
            or inp[0]["dtype"] != np.float32
            or len(outs) != 2
            or set(by_width) != {NUM_COORDS, 1}
            or any(tuple(d["shape"][:2]) != (1, spec.num_anchors) for d in outs)
        ):
            got = [tuple(int(v) for v in d["shape"]) for d in (*inp, *outs)]
            raise ModelError(
                f"{path}: not a BlazeFace face detector (expected a 1x128x128x3 or 1x192x192x3 "
                f"float input and 896 or 2304 anchors x 16 + 1 outputs, got {got})"
            )
        self._spec = spec
        self._anchors = ssd_anchors(spec)
        self._input_index = inp[0]["index"]
        self._boxes_index = by_width[NUM_COORDS]["index"]
        self._scores_index = by_width[1]["index"]
        self._input = np.zeros((1, spec.input_size, spec.input_size, 3), np.float32)
        self._warped = np.zeros((spec.input_size, spec.input_size, 3), np.uint8)
        self._small: np.ndarray | None = None
        self.min_score = cfg.min_score
        self.min_suppression = cfg.min_suppression
        self.max_width_px = cfg.max_width_px

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Faces in a BGR frame, best first; frames are independent (no tracking state)."""
        if self._interpreter is None:
            raise RuntimeError("BlazeFaceDetector.detect() after close()")
        height, width = image_bgr.shape[:2]
        source, zoom = image_bgr, 1.0
        if self.max_width_px and width > self.max_width_px:
            zoom = width / self.max_width_px
            small_hw = (round(height / zoom), self.max_width_px)
            if self._small is None or self._small.shape[:2] != small_hw:
                self._small = np.empty((*small_hw, 3), np.uint8)
            cv2.resize(image_bgr, small_hw[::-1], dst=self._small, interpolation=cv2.INTER_LINEAR)
            source = self._small
        size = self._spec.input_size
        lb = letterbox((source.shape[1], source.shape[0]), size)
        cv2.warpAffine(
            source,
            lb.affine(),
            (size, size),
            dst=self._warped,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
        # BGR -> RGB and 0..255 -> -1..1 in one pass, into the reused input buffer
        np.multiply(self._warped[:, :, ::-1], np.float32(2 / 255), out=self._input[0])
        self._input -= np.float32(1.0)
        self._interpreter.set_tensor(self._input_index, self._input)
        self._interpreter.invoke()
        boxes, kps, scores = decode(
            self._interpreter.get_tensor(self._boxes_index)[0],
            self._interpreter.get_tensor(self._scores_index)[0],
            self._anchors,
            size,
            self.min_score,
        )
        faces = []
        for box, points, score in weighted_nms(boxes, kps, scores, self.min_suppression):
            face = to_detection(box, points, score, lb, (width, height), zoom)
            if face is not None:
                faces.append(face)
        return faces

    def close(self) -> None:
        self._interpreter = None
