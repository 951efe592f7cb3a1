"""The data that flows between stages: frozen, validated, units in the names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Status = Literal["ok", "no_face", "multiple_faces"]
STATUSES: tuple[Status, ...] = ("ok", "no_face", "multiple_faces")


@dataclass(frozen=True)
class Frame:
    """One captured image. `image_bgr` is HxWx3 uint8 in OpenCV's BGR order."""

    index: int
    image_bgr: np.ndarray
    captured_at_s: float  # time.monotonic() when the source returned it
    wall_time_s: float  # time.time() at the same moment, for timestamps people read
    source_file: str | None = None  # the image file it came from, for image sources

    def __post_init__(self) -> None:
        img = self.image_bgr
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(
                f"Frame.image_bgr must be HxWx3 uint8, got shape {img.shape} dtype {img.dtype}"
            )

    @property
    def size_wh(self) -> tuple[int, int]:
        return int(self.image_bgr.shape[1]), int(self.image_bgr.shape[0])


@dataclass(frozen=True)
class Detection:
    """A face found by the detector, in frame pixels (x, y, width, height)."""

    box_xywh: tuple[int, int, int, int]
    score: float
    # frame pixels, MediaPipe's order: right eye, left eye, nose tip, mouth, right ear tragion,
    # left ear tragion (the person's right and left); empty when the detector gives none
    keypoints_xy: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.box_xywh[2] <= 0 or self.box_xywh[3] <= 0:
            raise ValueError(f"Detection box must have positive size, got {self.box_xywh}")

    @property
    def area_px(self) -> int:
        return self.box_xywh[2] * self.box_xywh[3]


@dataclass(frozen=True)
class FaceResult:
    """A classified face: where it is and what the classifier said."""

    box_xywh: tuple[int, int, int, int]
    detection_score: float
    label: str
    confidence: float
    scores: dict[str, float]
    reused: bool = False  # scores carried over from an earlier frame (face unchanged)


@dataclass(frozen=True)
class Timings:
    """Milliseconds spent in each stage for one frame."""

    detect_ms: float = 0.0
    preprocess_ms: float = 0.0
    inference_ms: float = 0.0
    total_ms: float = 0.0  # detect + classify, all faces


@dataclass(frozen=True)
class Result:
    """Everything the pipeline knows about one processed frame."""

    frame_index: int
    captured_at_s: float
    wall_time_s: float
    status: Status
    faces: tuple[FaceResult, ...]
    timings: Timings
    latency_ms: float  # capture to result ready
    detected_faces: int  # faces the detector saw, before the face policy
    detected_boxes: tuple[
        tuple[int, int, int, int], ...
    ] = ()  # every face found, classified or not
    smoothed_label: str | None = None
    smoothed_scores: dict[str, float] = field(default_factory=dict)
    model_name: str = ""
    source_file: str | None = None
