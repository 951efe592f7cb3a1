"""What `convert evaluate` found for one image: shared by the run and its report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PathTaken = Literal["face", "whole_image", "no_face", "unreadable"]


@dataclass(frozen=True)
class Sample:
    """What happened to one image."""

    file: str  # relative to the data folder
    truth: int
    path: PathTaken
    predicted: int | None = None
    confidence: float | None = None
    faces: int = 0  # faces the detector found
    reason: str = ""  # why it was skipped
