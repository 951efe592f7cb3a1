"""The JSON form of a Result: one schema for JSON Lines, MQTT and the web view."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from edge.types import Result

SCHEMA_VERSION = 1


def iso_utc(wall_time_s: float) -> str:
    """ISO 8601 UTC with milliseconds and a Z, as dashboards and Home Assistant expect."""
    stamp = datetime.fromtimestamp(wall_time_s, tz=timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def result_to_dict(result: Result) -> dict[str, Any]:
    """Top-level emotion fields describe the largest classified face (null when none)."""
    primary = max(result.faces, key=lambda f: f.box_xywh[2] * f.box_xywh[3], default=None)
    t = result.timings
    return {
        "schema": SCHEMA_VERSION,
        "time": iso_utc(result.wall_time_s),
        "frame": result.frame_index,
        "status": result.status,
        "emotion": primary.label if primary else None,
        "confidence": primary.confidence if primary else None,
        "scores": dict(primary.scores) if primary else {},
        "smoothed_emotion": result.smoothed_label,
        "smoothed_scores": dict(result.smoothed_scores),
        "faces_detected": result.detected_faces,
        "faces": [
            {
                "box_xywh": list(face.box_xywh),
                "detection_score": face.detection_score,
                "emotion": face.label,
                "confidence": face.confidence,
                "scores": dict(face.scores),
                "reused": face.reused,
            }
            for face in result.faces
        ],
        "latency_ms": round(result.latency_ms, 2),
        "timings_ms": {
            "detect": round(t.detect_ms, 2),
            "preprocess": round(t.preprocess_ms, 2),
            "inference": round(t.inference_ms, 2),
            "total": round(t.total_ms, 2),
        },
        "model": result.model_name,
        "file": result.source_file,
    }
