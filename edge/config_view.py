"""The `display:` and `web:` sections of config.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class DisplayConfig(_Section):
    backend: Literal["auto", "none", "window", "framebuffer", "drm"] = Field(
        default="auto",
        description="auto: a desktop window if there is a desktop, else the framebuffer if it "
        "can be opened, else headless; drm: the Pi camera's own DRM preview with our overlay "
        "(picamera2 source only); an explicitly chosen backend that cannot open is an error",
    )
    fullscreen: bool = Field(default=True, description="window backend: full screen")
    framebuffer_device: str = Field(
        default="/dev/fb0", min_length=1, description="framebuffer backend: the device"
    )


class WebConfig(_Section):
    enabled: bool = Field(default=False, description="serve the live view over HTTP")
    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="address to listen on; 0.0.0.0 to reach it from the network",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="port to listen on")
    token: str | None = Field(
        default=None,
        min_length=8,
        description="if set, required as ?token=... or 'Authorization: Bearer ...'",
    )
    max_fps: float = Field(default=15.0, gt=0, le=60, description="stream frame-rate cap")
    stall_after_s: float = Field(
        default=5.0, gt=0, le=3600, description="/healthz says 503 after this long without a frame"
    )
