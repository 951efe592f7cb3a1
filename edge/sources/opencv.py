"""Camera index, /dev/videoN, stream URL or video file, through cv2.VideoCapture."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import cv2
import numpy as np

from edge.config.source import SourceSpec
from edge.errors import SourceError, redact_credentials
from edge.sources.base import EndOfStream, SourceUnavailable, as_bgr, quiet_opencv

if TYPE_CHECKING:
    from edge.config import SourceConfig

log = logging.getLogger(__name__)

# FFmpeg's stream open and read wait this long at most; OpenCV cannot interrupt them, so a
# stop may find the capture thread inside one (pipeline.JOIN_TIMEOUT_S says what happens)
STREAM_TIMEOUT_MS = 5000


class OpenCVSource:
    """Camera index, /dev/videoN, URL or video file via cv2.VideoCapture."""

    current_file: str | None = None  # a video is one file; the frame says where in it
    skipped = 0

    def __init__(self, spec: SourceSpec, cfg: SourceConfig) -> None:
        self.spec = spec
        self.cfg = cfg
        self.live = spec.kind in ("camera", "stream") or cfg.treat_as_camera
        self.plays_file = spec.kind == "video"
        self.description = f"{spec.kind} {redact_credentials(str(spec.target))}"
        self.nominal_fps: float | None = None
        self.size_wh: tuple[int, int] | None = None  # as of the last open
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        target = self.spec.target
        quiet_opencv()
        if self.spec.kind == "stream":
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                STREAM_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                STREAM_TIMEOUT_MS,
            ]
            cap = cv2.VideoCapture(str(target), cv2.CAP_FFMPEG, params)
        else:
            cap = cv2.VideoCapture(target)
        if not cap.isOpened():
            cap.release()
            if self.live:
                raise SourceUnavailable(f"cannot open {self.description}")
            raise SourceError(
                f"{redact_credentials(str(target))}: cannot be opened as video (not a video "
                "file OpenCV can decode; check the file or set source.uri)"
            )
        if self.spec.kind == "camera":
            for prop, value in (
                (cv2.CAP_PROP_FRAME_WIDTH, self.cfg.width),
                (cv2.CAP_PROP_FRAME_HEIGHT, self.cfg.height),
                (cv2.CAP_PROP_FPS, self.cfg.fps),
            ):
                if value is not None:
                    cap.set(prop, float(value))
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # freshest frame, not a queue of old ones
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.nominal_fps = float(fps) if 0 < fps < 1000 else None
        # OpenCV scales a stream to the size it opened with, so a camera that changes its
        # resolution shows the new one only here, after a reopen: say so once
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        if self.size_wh and all(size) and size != self.size_wh:
            log.info(
                "%s: picture size is now %dx%d (was %dx%d)", self.description, *size, *self.size_wh
            )
        self.size_wh = size if all(size) else self.size_wh
        self._cap = cap

    def read(self) -> np.ndarray:
        if self._cap is None:
            raise SourceUnavailable(f"{self.description} is not open")
        ok, image = self._cap.read()
        if ok and image is not None:
            return as_bgr(image)
        if self.live:
            raise SourceUnavailable(f"{self.description} returned no frame")
        if self.cfg.loop and self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0):
            ok, image = self._cap.read()
            if ok and image is not None:
                return as_bgr(image)
        raise EndOfStream

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
