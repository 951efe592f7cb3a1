"""Raspberry Pi camera through Picamera2 (libcamera). Imported only when asked for."""

from __future__ import annotations

import logging
from typing import Any, Protocol

import numpy as np

from edge.config import SourceConfig
from edge.config.source import SourceSpec
from edge.errors import DependencyError, EdgeError, first_line
from edge.sources.base import SourceUnavailable

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 5.0  # as long as a stream's read (sources.opencv.STREAM_TIMEOUT_MS)

INSTALL_HINT = (
    "picamera2 is not importable: on Raspberry Pi OS run ./setup.sh again (it installs "
    "python3-picamera2 and makes .venv with --system-site-packages); elsewhere use "
    "source.uri: 0 or /dev/video0"
)


class CameraPreview(Protocol):
    """Shows the camera on a screen (edge.display.drm.CameraPreview); the source says when."""

    def attach(self, camera: Any) -> None: ...

    def detach(self) -> None: ...


class Picamera2Source:
    live = True
    current_file: str | None = None  # a live source has no files
    skipped = 0
    plays_file = False

    def __init__(
        self, spec: SourceSpec, cfg: SourceConfig, *, preview: CameraPreview | None = None
    ) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise DependencyError(INSTALL_HINT) from exc
        except Exception as exc:  # e.g. ValueError "numpy.dtype size changed" from simplejpeg
            raise DependencyError(
                f"picamera2 fails to import ({type(exc).__name__}: {first_line(exc)}): run "
                "./setup.sh again, which installs simplejpeg built for the venv's numpy"
            ) from exc
        self._factory = Picamera2
        self.preview = preview
        self.cfg = cfg
        self.description = "picamera2 camera 0"
        self.nominal_fps: float | None = cfg.fps
        self._camera: Any = None

    def open(self) -> None:
        size = (self.cfg.width or 640, self.cfg.height or 480)
        camera: Any = None
        try:
            camera = self._factory()
            controls = {"FrameRate": self.cfg.fps} if self.cfg.fps else {}
            # "RGB888" in libcamera's naming is B, G, R in memory: what OpenCV calls BGR.
            config = camera.create_video_configuration(
                main={"size": size, "format": "RGB888"}, controls=controls, buffer_count=4
            )
            camera.configure(config)
            if self.preview is not None:  # a preview starts before the camera does
                self.preview.attach(camera)
            camera.start()
        except EdgeError:  # the preview's (no screen, a desktop holds it): not a lost camera
            self._release(camera)
            raise
        except Exception as exc:  # libcamera raises several types when no camera is there
            if camera is not None:  # a half-opened camera would stay busy for the next try
                self._release(camera)
            raise SourceUnavailable(f"picamera2: cannot start camera ({exc})") from exc
        self._camera = camera

    def read(self) -> np.ndarray:
        if self._camera is None:
            raise SourceUnavailable("picamera2 camera is not open")
        try:
            # a job and a bounded wait: with the DRM preview gone (HDMI unplugged) picamera2
            # stops delivering, and a plain capture_array() would wait for ever
            job = self._camera.capture_array("main", wait=False)
            frame = self._camera.wait(job, timeout=READ_TIMEOUT_S)
        except TimeoutError:
            raise SourceUnavailable(f"picamera2: no frame for {READ_TIMEOUT_S:g} s") from None
        except Exception as exc:
            raise SourceUnavailable(f"picamera2: capture failed ({exc})") from exc
        return np.ascontiguousarray(frame[:, :, :3])

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            self._release(camera)

    def _release(self, camera: Any) -> None:
        if self.preview is not None:
            self.preview.detach()  # waits for an overlay being set: none reaches a closed camera
        try:
            camera.stop()
            camera.close()
        except Exception as exc:  # closing a vanished camera must not crash shutdown
            log.debug("picamera2 close: %s", exc)
