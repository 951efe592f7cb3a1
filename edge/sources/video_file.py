"""A video file read once from start to end, frame by frame: the bench's and convert's reader.

Not a `Source`: no pacing, no reopening, no state; the tools that score or measure a whole
file (edge/app/bench, convert's calibration, demo sample and segment scores) read it here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from edge.errors import EdgeError, SourceError


class VideoFile:
    """`path` opened for reading; `error(...)` naming the file and `fix` when it cannot be.

    Use it in a `with` block, or call `close()`: OpenCV holds the file until then.
    """

    def __init__(
        self,
        path: Path,
        *,
        error: type[EdgeError] = SourceError,
        fix: str = "give a video file",
    ) -> None:
        self.path = path
        self._error = error
        self._fix = fix
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            self.close()
            raise self._unreadable()
        # a container without a rate gives 0: None, and the caller picks its default
        self.fps: float | None = float(self._cap.get(cv2.CAP_PROP_FPS)) or None

    def frames(self, every_nth: int = 1) -> Iterator[np.ndarray]:
        """Every `every_nth` frame (BGR) to the end; the error when not even one decodes."""
        if every_nth < 1:
            raise ValueError(f"every_nth must be 1 or more, got {every_nth}")
        index = 0
        while True:
            ok, image = self._cap.read()
            if not ok:
                if index == 0:
                    raise self._unreadable()
                return
            if index % every_nth == 0:
                yield image
            index += 1

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> VideoFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _unreadable(self) -> EdgeError:
        return self._error(f"{self.path}: no video frame could be decoded ({self._fix})")


def video_frames(
    path: Path,
    every_nth: int = 1,
    *,
    error: type[EdgeError] = SourceError,
    fix: str = "give a video file",
) -> Iterator[np.ndarray]:
    """Every `every_nth` frame of the video file at `path`, read one at a time."""
    with VideoFile(path, error=error, fix=fix) as video:
        yield from video.frames(every_nth)
