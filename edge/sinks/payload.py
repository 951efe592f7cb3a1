"""The JSON form of a Result: one schema for JSON Lines, MQTT and the web view."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from edge.errors import valid_unicode
from edge.types import EpisodeEvent, FaceResult, Result

SCHEMA_VERSION = 2  # 2: emotion is the reported (decided) label; 1 had the frame's top-1
SCORE_DECIMALS = 4  # 1/10000: finer than an int8 model's step (1/256), shorter lines


def iso_utc(wall_time_s: float) -> str:
    """ISO 8601 UTC with milliseconds and a Z, as dashboards and Home Assistant expect."""
    stamp = datetime.fromtimestamp(wall_time_s, tz=timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _rounded(scores: Mapping[str, float]) -> dict[str, float]:
    return {label: round(value, SCORE_DECIMALS) for label, value in scores.items()}


def _face(face: FaceResult) -> dict[str, Any]:
    return {
        "box_xywh": list(face.box_xywh),
        "detection_score": round(face.detection_score, SCORE_DECIMALS),
        "emotion": face.label,
        "confidence": round(face.confidence, SCORE_DECIMALS),
        "scores": _rounded(face.scores),
        "reused": face.reused,
    }


def episode_to_dict(event: EpisodeEvent, wall_time_s: float) -> dict[str, Any]:
    """…/events: what Home Assistant's event entity takes (event_type, then attributes)."""
    return {
        "event_type": event.kind,
        "episode": event.episode_id,
        "time": iso_utc(wall_time_s),
        "emotion": event.emotion,
        "duration_s": event.duration_s,
        "dominant_emotion": event.dominant_emotion,
    }


def result_to_dict(result: Result) -> dict[str, Any]:
    """Top-level emotion fields: what is reported (edge.analysis.decide), from the largest
    classified face's smoothed scores; each face in `faces` keeps this frame's own
    classification."""
    decision, t = result.decision, result.timings
    confidence = decision.confidence
    return {
        "schema": SCHEMA_VERSION,
        "time": iso_utc(result.wall_time_s),
        "frame": result.frame_index,
        "status": result.status,
        "emotion": decision.label,
        "emotion_age_s": None if result.decision_age_s is None else round(result.decision_age_s, 2),
        "confidence": None if confidence is None else round(confidence, SCORE_DECIMALS),
        "scores": _rounded(result.smoothed_scores),
        "faces_detected": len(result.detections),
        "faces": [_face(face) for face in result.faces],
        "latency_ms": round(result.latency_ms, 2),
        "timings_ms": {
            "detect": round(t.detect_ms, 2),
            "preprocess": round(t.preprocess_ms, 2),
            "inference": round(t.inference_ms, 2),
            "total": round(t.total_ms, 2),
        },
        "episode": result.episode_id,
        "model": result.model_name,
        "file": None if result.source_file is None else valid_unicode(result.source_file),
    }
