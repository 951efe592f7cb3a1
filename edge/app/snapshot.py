"""`emotion-edge snapshot OUT.png`: one annotated frame from the configured source.

For checking a set-up (is the camera aimed, is the face found) and for bug reports.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import cv2

from edge.analysis.stages import open_stages
from edge.app.outfile import require_writable
from edge.config import Config
from edge.display.overlay import draw_overlay
from edge.errors import ConfigError, SourceError
from edge.sources import EndOfStream, SourceUnavailable, make_source
from edge.types import Frame

log = logging.getLogger(__name__)

CAMERA_WARMUP_FRAMES = 10  # auto-exposure needs a few frames before the picture is usable


def write_snapshot(config: Config, out: Path) -> str:
    """Analyse one frame, draw it, write it as an image; returns the frame's status."""
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise ConfigError(f"{out}: give a .png or .jpg file name")
    require_writable(out, "snapshot", "a .png or .jpg file in a writable folder")
    source = make_source(config.source)
    with contextlib.ExitStack() as closing:
        # no reuse and no smoothing history: one frame, classified
        analyzer = closing.enter_context(open_stages(config, reuse=False)).analyzer
        try:
            source.open()
        except SourceUnavailable as exc:
            raise SourceError(f"{source.description}: {exc} (is it connected?)") from None
        closing.callback(source.close)
        image = None
        try:
            for _ in range(CAMERA_WARMUP_FRAMES if source.live else 1):
                image = source.read()
        except (EndOfStream, SourceUnavailable) as exc:
            if image is None:
                raise SourceError(f"{source.description}: no frame to take ({exc})") from None
        assert image is not None
        result = analyzer.analyze(Frame(0, image, time.monotonic(), time.time()))
    annotated = draw_overlay(
        image,
        result,
        inference_ms=result.timings.inference_ms or None,
        blur=config.privacy.blur_faces,
    )
    try:
        written = cv2.imwrite(str(out), annotated)
    except cv2.error:
        written = False
    if not written:
        raise ConfigError(f"{out}: cannot be written (disk full?)")
    return result.status
