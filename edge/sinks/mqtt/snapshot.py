"""…/snapshot: a JPEG of the annotated frame for Home Assistant's image entity.

Sent when the shown emotion changes (a face arrives, leaves, changes), but not more often
than every MIN_GAP_S, and otherwise every `mqtt.snapshot_interval_s` while frames come;
never while paused (there is no frame then). Not retained: a picture does not stay on the
broker after the device is gone. Scaled to `mqtt.snapshot_width`, faces pixelated under
privacy.blur_faces.
"""

from __future__ import annotations

import math

from edge.config.mqtt import MqttConfig
from edge.display.picture import annotated_jpeg
from edge.pipeline.live import LiveState

MIN_GAP_S = 5.0  # between two pictures, whatever changes: a flickering label sends few


class Snapshots:
    def __init__(self, cfg: MqttConfig, live: LiveState, blur: bool) -> None:
        self.interval_s = cfg.snapshot_interval_s
        self.width = cfg.snapshot_width
        self.live = live
        self.blur = blur
        self._sent_at_s = -math.inf
        self._pending_change = False  # a change came within MIN_GAP_S: send when it ends
        self.sent = 0

    def due(self, changed: bool, now_s: float) -> bool:
        self._pending_change = self._pending_change or changed
        since = now_s - self._sent_at_s
        return since >= self.interval_s or (self._pending_change and since >= MIN_GAP_S)

    def take(self, now_s: float) -> bytes | None:
        """The newest frame with its result drawn, as JPEG; None while there is none."""
        frame, result = self.live.latest()
        if frame is None:
            return None
        jpeg = annotated_jpeg(frame, result, self.blur, self.width)
        if jpeg is not None:
            self._sent_at_s, self._pending_change = now_s, False
            self.sent += 1
        return jpeg
