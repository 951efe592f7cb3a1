"""What `source.uri` names, decided from the config alone (standard library only).

Kept free of OpenCV and of `edge.config` so that the config can check a GStreamer
pipeline while it loads without importing any source.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from edge.errors import SourceError

if TYPE_CHECKING:
    from edge.config import SourceConfig

SourceKind = Literal["camera", "stream", "gstreamer", "video", "images", "picamera2"]
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


@dataclass(frozen=True)
class SourceSpec:
    """What `uri` means: which kind of source, and what to open (a camera index or a text)."""

    kind: SourceKind
    target: str | int


def kind_from_text(uri: str) -> SourceKind | None:
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
    target: str | int = int(uri) if uri.isdigit() else uri
    if cfg.kind == "picamera2":
        return SourceSpec("picamera2", uri)
    by_text = kind_from_text(uri)
    if cfg.kind == "opencv":
        # everything goes to cv2.VideoCapture as written: image sequences such as
        # frame_%04d.png, a GStreamer-enabled OpenCV build's own pipelines
        live = by_text in ("camera", "stream")
        return SourceSpec(by_text if live and by_text else "video", target)
    if by_text is not None:
        return SourceSpec(by_text, target)
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


def launch_args(pipeline: str, width: int, height: int) -> list[str]:
    """gst-launch-1.0 arguments: the user's pipeline, ending in raw BGR frames on stdout."""
    # an OpenCV-style pipeline ends in appsink; ours ends in fdsink instead
    body = re.sub(r"!\s*appsink\b.*$", "", pipeline.strip()).strip().rstrip("!").strip()
    tail = (
        f"! videoconvert ! videoscale ! video/x-raw,format=BGR,width={width},"
        f"height={height} ! fdsink fd=1 sync=false"
    )
    return ["gst-launch-1.0", "-q", *shlex.split(f"{body} {tail}")]


def pipeline_problem(uri: str) -> str | None:
    """Why `uri`, if it is a GStreamer pipeline, cannot become gst-launch-1.0 arguments."""
    if kind_from_text(uri) != "gstreamer":
        return None
    try:
        launch_args(uri, 640, 480)
    except ValueError as exc:  # shlex: an unbalanced quote or a trailing backslash
        return (
            f"the GStreamer pipeline cannot be split into arguments ({exc}): "
            "close the quote, or escape it with a backslash"
        )
    return None
