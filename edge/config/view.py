"""The `display:` and `web:` sections of config.yaml."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator

from edge.config.base import Section

_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def is_host(value: str) -> bool:
    """An IP address (v4 or v6) or a host name: something a server can be asked to bind."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    name = value.removesuffix(".")
    return 0 < len(name) <= 253 and all(_HOST_LABEL.fullmatch(p) for p in name.split("."))


class DisplayConfig(Section):
    backend: Literal["auto", "none", "window", "framebuffer", "drm"] = Field(
        default="auto",
        description="auto: the Pi camera's DRM preview when the source is picamera2, there is "
        "no desktop and the screen is free, else a desktop window if there is a desktop, else "
        "the framebuffer if it can be opened, else headless; drm: the Pi camera's own DRM "
        "preview, full screen, with our overlay (picamera2 source only); an explicitly "
        "chosen backend that cannot open is an error",
    )
    fullscreen: bool = Field(default=True, description="window backend: full screen")
    framebuffer_device: str = Field(
        default="/dev/fb0", min_length=1, description="framebuffer backend: the device"
    )


class WebConfig(Section):
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

    @field_validator("host")
    @classmethod
    def _bindable(cls, value: str) -> str:
        if not is_host(value):
            raise ValueError(
                "must be an IP address or a host name (e.g. 127.0.0.1, 0.0.0.0, ::, mypi.local)"
            )
        return value
