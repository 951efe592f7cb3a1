"""Capture sources: cameras, streams, video files, images, GStreamer and the Pi camera.

    base.py       the Source protocol, EndOfStream / SourceUnavailable, as_bgr
    opencv.py     camera index, /dev/videoN, URL, video file (cv2.VideoCapture)
    images.py     an image, a folder or a glob, each file once
    gstreamer.py  a gst-launch-1.0 child writing raw frames (a Jetson's CSI camera)
    picamera.py   the Raspberry Pi camera through picamera2 (imported only when used)
    feed.py       ReconnectingSource: open, reopen with backoff, pace files
    video_file.py the frames of a video file, for the bench and convert

What `source.uri` names is decided in edge/config/source.py, from the config alone.

Every source is built the same way, `Kind(spec, cfg)`, by `make_source`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.config.source import SourceKind, SourceSpec, kind_from_text, resolve_source
from edge.sources.base import EndOfStream, Source, SourceUnavailable, as_bgr
from edge.sources.feed import FeedPolicy, ReconnectingSource

if TYPE_CHECKING:
    from edge.config import SourceConfig
    from edge.sources.picamera import CameraPreview


def make_source(cfg: SourceConfig, *, preview: CameraPreview | None = None) -> Source:
    """The source `cfg` names, not yet opened; SourceError when it cannot exist.

    `preview`: the screen preview a Pi camera shows itself (edge.display.camera_preview).
    """
    spec = resolve_source(cfg)
    if spec.kind == "images":
        from edge.sources.images import ImageSource

        return ImageSource(spec, cfg)
    if spec.kind == "picamera2":
        from edge.sources.picamera import Picamera2Source  # imports picamera2, lazily

        return Picamera2Source(spec, cfg, preview=preview)
    if spec.kind == "gstreamer":
        from edge.sources.gstreamer import GstLaunchSource

        return GstLaunchSource(spec, cfg)
    from edge.sources.opencv import OpenCVSource

    return OpenCVSource(spec, cfg)


__all__ = [
    "EndOfStream",
    "FeedPolicy",
    "ReconnectingSource",
    "Source",
    "SourceKind",
    "SourceSpec",
    "SourceUnavailable",
    "as_bgr",
    "kind_from_text",
    "make_source",
    "resolve_source",
]
