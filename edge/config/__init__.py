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

from pydantic import Field, PrivateAttr, ValidationError, model_validator

from edge.config.analysis import (
    ClassifierConfig,
    DetectorConfig,
    FacesConfig,
    ReuseConfig,
    SmoothingConfig,
)
from edge.config.base import Section
from edge.config.load import format_validation_error, read_yaml
from edge.config.mqtt import MqttConfig
from edge.config.paths import APP_ROOT, DEFAULT_CONFIG, DEMO_SAMPLE, resolve_app_path
from edge.config.privacy import PrivacyConfig
from edge.config.source import SourceConfig
from edge.config.view import DisplayConfig, WebConfig
from edge.errors import ConfigError

__all__ = [
    "APP_ROOT",
    "DEFAULT_CONFIG",
    "DEMO_SAMPLE",
    "ClassifierConfig",
    "Config",
    "DetectorConfig",
    "LoggingConfig",
    "SourceConfig",
    "load_config",
    "resolve_app_path",
]


class OutputConfig(Section):
    jsonl: str | None = Field(
        default="auto",
        min_length=1,
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
    privacy: PrivacyConfig = Field(
        default_factory=PrivacyConfig, description="what pictures may show"
    )
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="logging")
    _file: Path | None = PrivateAttr(default=None)

    @property
    def file(self) -> Path | None:
        """The config file this was read from (absolute), None for defaults alone."""
        return self._file

    @model_validator(mode="after")
    def _blur_needs_our_pixels(self) -> Config:
        if self.privacy.blur_faces and self.display.backend == "drm":
            raise ValueError(
                "privacy.blur_faces: the drm display shows the Pi camera's own frames, which "
                "cannot be blurred: use display.backend: framebuffer, window or none"
            )
        return self


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
    config = build_config(data, str(path) if path is not None else "command line", flags)
    config._file = path.resolve() if path is not None else None
    return config
