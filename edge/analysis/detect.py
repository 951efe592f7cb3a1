"""The face detector stage: what the pipeline asks of one, and the one we ship.

BlazeFace (MediaPipe's face model) runs on LiteRT with our own post-processing
(edge/analysis/blazeface.py), so MediaPipe itself is not needed: its aarch64 wheels need an
ARMv8.2 CPU and abort on a Raspberry Pi 4.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from edge.types import Detection


class FaceDetector(Protocol):
    def detect(self, image_bgr: np.ndarray) -> list[Detection]: ...

    def close(self) -> None: ...
