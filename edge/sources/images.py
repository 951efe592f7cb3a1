"""Image files as a source: a file, a folder or a glob, each image once, in name order."""

from __future__ import annotations

import glob
import logging
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from edge import MAX_IMAGE_PIXELS
from edge.config.source import IMAGE_SUFFIXES, SourceSpec
from edge.errors import SourceError, first_line, printable
from edge.sources.base import EndOfStream, as_bgr, quiet_opencv

if TYPE_CHECKING:
    from edge.config import SourceConfig

log = logging.getLogger(__name__)


class ImageSource:
    """An image file, a folder of images or a glob, read once in name order.

    Files that cannot be used are skipped with one line each and counted (`skipped`):
    anything but a regular file (a FIFO would block the read for ever), empty, unreadable,
    truncated JPEG, not decodable, or over edge.MAX_IMAGE_PIXELS.
    """

    live = False
    plays_file = True
    nominal_fps: float | None = None

    def __init__(self, spec: SourceSpec, cfg: SourceConfig) -> None:
        self.pattern = pattern = str(spec.target)
        self.description = f"images {printable(pattern)}"
        self.skipped = 0
        self.current_file: str | None = None  # the file the last read() returned
        self._paths: list[str] = []
        self._next = 0

    def open(self) -> None:
        quiet_opencv()
        path = Path(self.pattern)
        if path.is_dir():
            paths = [str(p) for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
        elif path.exists():
            paths = [str(path)]
        else:
            paths = sorted(
                p for p in glob.glob(self.pattern) if Path(p).suffix.lower() in IMAGE_SUFFIXES
            )
        if not paths:
            raise SourceError(
                f"{printable(self.pattern)}: no images found (.jpg, .png, .bmp, .webp, .tif)"
            )
        self._paths, self._next = paths, 0

    def read(self) -> np.ndarray:
        while self._next < len(self._paths):
            path = self._paths[self._next]
            self._next += 1
            image, problem = read_image(path)
            if image is not None:
                self.current_file = path
                return as_bgr(image)
            self.skipped += 1
            log.warning("%s: %s, skipped", printable(path), problem)
        raise EndOfStream

    def close(self) -> None:
        self._paths = []


def read_image(path: str) -> tuple[np.ndarray | None, str]:
    """The decoded image, or None and why it cannot be used. The file is read once."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return None, "not a regular file"
    if info.st_size == 0:
        return None, "empty file"
    limit_px = int(os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", MAX_IMAGE_PIXELS))
    # an image within the pixel limit needs at most 4 bytes a pixel (8-bit RGBA, stored
    # raw); a larger file is not one OpenCV would decode, and reading it whole could take
    # gigabytes (a 1.5 GB junk .jpg did)
    max_bytes = 4 * limit_px + 1_000_000
    if info.st_size > max_bytes:
        return None, f"{info.st_size / 1e6:.0f} MB, larger than an image of the pixel limit"
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)  # it may have grown since the stat
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror})"
    if len(data) > max_bytes:
        return None, "grew past the size of an image of the pixel limit while being read"
    if Path(path).suffix.lower() in (".jpg", ".jpeg") and not jpeg_is_complete(data):
        return None, "truncated JPEG (no end marker)"
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:  # OpenCV asserts on an image over its pixel limit
        if "MAX_IMAGE_PIXELS" in str(exc):
            return None, f"over {limit_px / 1e6:.0f} megapixels (OPENCV_IO_MAX_IMAGE_PIXELS)"
        return None, f"not a decodable image ({first_line(exc)})"
    if image is None:
        return None, "not a decodable image"
    return image, ""


# in entropy-coded data 0xFF is followed by 0x00 (stuffing) or a restart marker; anything
# else starts the next marker
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")


def jpeg_is_complete(data: bytes) -> bool:
    """Whether the JPEG's segments run on to its end-of-image marker (FF D9).

    A truncated file decodes without an error (libjpeg fills the missing rows grey and
    only prints a warning), so the structure is walked here. Data after the end marker
    (a phone's motion photo) is fine; a file that is not JPEG is left to the decoder.
    """
    if not data.startswith(b"\xff\xd8"):
        return True
    pos = 2
    while pos + 1 < len(data):
        if data[pos] != 0xFF:
            return True  # not a structure we know: the decoder will say
        marker = data[pos + 1]
        if marker == 0xD9:
            return True
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 1 if marker == 0xFF else 2  # fill byte, or a marker without length
            continue
        if pos + 4 > len(data):
            return False
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next marker
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                return False
            pos = found.start()
    return False
