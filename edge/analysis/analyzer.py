"""One frame in, one Result out: detection, face policy, crop, classification, smoothing.

Plain and synchronous, so the pipeline thread, a serial baseline and the tests
all run the very same code.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from edge.analysis.align import frame_face
from edge.analysis.classify import Classifier
from edge.analysis.decide import EmotionSmoother, LabelDecider
from edge.analysis.detect import FaceDetector
from edge.analysis.episodes import EpisodeTracker
from edge.analysis.track import FaceTracks, thumbnail
from edge.config.analysis import (
    FACE_POLICIES,
    FacePolicy,
    FacesConfig,
    ReuseConfig,
    SmoothingConfig,
)
from edge.types import Detection, FaceResult, Frame, Result, Status, Timings, largest_face


def apply_face_policy(
    detections: Sequence[Detection], policy: FacePolicy
) -> tuple[Status, list[Detection]]:
    """Which faces to classify, and the frame's status, as the original design does."""
    if policy not in FACE_POLICIES:  # a closed choice: never read an unknown one as a default
        raise ValueError(f"unknown face policy {policy!r} (one of {', '.join(FACE_POLICIES)})")
    if not detections:
        return "no_face", []
    if len(detections) == 1:
        return "ok", list(detections)
    if policy == "largest":
        return "ok", [max(detections, key=lambda d: d.area_px)]
    if policy == "all":
        return "ok", sorted(detections, key=lambda d: d.box_xywh[0])
    return "multiple_faces", []


def scores_by_label(labels: Sequence[str], values: np.ndarray) -> dict[str, float]:
    return {label: float(v) for label, v in zip(labels, values, strict=True)}


def _region(image: np.ndarray, xyxy: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = xyxy
    return image[y0:y1, x0:x1]


@dataclass
class _FrameWork:
    """What one frame's faces add up to while they are classified one by one."""

    faces: list[FaceResult] = field(default_factory=list)
    probabilities_of: dict[int, np.ndarray] = field(default_factory=dict)  # id(FaceResult)
    preprocess_ms: float = 0.0
    inference_ms: float = 0.0


class FrameAnalyzer:
    def __init__(
        self,
        detector: FaceDetector,
        classifier: Classifier,
        faces: FacesConfig,
        smoothing: SmoothingConfig,
        reuse: ReuseConfig | None = None,
    ) -> None:
        self.detector = detector
        self.classifier = classifier
        self.faces_cfg = faces
        self.smoother = EmotionSmoother(classifier.labels, smoothing)
        self.decider = LabelDecider(smoothing)
        self.tracks = FaceTracks(reuse or ReuseConfig(enabled=False))
        self.classifier_calls = 0
        self._fed_at_s = 0.0  # frame time of the last face that fed the reported emotion
        self.episodes = EpisodeTracker()

    def analyze(self, frame: Frame) -> Result:
        t0 = time.perf_counter()
        found = self.detector.detect(frame.image_bgr)
        t_detect = time.perf_counter()
        min_px = self.faces_cfg.min_size_px
        found = [d for d in found if min(d.box_xywh[2], d.box_xywh[3]) >= min_px]
        status, chosen = apply_face_policy(found, self.faces_cfg.policy)
        work = _FrameWork()
        now_s = frame.time_s  # a file's own time: its answers do not depend on the machine
        for det in chosen:
            self._add_face(frame.image_bgr, det, now_s, work)
        self.tracks.forget_stale(now_s)
        primary = largest_face(work.faces)  # it drives the reported emotion, as outputs say
        scores = work.probabilities_of[id(primary)] if primary else None
        smoothed = self.smoother.update(scores, now_s)
        decision = self.decider.update(smoothed, now_s)
        if scores is not None:
            self._fed_at_s = now_s
        age_s = None if decision.label is None else max(0.0, now_s - self._fed_at_s)
        t_end = time.perf_counter()
        result = Result(
            frame_index=frame.index,
            captured_at_s=frame.captured_at_s,
            wall_time_s=frame.wall_time_s,
            status=status,
            detections=tuple(found),
            faces=tuple(work.faces),
            timings=Timings(
                detect_ms=(t_detect - t0) * 1000.0,
                preprocess_ms=work.preprocess_ms,
                inference_ms=work.inference_ms,
                total_ms=(t_end - t0) * 1000.0,
            ),
            latency_ms=(time.monotonic() - frame.captured_at_s) * 1000.0,
            decision=decision,
            smoothed_scores=smoothed or {},
            model_name=self.classifier.name,
            source_file=frame.source_file,
            decision_age_s=age_s,
        )
        event = self.episodes.update(result.face_present, result.shown_label, now_s)
        return replace(result, episode_id=self.episodes.episode_id, episode_event=event)

    def _add_face(
        self, image_bgr: np.ndarray, det: Detection, now_s: float, work: _FrameWork
    ) -> None:
        """One face: its tracked scores when reuse allows, else a crop and a classification."""
        track = self.tracks.match(det.box_xywh)
        probabilities, classified = None, None
        if track is not None:
            region = _region(image_bgr, track.crop_xyxy)
            probabilities = self.tracks.reusable(track, det.box_xywh, thumbnail(region), now_s)
        reused = probabilities is not None
        if probabilities is None:  # the crop (a warp when aligned) only when classified
            face_crop = frame_face(
                image_bgr,
                det.box_xywh,
                det.keypoints_xy,
                self.classifier.framing,
                margin=self.faces_cfg.margin,
                model_hw=self.classifier.input_size_hw,
            )
            out = self.classifier.classify(face_crop.image_bgr)
            self.classifier_calls += 1
            work.preprocess_ms += out.preprocess_ms
            work.inference_ms += out.inference_ms
            probabilities = out.probabilities
            # reuse later compares this axis-aligned region of the frame, not the crop
            region_xyxy = face_crop.region_xyxy
            classified = (region_xyxy, thumbnail(_region(image_bgr, region_xyxy)))
        self.tracks.update(track, det.box_xywh, probabilities, now_s, classified)
        best = int(np.argmax(probabilities))
        labels = self.classifier.labels
        face = FaceResult(
            detection=det,
            label=labels[best],
            confidence=float(probabilities[best]),
            scores=scores_by_label(labels, probabilities),
            reused=reused,
        )
        work.faces.append(face)
        work.probabilities_of[id(face)] = probabilities
