"""Classify only when needed: follow faces between frames and reuse their last scores.

A face keeps its identity from frame to frame by box overlap (IoU). It is sent to
the classifier again only when its box moved or resized noticeably, its pixels
changed, or its last scores are older than `max_age_s`. Pixels are compared in the
region that was classified (a small grayscale thumbnail of the same crop rectangle),
not in the new detection's crop: detector boxes jitter by a few pixels from frame to
frame, and that alone would look like a changed face. On a small CPU running a VGG19 this is the
difference between a fresh result every few hundred ms and one every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.analysis.geometry import box_iou
from edge.config.analysis import ReuseConfig

THUMB_PX = 16
# reuse: auto is on for a model that needs at least this many multiply-adds a face (all its
# passes, mirror included), counted from its graph (edge/analysis/model_cost.py), so that the same
# file gives the same answers on a quiet and a busy machine. The models we ship need 10 to
# 140 M; a VGG19 at 150 px 16.8 G: the line sits more than an order of magnitude from both.
AUTO_MIN_MULTIPLY_ADDS = 1_000_000_000


def thumbnail(face_bgr: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(face_bgr, cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, (THUMB_PX, THUMB_PX), interpolation=cv2.INTER_AREA).astype(np.int16)


@dataclass
class Track:
    """A face seen in recent frames and what the classifier last said about it."""

    box_xywh: tuple[int, int, int, int]
    crop_xyxy: tuple[int, int, int, int]  # the region that was classified
    probabilities: np.ndarray
    thumb: np.ndarray  # thumbnail of that region then
    classified_at_s: float
    seen_at_s: float


def reuse_wanted(setting: bool | str, multiply_adds_per_face: int | None) -> bool:
    """reuse.enabled resolved: auto from the model's cost (unknown: off, every face classified)."""
    if setting == "auto":
        return (multiply_adds_per_face or 0) >= AUTO_MIN_MULTIPLY_ADDS
    return bool(setting)


def reuse_state(setting: bool | str, multiply_adds_per_face: int | None) -> str:
    """What reuse does, as the run's summary says it; auto's decision with its reason."""
    on = "on" if reuse_wanted(setting, multiply_adds_per_face) else "off"
    if setting != "auto":
        return on
    if multiply_adds_per_face is None:
        return "auto: off (the model's cost could not be counted)"
    return (
        f"auto: {on} (the model needs {multiply_adds_per_face / 1e9:.2f} G multiply-adds a "
        f"face; on from {AUTO_MIN_MULTIPLY_ADDS / 1e9:.1f} G)"
    )


class FaceTracks:
    """Matches this frame's faces to known tracks and decides which need the classifier."""

    def __init__(self, cfg: ReuseConfig) -> None:
        self.cfg = cfg
        self.tracks: list[Track] = []

    @property
    def active(self) -> bool:
        """auto is resolved by open_stages (reuse_wanted); an unresolved auto is off."""
        return self.cfg.enabled is True

    def match(self, box_xywh: tuple[int, int, int, int]) -> Track | None:
        best = max(self.tracks, key=lambda t: box_iou(t.box_xywh, box_xywh), default=None)
        if best is not None and box_iou(best.box_xywh, box_xywh) >= self.cfg.min_iou:
            return best
        return None

    def reusable(
        self,
        track: Track | None,
        box_xywh: tuple[int, int, int, int],
        region_thumb: np.ndarray,
        now_s: float,
    ) -> np.ndarray | None:
        """The track's last probabilities if nothing relevant changed, else None.

        `region_thumb` is this frame's thumbnail of `track.crop_xyxy`.
        """
        if not self.active or track is None:
            return None
        if now_s - track.classified_at_s > self.cfg.max_age_s:
            return None
        x, y, w, h = box_xywh
        tx, ty, tw, th = track.box_xywh
        size = max(tw, th, 1)
        moved = max(abs((x + w / 2) - (tx + tw / 2)), abs((y + h / 2) - (ty + th / 2))) / size
        resized = max(abs(w - tw), abs(h - th)) / size
        if moved > self.cfg.max_move or resized > self.cfg.max_move:
            return None
        if float(np.mean(np.abs(region_thumb - track.thumb))) > self.cfg.max_change:
            return None
        return track.probabilities

    def update(
        self,
        track: Track | None,
        box_xywh: tuple[int, int, int, int],
        probabilities: np.ndarray,
        now_s: float,
        classified: tuple[tuple[int, int, int, int], np.ndarray] | None = None,
    ) -> Track:
        """Record a face; `classified` (the crop region and its thumbnail) when it was just
        classified, None when its scores were reused."""
        if track is None:
            if classified is None:
                raise ValueError("a new track needs the thumbnail of its classified crop")
            crop_xyxy, thumb = classified
            track = Track(box_xywh, crop_xyxy, probabilities, thumb, now_s, now_s)
            self.tracks.append(track)
        elif classified is not None:
            track.box_xywh, (track.crop_xyxy, track.thumb) = box_xywh, classified
            track.probabilities = probabilities
            track.classified_at_s = now_s
        track.seen_at_s = now_s
        return track

    def forget_stale(self, now_s: float) -> None:
        """Drop tracks not seen for a while, so a new face is never given an old one's scores."""
        self.tracks = [t for t in self.tracks if now_s - t.seen_at_s <= self.cfg.forget_after_s]
