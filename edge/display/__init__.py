"""Displays: pick a backend from the config, wrap it as a pipeline viewer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from edge.config_view import DisplayConfig
from edge.display.common import DisplayUnavailable
from edge.overlay import draw_overlay
from edge.stats import PipelineStats
from edge.types import Frame, Result

log = logging.getLogger(__name__)


class Screen(Protocol):
    description: str
    frames_shown: int

    def show_image(self, image_bgr: np.ndarray) -> None: ...

    def close(self) -> None: ...


class DisplayViewer:
    """Draws the newest result on every captured frame and puts it on a screen."""

    def __init__(self, screen: Screen, stats: PipelineStats) -> None:
        self.screen = screen
        self.stats = stats
        self.description = screen.description

    def show(self, frame: Frame, result: Result | None) -> None:
        snap = self.stats.snapshot()
        inference = result.timings.inference_ms if result and result.faces else None
        self.screen.show_image(
            draw_overlay(
                frame.image_bgr,
                result,
                snap.processed_fps,
                inference or snap.inference_ms_mean or None,
            )
        )

    def close(self) -> None:
        self.screen.close()


def open_screen(cfg: DisplayConfig, on_quit: Callable[[], None]) -> Screen | None:
    """The configured backend; with `auto`, the first that works, or None (headless)."""
    from edge.display.framebuffer import FramebufferDisplay
    from edge.display.window import WindowDisplay

    def window() -> Screen:
        return WindowDisplay(cfg.fullscreen, on_quit)

    def framebuffer() -> Screen:
        return FramebufferDisplay(Path(cfg.framebuffer_device))

    if cfg.backend == "none":
        return None
    if cfg.backend == "window":
        return window()
    if cfg.backend == "framebuffer":
        return framebuffer()
    reasons = []
    for attempt in (window, framebuffer):
        try:
            return attempt()
        except DisplayUnavailable as exc:
            reasons.append(str(exc))
    log.info("no display, running headless (%s)", "; ".join(reasons))
    return None
