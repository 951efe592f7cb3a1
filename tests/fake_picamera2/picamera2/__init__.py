"""A stand-in for the Raspberry Pi camera library, which needs the camera itself.

It follows the calls emotion-edge makes (Picamera2(), create_video_configuration,
configure, start_preview, start, capture_array, set_overlay, stop, close), serves a
real photo as the camera's frames and records what was called, in order.
"""

from __future__ import annotations

import enum
import time

import cv2
import numpy as np


class Preview(enum.Enum):
    NULL = 0
    DRM = 1
    QTGL = 2


CALLS: list[tuple[str, object]] = []
FRAME_BGR: np.ndarray | None = None  # set by the test


class Picamera2:
    def __init__(self) -> None:
        CALLS.append(("init", None))
        self.size = (640, 480)

    def create_video_configuration(self, main: dict, controls: dict, buffer_count: int) -> dict:
        assert main["format"] == "RGB888"
        self.size = main["size"]
        return {"main": main}

    def configure(self, config: dict) -> None:
        CALLS.append(("configure", config["main"]["size"]))

    def start_preview(self, preview: Preview, x: int, y: int, width: int, height: int) -> None:
        CALLS.append(("start_preview", preview))

    def start(self) -> None:
        CALLS.append(("start", None))

    def capture_array(self, name: str) -> np.ndarray:
        time.sleep(1 / 30)  # a 30 fps camera
        assert FRAME_BGR is not None
        return cv2.resize(FRAME_BGR, self.size)  # RGB888 is B, G, R in memory

    def set_overlay(self, overlay: np.ndarray) -> None:
        CALLS.append(("set_overlay", overlay.shape))

    def stop(self) -> None:
        CALLS.append(("stop", None))

    def close(self) -> None:
        CALLS.append(("close", None))
