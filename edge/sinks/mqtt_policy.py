"""Which results are published, and what the stats message says: plain functions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from edge.config_mqtt import PUBLISH_MODES, PublishMode
from edge.payload import iso_utc
from edge.stats import StatsSnapshot
from edge.types import Result

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


class PublishPolicy:
    """every: all results; rate: at most `max_rate_hz`; change: status or smoothed emotion."""

    def __init__(self, mode: PublishMode, max_rate_hz: float) -> None:
        if mode not in PUBLISH_MODES:  # a closed choice: never read an unknown one as "change"
            raise ValueError(f"unknown publish mode {mode!r} (one of {', '.join(PUBLISH_MODES)})")
        self.mode = mode
        self.period_s = 1.0 / max_rate_hz
        self._last_s = float("-inf")
        self._last_key: tuple[str, str | None] | None = None

    def should_publish(self, result: Result, now_s: float) -> bool:
        if self.mode == "every":
            return True
        if self.mode == "rate":
            if now_s - self._last_s >= self.period_s:
                self._last_s = now_s
                return True
            return False
        key = (result.status, result.smoothed_label)
        if key != self._last_key:
            self._last_key = key
            return True
        return False


def process_rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        return None
    return None


def cpu_temperature_c(zone: Path = THERMAL_ZONE) -> float | None:
    """The SoC temperature on a Pi or Jetson (millidegrees in sysfs); None where absent."""
    try:
        return round(int(zone.read_text(encoding="ascii").strip()) / 1000, 1)
    except (OSError, ValueError):
        return None


def stats_payload(snap: StatsSnapshot, mqtt_dropped: int) -> dict[str, Any]:
    return {
        "time": iso_utc(time.time()),
        "uptime_s": round(snap.uptime_s, 1),
        "capture_fps": round(snap.capture_fps, 2),
        "processed_fps": round(snap.processed_fps, 2),
        "frames_captured": snap.frames_captured,
        "frames_processed": snap.frames_processed,
        "frames_dropped": snap.frames_dropped,
        "inference_ms": round(snap.inference_ms_mean, 2),
        "memory_rss_mb": process_rss_mb(),
        "cpu_temperature_c": cpu_temperature_c(),
        "source_state": snap.source_state,
        "mqtt_dropped": mqtt_dropped,
    }
