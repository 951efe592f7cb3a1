"""The `source:` section, and what its `uri` names, decided from the config alone.

Standard library and pydantic only: validating a config (`check-config`) imports no
source, no OpenCV and no numpy.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from edge.config.base import Section
from edge.errors import SourceError

SourceKind = Literal["camera", "stream", "gstreamer", "video", "images", "picamera2"]
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


@dataclass(frozen=True)
class SourceSpec:
    """What `uri` means: which kind of source, and what to open (a camera index or a text)."""

    kind: SourceKind
    target: str | int


GLOB_CHARACTERS = "*?["
MAX_CAMERA_INDEX = 255  # Linux numbers video devices /dev/video0 to /dev/video255


def is_camera_index(uri: str) -> bool:
    """Written as a camera number: ASCII digits only (`"²".isdigit()` is true, too)."""
    return uri.isascii() and uri.isdigit()


VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".ts"})


def kind_from_text(uri: str) -> SourceKind | None:
    """What `uri` is by its form alone (no file system look-up), or None for a path."""
    uri = uri.strip()
    if uri == "picamera2":
        return "picamera2"
    if is_camera_index(uri) or uri.startswith("/dev/video"):
        return "camera"
    if "://" in uri:
        return "stream"
    if "!" in uri:
        return "gstreamer"
    return None


def _is_path(uri: str) -> bool:
    """An existing file or folder: a `!`, `[`, `?` or `*` in its name then means nothing
    (`Hello!.png`, yt-dlp's `Title [id].mp4`, `Photos! 2024/`)."""
    try:
        return Path(uri).expanduser().exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL
        return False


def _path_like(uri: str) -> bool:
    """Written as a file is (a folder part, or a picture or video ending), not as a
    pipeline of elements: `~/clips/wow!.mp4` that is missing is a missing file."""
    if re.search(r"\s!\s", uri):  # elements linked as gst-launch-1.0 writes them
        return False
    suffix = Path(uri).suffix.lower()
    return uri.startswith(("/", "./", "../", "~")) or suffix in {*IMAGE_SUFFIXES, *VIDEO_SUFFIXES}


def _is_pipeline(uri: str) -> bool:
    """A GStreamer pipeline by the rules of `resolve_source` with `kind: auto`: a `!`, and
    neither an existing path nor a name written as a file."""
    return kind_from_text(uri) == "gstreamer" and not _is_path(uri) and not _path_like(uri)


def resolve_source(cfg: SourceConfig) -> SourceSpec:
    """Decide what the configured `uri` is; raise SourceError for files that do not exist.

    `kind` decides when given. With `auto`: a camera index, /dev/video* or a URL by its
    form; then an existing file or folder, whatever its name holds; then a GStreamer
    pipeline (a `!`) or a glob (`*`, `?`, `[`); anything else is a missing file.
    """
    uri = cfg.uri.strip()
    target: str | int = int(uri) if is_camera_index(uri) else uri
    if cfg.kind == "picamera2":
        return SourceSpec("picamera2", uri)
    by_text = kind_from_text(uri)
    if cfg.kind == "opencv":
        # everything goes to cv2.VideoCapture as written: image sequences such as
        # frame_%04d.png, a GStreamer-enabled OpenCV build's own pipelines
        live = by_text in ("camera", "stream")
        return SourceSpec(by_text if live and by_text else "video", target)
    path = Path(uri).expanduser()
    if cfg.kind == "images":
        return SourceSpec("images", str(path))
    if by_text in ("picamera2", "camera", "stream"):
        return SourceSpec(by_text, target)
    if _is_path(uri):
        if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
            return SourceSpec("images", str(path))
        return SourceSpec("video", str(path))
    if _is_pipeline(uri):
        return SourceSpec("gstreamer", target)
    if any(c in uri for c in GLOB_CHARACTERS):
        return SourceSpec("images", str(path))
    raise SourceError(
        f"{uri}: no such file (source.uri: give a camera index, /dev/videoN, "
        "a URL, a video or image file, a folder or a glob)"
    )


# sources that make frames as fast as they are taken, not at a camera's rate
NON_LIVE_ELEMENTS = frozenset({"filesrc", "multifilesrc", "giosrc", "videotestsrc", "imagefreeze"})
URI_ELEMENTS = frozenset({"uridecodebin", "uridecodebin3", "urisourcebin", "playbin", "playbin3"})


def pipeline_is_live(pipeline: str) -> bool:
    """Whether the pipeline's first element is a camera or stream (the default) rather than
    a file or test pattern, which GStreamer plays as fast as it is read unless it syncs."""
    words = pipeline.split("!", 1)[0].split()
    if not words:
        return True
    element, properties = words[0], " ".join(words[1:]).replace(" ", "")
    if element in URI_ELEMENTS:
        return "uri=file:" not in properties and 'uri="file:' not in properties
    return element not in NON_LIVE_ELEMENTS or "is-live=true" in properties.lower()


def launch_args(pipeline: str, width: int, height: int, sync: bool = False) -> list[str]:
    """gst-launch-1.0 arguments: the user's pipeline, ending in raw BGR frames on stdout.

    `sync`: the sink waits for each frame's time, so a file plays at its own rate.
    """
    # an OpenCV-style pipeline ends in appsink; ours ends in fdsink instead
    body = re.sub(r"!\s*appsink\b.*$", "", pipeline.strip()).strip().rstrip("!").strip()
    tail = (
        f"! videoconvert ! videoscale ! video/x-raw,format=BGR,width={width},"
        f"height={height} ! fdsink fd=1 sync={'true' if sync else 'false'}"
    )
    return ["gst-launch-1.0", "-q", *shlex.split(f"{body} {tail}")]


def pipeline_problem(uri: str) -> str | None:
    """Why `uri`, if it is a GStreamer pipeline, cannot become gst-launch-1.0 arguments."""
    if not _is_pipeline(uri.strip()):
        return None
    try:
        launch_args(uri, 640, 480)
    except ValueError as exc:  # shlex: an unbalanced quote or a trailing backslash
        return (
            f"the GStreamer pipeline cannot be split into arguments ({exc}): "
            "close the quote, or escape it with a backslash"
        )
    return None


class SourceConfig(Section):
    kind: Literal["auto", "opencv", "picamera2", "images"] = Field(
        default="auto",
        description="auto picks from `uri`: a number or /dev/video* is a camera, a URL a stream, "
        "an image file, folder or glob is images, a string with '!' a GStreamer pipeline, "
        "any other file a video; opencv gives `uri` to cv2.VideoCapture as written (image "
        "sequences like frame_%04d.png); images and picamera2 force those",
    )
    uri: str = Field(
        default="0",
        min_length=1,
        description="camera index, /dev/videoN, rtsp:// or http:// URL, video file, image "
        "file/folder/glob, or a GStreamer pipeline",
    )
    width: int | None = Field(default=None, ge=16, le=7680, description="requested camera width")
    height: int | None = Field(default=None, ge=16, le=4320, description="requested height")
    fps: float | None = Field(default=None, gt=0, le=240, description="requested camera fps")
    max_pixels: int = Field(
        default=3840 * 2160,
        ge=64 * 64,
        le=120_000_000,
        description="larger frames or images (an 8K stream, a 50 MP photo) are downscaled to "
        "this many pixels at capture, keeping their shape, so memory stays bounded; 4K passes",
    )
    loop: bool = Field(default=False, description="restart a video file at its end")
    realtime: bool = Field(
        default=True,
        description="play files at their own frame rate (stale frames dropped, like a camera); "
        "false: as fast as possible, every frame processed",
    )
    treat_as_camera: bool = Field(
        default=False,
        description="reopen a video file with backoff at its end, as if a camera vanished "
        "(for testing a set-up without a camera)",
    )
    reconnect_initial_s: float = Field(
        default=1.0, gt=0, le=60, description="first wait before reopening a lost camera"
    )
    reconnect_max_s: float = Field(
        default=30.0, gt=0, le=600, description="longest wait between reopen attempts"
    )

    @field_validator("uri")
    @classmethod
    def _pipeline_splits(cls, uri: str, info: ValidationInfo) -> str:
        # picamera2 ignores the uri; opencv hands it to cv2.VideoCapture as written
        problem = (
            None
            if info.data.get("kind") in ("picamera2", "opencv", "images")
            else pipeline_problem(uri)
        )
        if problem:
            raise ValueError(problem)
        if is_camera_index(uri.strip()) and int(uri) > MAX_CAMERA_INDEX:
            raise ValueError(
                f"camera {uri.strip()} cannot exist: cameras are numbered 0 to "
                f"{MAX_CAMERA_INDEX} (ls /dev/video* lists them)"
            )
        return uri

    @model_validator(mode="after")
    def _backoff_order(self) -> SourceConfig:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError(
                f"reconnect_max_s ({self.reconnect_max_s}) is below "
                f"reconnect_initial_s ({self.reconnect_initial_s})"
            )
        return self
