"""config.yaml, validated: unknown keys refused, every error names its key path.

The models here are the documentation of the YAML: each field's description is
what `config.yaml` explains to the user. Loading has no side effects beyond
reading the file, and the MQTT password and TLS files it names when they are in use
(checked here as `run` would use them, so `check-config` refuses what `run` cannot use).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from edge.config.analysis import (
    FacesConfig,
    ReuseConfig,
    SmoothingConfig,
)
from edge.config.load import Section, format_validation_error, read_yaml
from edge.config.mqtt import MqttConfig
from edge.config.view import DisplayConfig, WebConfig
from edge.errors import ConfigError

APP_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = APP_ROOT / "config.yaml"
DEMO_SAMPLE = Path(__file__).resolve().parents[1] / "app" / "assets" / "demo.mp4"


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
        from edge.config.source import pipeline_problem  # here: edge.sources loads OpenCV

        # picamera2 ignores the uri; opencv hands it to cv2.VideoCapture as written
        problem = (
            None if info.data.get("kind") in ("picamera2", "opencv") else pipeline_problem(uri)
        )
        if problem:
            raise ValueError(problem)
        return uri

    @model_validator(mode="after")
    def _backoff_order(self) -> SourceConfig:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError(
                f"reconnect_max_s ({self.reconnect_max_s}) is below "
                f"reconnect_initial_s ({self.reconnect_initial_s})"
            )
        return self


class DetectorConfig(Section):
    model: Literal["short_range", "full_range"] = Field(
        default="short_range",
        description="BlazeFace short range (faces within ~2 m, 128x128, fastest) or full range "
        "(faces up to ~5 m, 192x192, sparse model)",
    )
    model_path: str | None = Field(
        default=None, description="use this BlazeFace .tflite instead of the bundled one"
    )
    min_score: float = Field(default=0.5, ge=0.0, le=1.0, description="minimum face score")
    max_width_px: int | None = Field(
        default=None,
        ge=128,
        le=7680,
        description="detect on a copy scaled down to this width (BlazeFace itself sees 128 "
        "or 192 pixels); null = letterbox the full frame straight into the model's input",
    )
    min_suppression: float = Field(
        default=0.3, ge=0.0, le=1.0, description="overlap above which boxes are merged"
    )


class ClassifierConfig(Section):
    model: str = Field(
        default="models/emotion_ferplus_vgg_compact_int8.tflite",
        min_length=1,
        description="int8 TFLite emotion model; its .json sidecar must sit beside it. Relative "
        "paths are tried from the working directory, then from the install folder",
    )
    threads: int | None = Field(
        default=None, ge=1, le=64, description="interpreter threads (default: number of cores)"
    )
    mirror_average: bool = Field(
        default=True,
        description="classify each face and its mirror image and average the two: labels "
        "hold better on turned and moving faces, for twice the classifier's time (set "
        "false for a slow model on a small CPU, e.g. a VGG19 at 150x150 on a Pi 4)",
    )
    _model_path: Path = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        # resolved once, against the working directory the config was loaded from
        self._model_path = resolve_app_path(self.model)

    @property
    def model_path(self) -> Path:
        """`model` as a path: as given if it exists there, else below the install folder."""
        return self._model_path


class OutputConfig(Section):
    jsonl: str | None = Field(
        default="auto",
        description="JSON Lines of results: '-' for stdout, a file path, 'auto' (stdout when no "
        "other sink is on), or null for none",
    )


class StatsConfig(Section):
    interval_s: float = Field(
        default=30.0,
        ge=0.0,
        le=86400,
        description="log fps, inference ms and dropped frames this often (0 = never)",
    )


class ServiceConfig(Section):
    stall_after_s: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="under systemd: stop feeding the watchdog "
        "when no frame was captured and processed for this long (a camera that is "
        "reconnecting counts as progress)",
    )


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="log level (logs go to stderr, results to stdout)"
    )


class Config(Section):
    source: SourceConfig = Field(default_factory=SourceConfig, description="camera or file")
    detector: DetectorConfig = Field(default_factory=DetectorConfig, description="BlazeFace")
    faces: FacesConfig = Field(default_factory=FacesConfig, description="face policy and crop")
    classifier: ClassifierConfig = Field(
        default_factory=ClassifierConfig, description="emotion model"
    )
    reuse: ReuseConfig = Field(
        default_factory=ReuseConfig, description="classify only when a face changed"
    )
    smoothing: SmoothingConfig = Field(
        default_factory=SmoothingConfig, description="the reported emotion: smoothing and hold"
    )
    output: OutputConfig = Field(default_factory=OutputConfig, description="result outputs")
    stats: StatsConfig = Field(default_factory=StatsConfig, description="periodic stats line")
    service: ServiceConfig = Field(default_factory=ServiceConfig, description="systemd")
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="MQTT publishing")
    display: DisplayConfig = Field(default_factory=DisplayConfig, description="HDMI/desktop")
    web: WebConfig = Field(default_factory=WebConfig, description="live web view")
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="logging")


def resolve_app_path(value: str) -> Path:
    """A path from the config: as given if it exists there, else below the install folder."""
    path = Path(value).expanduser()
    if path.is_absolute() or path.exists():
        return path
    installed = APP_ROOT / path
    return installed if installed.exists() else path


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.c` in nested dicts, creating sections as needed (for CLI overrides)."""
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[last] = value


def build_config(
    data: dict[str, Any], origin: str, flags: Mapping[str, str] | None = None
) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, origin, Config, flags)) from None


def load_config(
    path: Path | None,
    overrides: dict[str, Any] | None = None,
    flags: Mapping[str, str] | None = None,
) -> Config:
    """Read `path` (or nothing: all defaults), apply dotted-key overrides, validate.

    `flags` names the command-line flag behind an override key, for its error message.
    """
    data = read_yaml(path) if path is not None else {}
    for dotted, value in (overrides or {}).items():
        set_path(data, dotted, value)
    return build_config(data, str(path) if path is not None else "command line", flags)
