"""What is published when, and what the stats and sensor messages say: plain functions.

Home Assistant records a state row each time an entity's value or attributes change, so
the values it reads (…/sensors) go out when the emotion or face presence changes and
otherwise at most every sensor_interval_s: a steady emotion costs a few thousand rows a
day, not one per result.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from edge.config.mqtt import PUBLISH_MODES, PublishMode
from edge.pipeline.stats import PipelineStats, StatsSnapshot, memory_mb
from edge.sinks.mqtt.const import (
    NO_FACE_STATE,
    SEVERAL_FACES_STATE,
    STALLED,
    STREAMING,
    CameraState,
)
from edge.sinks.payload import iso_utc
from edge.types import Result

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
# a camera that says it streams but gave no frame for this long is reported as stalled
CAMERA_STALLED_AFTER_S = 5.0


class PublishPolicy:
    """every: all results; rate: at most `max_rate_hz`; change: status or reported emotion."""

    def __init__(self, mode: PublishMode, max_rate_hz: float) -> None:
        if mode not in PUBLISH_MODES:  # a closed choice: never read an unknown one as "change"
            raise ValueError(f"unknown publish mode {mode!r} (one of {', '.join(PUBLISH_MODES)})")
        self.mode = mode
        self.period_s = 1.0 / max_rate_hz
        self._last_s = float("-inf")
        self._last_key: tuple[str, str | None] | None = None

    def should_publish(self, status: str, label: str | None, now_s: float) -> bool:
        if self.mode == "every":
            return True
        if self.mode == "rate":
            if now_s - self._last_s >= self.period_s:
                self._last_s = now_s
                return True
            return False
        key = (status, label)
        if key != self._last_key:
            self._last_key = key
            return True
        return False


def sensor_values(result: Result, payload: dict[str, Any]) -> dict[str, Any]:
    """Home Assistant's view of one result (`payload` is its result_to_dict form), rounded
    so that noise below what a person reads does not make a new state.

    The emotion is the word every output shows (Result.shown_label: the reported one, held
    steady, or "uncertain", or "several faces", for which no face was classified and so no
    confidence is given); face presence is Result.face_present.
    """
    shown = result.shown_label
    confidence = None if shown == SEVERAL_FACES_STATE else payload["confidence"]
    return {
        "emotion": shown or NO_FACE_STATE,
        "confidence": None if confidence is None else round(confidence * 100),
        "faces": payload["faces_detected"],
        "face_present": result.face_present,
        "scores": {name: round(value, 2) for name, value in payload["scores"].items()},
    }


class SensorPolicy:
    """At once when the emotion or face presence changes, else once per `interval_s`.

    The periodic message also keeps Home Assistant's expire_after from firing while
    results come.
    """

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._last_s = float("-inf")
        self._last_key: tuple[str, bool] | None = None

    def due(self, values: dict[str, Any], now_s: float) -> bool:
        key = (values["emotion"], values["face_present"])
        if key != self._last_key or now_s - self._last_s >= self.interval_s:
            self._last_key, self._last_s = key, now_s
            return True
        return False


def camera_state(stats: PipelineStats, now_s: float) -> CameraState:
    """starting | streaming | stalled | reconnecting | ended: what the camera does now.

    Reads two fields the capture thread writes (single attribute reads, as the systemd
    notifier does), so it is cheap enough for every supervisor tick.
    """
    state = stats.source_state
    last = stats.last_capture_at_s
    if state == STREAMING and (last is None or now_s - last > CAMERA_STALLED_AFTER_S):
        return STALLED
    return state


def cpu_temperature_c(zone: Path | None = None) -> float | None:
    """The SoC temperature on a Pi or Jetson (millidegrees in sysfs); None where absent."""
    try:
        text = (zone or THERMAL_ZONE).read_text(encoding="ascii")
        return round(int(text.strip()) / 1000, 1)
    except (OSError, ValueError):
        return None


def stats_payload(snap: StatsSnapshot, mqtt_dropped: int) -> dict[str, Any]:
    rss_mb = memory_mb("VmRSS")
    return {
        "time": iso_utc(time.time()),
        "uptime_s": round(snap.uptime_s, 1),
        "capture_fps": round(snap.capture_fps, 2),
        "processed_fps": round(snap.processed_fps, 2),
        "frames_captured": snap.frames_captured,
        "frames_processed": snap.frames_processed,
        "frames_dropped": snap.frames_dropped,
        "inference_ms": round(snap.inference_ms_mean, 2),
        "memory_rss_mb": None if rss_mb is None else round(rss_mb, 1),
        "cpu_temperature_c": cpu_temperature_c(),
        "source_state": snap.source_state,
        "mqtt_dropped": mqtt_dropped,
    }
