"""An OpenCV window, for a desktop (X11 or Wayland). q or Esc stops the pipeline."""

from __future__ import annotations

import os
from collections.abc import Callable

import cv2
import numpy as np

from edge.display.common import DisplayUnavailable

TITLE = "emotion-edge"


class WindowDisplay:
    def __init__(self, fullscreen: bool, on_quit: Callable[[], None]) -> None:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise DisplayUnavailable(
                "window: no desktop here (DISPLAY and WAYLAND_DISPLAY are "
                "unset); use display.backend: framebuffer on a console"
            )
        try:
            cv2.namedWindow(TITLE, cv2.WINDOW_NORMAL)
            if fullscreen:
                cv2.setWindowProperty(TITLE, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)
        except cv2.error as exc:
            raise DisplayUnavailable(f"window: OpenCV cannot open a window ({exc.msg})") from None
        self.on_quit = on_quit
        self.description = "window" + (" (full screen)" if fullscreen else "")
        self.frames_shown = 0

    def show_image(self, image_bgr: np.ndarray) -> None:
        cv2.imshow(TITLE, image_bgr)
        self.frames_shown += 1
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            self.on_quit()

    def close(self) -> None:
        cv2.destroyWindow(TITLE)
