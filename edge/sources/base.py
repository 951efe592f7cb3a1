"""What every capture source is: the protocol, its two exceptions and the colour rule.

A source is synchronous and knows nothing about threads or reconnecting: `open()`,
`read()` (a BGR frame; `EndOfStream` when a finite source is done, `SourceUnavailable`
when a live one failed and is worth reopening later) and `close()`. Reopening, backoff
and pacing are `edge.sources.feed`'s job.
"""

from __future__ import annotations

import logging
import os
from typing import Protocol

import cv2
import numpy as np


class EndOfStream(Exception):
    """A finite source (file, images) has no more frames."""


class SourceUnavailable(Exception):
    """A live source failed; reopening later may work."""


class Source(Protocol):
    description: str
    live: bool  # can vanish and come back (camera, stream); files are not live
    plays_file: bool  # frames come from a file, so they are paced to nominal_fps
    nominal_fps: float | None  # the source's own rate, as of the last open
    current_file: str | None  # the file the last read() came from (image sources), else None
    skipped: int  # inputs passed over as unusable (image sources), for the run's summary

    def open(self) -> None: ...

    def read(self) -> np.ndarray: ...

    def close(self) -> None: ...


def quiet_opencv() -> None:
    """Keep OpenCV's, FFmpeg's and libtiff's own stderr lines out of the log unless DEBUG.

    They repeat what our lines say (a stream timeout, "Connection to tcp://... failed" on
    each reconnect, a TIFF's unknown tag) in their own format. FFmpeg reads its level when
    OpenCV first uses it, so this runs before the first capture or decode.
    """
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        return
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


def shrunk_to(image: np.ndarray, max_pixels: int) -> np.ndarray:
    """`image` itself when it has at most `max_pixels`, else downscaled to fit, same shape."""
    height, width = image.shape[:2]
    if height * width <= max_pixels:
        return image
    scale = (max_pixels / (height * width)) ** 0.5
    size_wh = (max(1, int(width * scale)), max(1, int(height * scale)))
    return cv2.resize(image, size_wh, interpolation=cv2.INTER_AREA)


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Three-channel BGR from a grey or BGRA image, as every stage after capture expects."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image
