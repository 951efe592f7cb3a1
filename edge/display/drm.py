"""Raspberry Pi: Picamera2's DRM preview shows the camera on HDMI; we draw on its overlay.

The preview is composited by the display hardware at the camera's rate without going
through Python; the overlay (RGBA) is replaced only when a new result arrives.
"""

from __future__ import annotations

from typing import Any

from edge.display.common import DisplayUnavailable
from edge.overlay import draw_overlay_rgba
from edge.types import Frame, Result


class DrmOverlay:
    def __init__(self, source: Any) -> None:
        from edge.picamera import Picamera2Source

        if not isinstance(source, Picamera2Source):
            raise DisplayUnavailable(
                "drm: the DRM preview needs the Raspberry Pi camera "
                "(source.kind: picamera2); use framebuffer otherwise"
            )
        source.drm_preview = True
        self.source = source
        self.description = "drm preview (picamera2) with overlay"
        self.overlays_set = 0
        self._last_index: int | None = None

    def show(self, frame: Frame, result: Result | None) -> None:
        camera = self.source.camera
        if camera is None or result is None or result.frame_index == self._last_index:
            return
        self._last_index = result.frame_index
        camera.set_overlay(draw_overlay_rgba(frame.size_wh, result))
        self.overlays_set += 1

    def close(self) -> None:
        pass  # the preview goes with the camera, which its source closes
