"""Displays: pick a backend from the config, wrap it as a pipeline viewer.

Two steps, because the Pi camera's DRM preview is shown by the camera itself:
`camera_preview()` (nothing opened yet) gives the picamera2 source its preview object
when the config asks for the DRM preview; `open_viewer()` then opens the display.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from edge.display.common import DisplayUnavailable, has_desktop
from edge.display.overlay import draw_overlay, paused_card
from edge.errors import first_line
from edge.types import Frame, Result

if TYPE_CHECKING:  # the window's own process imports this package: no config models there
    from edge.config.view import DisplayConfig
    from edge.display.drm import CameraPreview, DrmViewer
    from edge.pipeline.stats import PipelineStats

log = logging.getLogger(__name__)

NEEDS_PICAMERA2 = (
    "drm: the DRM preview needs the Raspberry Pi camera (source.kind: picamera2); "
    "use display.backend: framebuffer or window otherwise"
)


class Screen(Protocol):
    description: str
    frames_shown: int

    def show_image(self, image_bgr: np.ndarray) -> None: ...

    def close(self) -> None: ...


class DisplayViewer:
    """Draws the newest result on every captured frame and puts it on a screen.

    A screen that fails mid-run (a framebuffer device gone, its geometry unreadable) costs
    the display, not the run: one warning line, the screen is closed, nothing more is shown.
    """

    def __init__(self, screen: Screen, stats: PipelineStats, blur: bool = False) -> None:
        self.screen = screen
        self.blur = blur  # privacy.blur_faces
        self.stats = stats
        self.description = screen.description
        self.failed: str | None = None  # why the screen was given up, once it was
        self._size_wh = (640, 480)  # of the last frame shown: the paused card's size

    def show(self, frame: Frame, result: Result | None) -> None:
        if self.failed is not None:
            return
        self._size_wh = frame.size_wh
        snap = self.stats.snapshot()
        inference = result.timings.inference_ms if result and result.faces else None
        rates = (snap.processed_fps, inference or snap.inference_ms_mean or None)
        self._put(lambda: draw_overlay(frame.image_bgr, result, *rates, blur=self.blur))

    def _put(self, picture: Callable[[], np.ndarray]) -> None:
        """Draw and show; a failure is said once and ends the display, not the run."""
        try:
            self.screen.show_image(picture())
        except Exception as exc:
            self.failed = first_line(exc)
            log.warning(
                "%s: the display failed (%s); going on without a display",
                self.description,
                self.failed,
            )
            with contextlib.suppress(Exception):
                self.screen.close()

    def show_paused(self) -> None:
        """The pause switch is on: the paused card instead of the last frame."""
        if self.failed is None:
            self._put(lambda: paused_card(self._size_wh))

    def close(self) -> None:
        self.screen.close()


def camera_preview(
    cfg: DisplayConfig, source_kind: str, blur: bool = False
) -> CameraPreview | None:
    """The preview object for the picamera2 source, if the DRM preview may be used.

    `drm` asks for it; `auto` tries it with the Pi camera on a console (no desktop), unless
    faces must be blurred (the preview shows the camera's own frames). Nothing is opened
    here: `open_viewer` checks the screen.
    """
    wanted = cfg.backend == "drm" or (
        cfg.backend == "auto" and source_kind == "picamera2" and not has_desktop() and not blur
    )
    if not wanted:
        return None
    if source_kind != "picamera2":
        raise DisplayUnavailable(NEEDS_PICAMERA2)
    from edge.display.drm import CameraPreview

    return CameraPreview()


def open_viewer(
    cfg: DisplayConfig,
    stats: PipelineStats,
    on_quit: Callable[[], None],
    preview: CameraPreview | None = None,
    blur: bool = False,
) -> DisplayViewer | DrmViewer | None:
    """The configured display as a viewer; with `auto`, the first that works, or None."""
    reasons: list[str] = []
    if cfg.backend == "drm" and preview is None:
        raise DisplayUnavailable(NEEDS_PICAMERA2)
    if preview is not None:
        from edge.display.drm import DrmViewer

        try:
            preview.open()
            return DrmViewer(preview)
        except DisplayUnavailable as exc:
            if cfg.backend == "drm":
                raise
            reasons.append(str(exc))  # auto: the camera runs without preview; try the rest
    screen = open_screen(cfg, on_quit, reasons)
    return DisplayViewer(screen, stats, blur) if screen is not None else None


def open_screen(
    cfg: DisplayConfig, on_quit: Callable[[], None], reasons: list[str] | None = None
) -> Screen | None:
    """The configured backend; with `auto`, the first that works, or None (headless)."""
    from edge.display.framebuffer import FramebufferDisplay
    from edge.display.window import WindowDisplay

    def window() -> Screen:
        return WindowDisplay(cfg.fullscreen, on_quit)

    def framebuffer() -> Screen:
        return FramebufferDisplay(Path(cfg.framebuffer_device))

    if cfg.backend in ("none", "drm"):  # drm: only through open_viewer, with a preview
        return None
    if cfg.backend == "window":
        return window()
    if cfg.backend == "framebuffer":
        return framebuffer()
    reasons = list(reasons or [])
    for attempt in (window, framebuffer):
        try:
            return attempt()
        except DisplayUnavailable as exc:
            reasons.append(str(exc))
    log.info("no display, running headless (%s)", "; ".join(reasons))
    return None
