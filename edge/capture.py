"""Capture sources: cameras, streams, video files and images, behind one small protocol.

A source is synchronous and knows nothing about threads; the pipeline's capture
thread calls it. `read()` returns a BGR frame, raises `EndOfStream` when a
finite source is done, or `SourceUnavailable` when a live source failed and is
worth reopening later.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from edge.config import SourceConfig
from edge.errors import SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
STREAM_TIMEOUT_MS = 5000


class EndOfStream(Exception):
    """A finite source (file, images) has no more frames."""


class SourceUnavailable(Exception):
    """A live source failed; reopening later may work."""


class Source(Protocol):
    description: str
    live: bool  # can vanish and come back (camera, stream); files are not live
    plays_file: bool  # frames come from a file, so the pipeline paces them itself
    nominal_fps: float | None  # the source's own rate, used to pace files

    def open(self) -> None: ...

    def read(self) -> np.ndarray: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SourceSpec:
    """What `uri` means, decided once from the config."""

    kind: str  # camera | stream | gstreamer | video | images | picamera2
    target: str | int


def kind_from_text(uri: str) -> str | None:
    """What `uri` is by its form alone (no file system look-up), or None for a path."""
    uri = uri.strip()
    if uri == "picamera2":
        return "picamera2"
    if uri.isdigit() or uri.startswith("/dev/video"):
        return "camera"
    if "://" in uri:
        return "stream"
    if "!" in uri:
        return "gstreamer"
    return None


def resolve_source(cfg: SourceConfig) -> SourceSpec:
    """Decide what the configured `uri` is; raise SourceError for files that do not exist."""
    uri = cfg.uri.strip()
    kind = "picamera2" if cfg.kind == "picamera2" else kind_from_text(uri)
    if kind is not None:
        return SourceSpec(kind, int(uri) if uri.isdigit() else uri)
    path = Path(uri).expanduser()
    if cfg.kind == "images" or any(c in uri for c in "*?[") or path.is_dir():
        return SourceSpec("images", str(path))
    if not path.exists():
        raise SourceError(
            f"{uri}: no such file (source.uri: give a camera index, /dev/videoN, "
            "a URL, a video or image file, a folder or a glob)"
        )
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return SourceSpec("images", str(path))
    return SourceSpec("video", str(path))


class Backoff:
    """Reconnect delays: initial, doubling, capped; reset after a success."""

    def __init__(self, initial_s: float, max_s: float) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self._next_s = initial_s

    def next_delay_s(self) -> float:
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self.max_s)
        return delay

    def reset(self) -> None:
        self._next_s = self.initial_s


class Pacer:
    """Tells how long to wait so that frame n is released at start + n / fps."""

    def __init__(self, fps: float) -> None:
        self.period_s = 1.0 / fps
        self._start_s: float | None = None
        self._count = 0

    def delay_s(self, now_s: float) -> float:
        if self._start_s is None:
            self._start_s = now_s
        due = self._start_s + self._count * self.period_s
        self._count += 1
        if now_s - due > 1.0:  # fell far behind (a stall): restart the clock, no burst
            self._start_s, self._count = now_s, 1
            return 0.0
        return max(0.0, due - now_s)


class OpenCVSource:
    """Camera index, /dev/videoN, URL or video file via cv2.VideoCapture."""

    def __init__(self, spec: SourceSpec, cfg: SourceConfig) -> None:
        self.spec = spec
        self.cfg = cfg
        self.live = spec.kind in ("camera", "stream") or cfg.treat_as_camera
        self.plays_file = spec.kind == "video"
        self.description = f"{spec.kind} {spec.target}"
        self.nominal_fps: float | None = None
        self.size_wh: tuple[int, int] | None = None  # as of the last open
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        target = self.spec.target
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            # OpenCV and FFmpeg print their own lines on stderr (stream timeouts, "Connection
            # to tcp://... failed" on every reconnect); ours say enough. FFmpeg's level is
            # read when OpenCV first uses it, so it is set before the first capture.
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
            os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
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
                f"{target}: cannot be opened as video (not a video file OpenCV "
                "can decode; check the file or set source.uri)"
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


def as_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def make_source(cfg: SourceConfig) -> Source:
    spec = resolve_source(cfg)
    if spec.kind == "images":
        from edge.images import ImageSource  # (imports this module: EndOfStream, as_bgr)

        return ImageSource(str(spec.target))
    if spec.kind == "picamera2":
        from edge.picamera import Picamera2Source  # optional hardware library

        return Picamera2Source(cfg)
    if spec.kind == "gstreamer":
        from edge.gst import GstLaunchSource

        return GstLaunchSource(cfg)
    return OpenCVSource(spec, cfg)
