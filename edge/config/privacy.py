"""privacy: what pictures may show. The JSON results never hold a picture either way."""

from __future__ import annotations

from pydantic import Field

from edge.config.base import Section


class PrivacyConfig(Section):
    blur_faces: bool = Field(
        default=False,
        description="every face the detector finds is pixelated in every picture the device "
        "makes: the screen, the web stream, /latest.jpg, snapshots and MQTT images (not the "
        "Pi camera's DRM preview, which shows the camera's own frames: refused with it)",
    )
