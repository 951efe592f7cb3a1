"""Raspberry Pi camera through Picamera2 (libcamera). Imported only when asked for."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from edge.config import SourceConfig
from edge.errors import DependencyError, first_line
from edge.sources.base import SourceUnavailable
from edge.sources.uri import SourceSpec

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "picamera2 is not importable: on Raspberry Pi OS run ./setup.sh again (it installs "
    "python3-picamera2 and makes .venv with --system-site-packages); elsewhere use "
    "source.uri: 0 or /dev/video0"
)


class Picamera2Source:
    live = True
    plays_file = False

    def __init__(self, spec: SourceSpec, cfg: SourceConfig) -> None:
        try:
            from picamera2 import Picamera2, Preview
        except ImportError as exc:
            raise DependencyError(INSTALL_HINT) from exc
        except Exception as exc:  # e.g. ValueError "numpy.dtype size changed" from simplejpeg
            raise DependencyError(
                f"picamera2 fails to import ({type(exc).__name__}: {first_line(exc)}): run "
                "./setup.sh again, which installs simplejpeg built for the venv's numpy"
            ) from exc
        self._factory = Picamera2
        self._drm_preview = Preview.DRM
        self.drm_preview = False  # set by the drm display before the camera is opened
        self.cfg = cfg
        self.description = "picamera2 camera 0"
        self.nominal_fps: float | None = cfg.fps
        self._camera: Any = None

    def open(self) -> None:
        size = (self.cfg.width or 640, self.cfg.height or 480)
        try:
            camera = self._factory()
            controls = {"FrameRate": self.cfg.fps} if self.cfg.fps else {}
            # "RGB888" in libcamera's naming is B, G, R in memory: what OpenCV calls BGR.
            config = camera.create_video_configuration(
                main={"size": size, "format": "RGB888"}, controls=controls, buffer_count=4
            )
            camera.configure(config)
            if self.drm_preview:
                # the camera's own frames go to HDMI through DRM; we only draw an overlay
                camera.start_preview(self._drm_preview, x=0, y=0, width=size[0], height=size[1])
            camera.start()
        except Exception as exc:  # libcamera raises several types when no camera is there
            raise SourceUnavailable(f"picamera2: cannot start camera ({exc})") from exc
        self._camera = camera

    @property
    def camera(self) -> Any:
        """The running Picamera2 object, or None while closed (for the DRM overlay)."""
        return self._camera

    def read(self) -> np.ndarray:
        if self._camera is None:
            raise SourceUnavailable("picamera2 camera is not open")
        try:
            frame = self._camera.capture_array("main")
        except Exception as exc:
            raise SourceUnavailable(f"picamera2: capture failed ({exc})") from exc
        return np.ascontiguousarray(frame[:, :, :3])

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is None:
            return
        try:
            camera.stop()
            camera.close()
        except Exception as exc:  # closing a vanished camera must not crash shutdown
            log.debug("picamera2 close: %s", exc)
