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

from edge.config_analysis import ReuseConfig

THUMB_PX = 16
# reuse: auto turns on when a classification costs more than this share of the time between
# frames, and off again below the lower share (a gap, so that it does not toggle)
AUTO_ON_SHARE, AUTO_OFF_SHARE = 0.25, 0.15


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


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


class ReuseCost:
    """reuse.enabled: auto: is classifying a real cost at this source's frame rate?

    Fed once a frame with the frame's time and the classifier's time (when it ran); both
    are smoothed, so one slow call or one late frame does not flip the answer.
    """

    def __init__(self) -> None:
        self.classify_s: float | None = None
        self.interval_s: float | None = None
        self.worth_it = False
        self._last_frame_s: float | None = None

    def note(self, frame_time_s: float, classify_s: float | None) -> bool:
        """True when this frame changed the answer."""
        if self._last_frame_s is not None and frame_time_s > self._last_frame_s:
            gap = frame_time_s - self._last_frame_s
            self.interval_s = gap if self.interval_s is None else 0.9 * self.interval_s + 0.1 * gap
        self._last_frame_s = frame_time_s
        if classify_s is not None:
            last = self.classify_s
            self.classify_s = classify_s if last is None else 0.8 * last + 0.2 * classify_s
        if self.classify_s is None or self.interval_s is None:
            return False
        share = self.classify_s / self.interval_s
        wanted = share > (AUTO_OFF_SHARE if self.worth_it else AUTO_ON_SHARE)
        changed, self.worth_it = wanted != self.worth_it, wanted
        return changed


class FaceTracks:
    """Matches this frame's faces to known tracks and decides which need the classifier."""

    def __init__(self, cfg: ReuseConfig) -> None:
        self.cfg = cfg
        self.tracks: list[Track] = []
        self.cost = ReuseCost()

    @property
    def active(self) -> bool:
        if self.cfg.enabled == "auto":
            return self.cost.worth_it
        return bool(self.cfg.enabled)

    def match(self, box_xywh: tuple[int, int, int, int]) -> Track | None:
        best = max(self.tracks, key=lambda t: iou(t.box_xywh, box_xywh), default=None)
        if best is not None and iou(best.box_xywh, box_xywh) >= self.cfg.min_iou:
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
        resized = abs(w - tw) / size
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
