"""The data that flows between stages: frozen, validated, units in the names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

Status = Literal["ok", "no_face", "multiple_faces"]
STATUSES: tuple[Status, ...] = ("ok", "no_face", "multiple_faces")
UNCERTAIN = "uncertain"  # the reported emotion while the scores are too flat to say
# what the outputs show under the default face policy while several faces are seen: the
# original design's message, since none of them is classified
SEVERAL_FACES = "several faces"
# where the capture stands: before the first frame, frames coming, a lost source being
# reopened, a finite source done
SourceState = Literal["starting", "streaming", "reconnecting", "ended"]


@dataclass(frozen=True)
class Frame:
    """One captured image. `image_bgr` is HxWx3 uint8 in OpenCV's BGR order."""

    index: int
    image_bgr: np.ndarray
    captured_at_s: float  # time.monotonic() when the source returned it
    wall_time_s: float  # time.time() at the same moment, for timestamps people read
    source_file: str | None = None  # the image file it came from, for image sources
    # where the frame sits in its file (seconds), for files; None for live sources. Timing
    # rules (smoothing, the decision's hold, reuse's age) read this, else captured_at_s.
    media_time_s: float | None = None

    def __post_init__(self) -> None:
        img = self.image_bgr
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(
                f"Frame.image_bgr must be HxWx3 uint8, got shape {img.shape} dtype {img.dtype}"
            )

    @property
    def time_s(self) -> float:
        """The clock the analysis goes by: media time for files, capture time otherwise."""
        return self.captured_at_s if self.media_time_s is None else self.media_time_s

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
    """A classified face: the detection it came from and what the classifier said.

    `scores` is read-only and holds every class; `label` is the top one and `confidence`
    its score. Values are as the classifier gave them; outputs round them.
    """

    detection: Detection
    label: str
    confidence: float
    scores: Mapping[str, float]
    reused: bool = False  # scores carried over from an earlier frame (face unchanged)

    def __post_init__(self) -> None:
        scores = MappingProxyType(dict(self.scores))
        object.__setattr__(self, "scores", scores)
        if self.label not in scores:
            raise ValueError(f"FaceResult label {self.label!r} is not among {list(scores)}")
        if not all(-1e-6 <= v <= 1.0 + 1e-6 for v in scores.values()):
            raise ValueError(f"FaceResult scores must lie in [0, 1], got {dict(scores)}")
        if abs(self.confidence - scores[self.label]) > 1e-6:
            raise ValueError(
                f"FaceResult confidence {self.confidence} is not the score of {self.label!r} "
                f"({scores[self.label]})"
            )

    @property
    def box_xywh(self) -> tuple[int, int, int, int]:
        return self.detection.box_xywh

    @property
    def detection_score(self) -> float:
        return self.detection.score


def largest_face(faces: Sequence[FaceResult]) -> FaceResult | None:
    """The face the top-level emotion and the smoothing describe: the largest, first on ties."""
    return max(faces, key=lambda face: face.detection.area_px, default=None)


@dataclass(frozen=True)
class Timings:
    """Milliseconds spent in each stage for one frame."""

    detect_ms: float = 0.0
    preprocess_ms: float = 0.0
    inference_ms: float = 0.0
    total_ms: float = 0.0  # detect + classify, all faces


@dataclass(frozen=True)
class Decision:
    """The reported emotion: a class, UNCERTAIN, or None when no face is being followed."""

    label: str | None
    confidence: float | None  # the smoothed score of the leading class
    changed: bool = False  # this frame changed the label


NO_DECISION = Decision(None, None)


EpisodeKind = Literal["start", "change", "end"]
EPISODE_KINDS: tuple[EpisodeKind, ...] = ("start", "change", "end")


@dataclass(frozen=True)
class EpisodeEvent:
    """A face episode began, changed its shown emotion, or ended (edge.analysis.episodes)."""

    kind: EpisodeKind
    episode_id: str
    emotion: str | None  # shown now (start, change); the last one shown (end)
    duration_s: float  # since the episode started (its whole length, at its end)
    dominant_emotion: str | None  # the label shown longest so far; None if only uncertain


@dataclass(frozen=True)
class Result:
    """Everything the pipeline knows about one processed frame."""

    frame_index: int
    captured_at_s: float
    wall_time_s: float
    status: Status
    detections: tuple[Detection, ...]  # every face found (min_size_px and up), before the policy
    faces: tuple[FaceResult, ...]  # the ones the face policy had classified, of `detections`
    timings: Timings
    latency_ms: float  # capture to result ready
    decision: Decision = NO_DECISION  # the reported emotion (edge.analysis.decide)
    smoothed_scores: Mapping[str, float] = field(default_factory=dict)  # what it is based on
    model_name: str = ""
    source_file: str | None = None
    # how long ago (in the frame's own time) a face last fed the reported emotion: 0 when
    # this frame did; above 0 while it is held after the face left; None without one
    decision_age_s: float | None = None
    episode_id: str | None = None  # the face episode this frame belongs to, if any
    episode_event: EpisodeEvent | None = None  # what this frame did to it

    def __post_init__(self) -> None:
        object.__setattr__(self, "smoothed_scores", MappingProxyType(dict(self.smoothed_scores)))
        if self.status not in STATUSES:
            raise ValueError(f"Result status {self.status!r} is not one of {STATUSES}")
        if any(face.detection not in self.detections for face in self.faces):
            raise ValueError("Result.faces must come from Result.detections")

    @property
    def primary_face(self) -> FaceResult | None:
        return largest_face(self.faces)

    @property
    def shown_label(self) -> str | None:
        """The word the outputs show for this frame: several faces, the reported emotion
        (current or held), or None with no face."""
        if self.status == "multiple_faces":
            return SEVERAL_FACES
        return self.decision.label

    @property
    def face_present(self) -> bool:
        """A face detected, or the reported emotion still held: one missed detection does
        not end a presence."""
        return bool(self.detections) or self.decision.label is not None

    @property
    def held_label(self) -> str | None:
        """The reported emotion when it is not current (no face, several faces now): what
        views show as "last seen N s ago", never as the frame's emotion."""
        if self.decision.label is None or self.decision_age_s in (None, 0.0):
            return None
        return self.decision.label
