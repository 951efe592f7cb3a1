"""Raspberry Pi camera on HDMI without a desktop: Picamera2's DRM preview and our overlay.

The camera's frames go to the screen through the display hardware (DRM/KMS planes) at
the camera's rate without passing through Python; we only replace a transparent RGBA
overlay, when the drawing changed and at most every OVERLAY_INTERVAL_S.

One `CameraPreview` is shared by two sides that know nothing of each other: the
picamera2 source calls `attach(camera)` after configuring the camera and before
starting it, and `detach()` before stopping it; the drm viewer draws through it and
does nothing while no camera is attached.

Picamera2 places the preview in a window given in screen pixels and letterboxes the
camera picture inside it; it has no "full screen" option, so the window is the screen
mode, read from DRM with the same library and the same connector Picamera2 picks. The
overlay is stretched onto the camera picture's rectangle, so it is drawn at the
camera's size. Picamera2 allocates a new DRM buffer and commits synchronously (up to
one refresh, ~17 ms) for every `set_overlay`; it offers no way to reuse one buffer, so
the rate cap is what bounds that cost.
"""

from __future__ import annotations

import errno
import fcntl
import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from edge.display.common import DisplayUnavailable
from edge.display.overlay import draw_overlay_rgba, paused_card_rgba
from edge.errors import first_line
from edge.types import Frame, Result

log = logging.getLogger(__name__)

OVERLAY_INTERVAL_S = 0.1  # at most ~10 overlays a second: each is a buffer and a commit
DRM_IOCTL_SET_MASTER = 0x641E  # _IO('d', 0x1e): succeeds at once for the current master
DESKTOP_FIX = (
    "stop the desktop (sudo systemctl stop display-manager) or use display.backend: window"
)
VIDEO_GROUP_FIX = "add the user to the video group: sudo usermod -aG video $USER, log in again"


def _kms_library() -> Any:
    """The DRM library Picamera2 itself uses: the pure-Python `kms`, else kms++'s `pykms`."""
    try:
        import kms

        return kms
    except ImportError:
        pass
    try:
        import pykms

        return pykms
    except ImportError:
        raise DisplayUnavailable(
            "drm: the kms library Picamera2 draws with is missing (sudo apt install "
            "python3-kms++, or run ./setup.sh again); or use display.backend: framebuffer"
        ) from None


def is_master(card: Any) -> bool | None:
    """True if this card handle may change the screen, False if another program holds it.

    Both libraries try to become DRM master when they open the card and carry on quietly
    when they cannot; the failure would come later, inside Picamera2's preview thread,
    and stall the camera. None: cannot tell (the commit will say).
    """
    known = getattr(card, "is_master", None)  # the pure-Python library records it
    if isinstance(known, bool):
        return known
    try:
        fcntl.ioctl(card.fd, DRM_IOCTL_SET_MASTER)
    except OSError as exc:
        return False if exc.errno == errno.EBUSY else None
    return True


def probe_screen() -> tuple[int, int]:
    """The size of the screen mode Picamera2's preview will land on; errors say the fix."""
    kms = _kms_library()
    try:
        card = kms.Card()
    except PermissionError:
        raise DisplayUnavailable(
            f"drm: permission denied on /dev/dri ({VIDEO_GROUP_FIX})"
        ) from None
    except Exception as exc:  # no card: RuntimeError, OSError, ValueError by library
        raise DisplayUnavailable(
            f"drm: no display device ({first_line(exc)}); turn on the KMS driver "
            "(dtoverlay=vc4-kms-v3d in config.txt) or use display.backend: framebuffer"
        ) from None
    try:
        if is_master(card) is False:
            raise DisplayUnavailable(
                f"drm: another program (a desktop?) holds the screen: {DESKTOP_FIX}"
            )
        try:  # the connector and CRTC Picamera2's DrmManager reserves: the first connected
            resources = kms.ResourceManager(card)
            connector = resources.reserve_connector()
            crtc = resources.reserve_crtc(connector) if connector is not None else None
        except Exception:
            connector = crtc = None
        if connector is None or crtc is None:
            raise DisplayUnavailable(
                "drm: no screen connected (HDMI unplugged?): connect one and restart, or use "
                "display.backend: none"
            )
        mode = crtc.mode  # the mode the console runs; an idle CRTC has none yet
        if not (mode.hdisplay and mode.vdisplay):
            mode = connector.get_default_mode()
        return int(mode.hdisplay), int(mode.vdisplay)
    finally:
        # Picamera2 opens the card again and must become master: ours has to be closed
        # by then, and the library's objects refer to each other (a cycle gc breaks)
        card = resources = connector = crtc = None
        gc.collect()


class CameraPreview:
    """The camera's full-screen DRM preview, as long as a camera is attached."""

    def __init__(self, probe: Callable[[], tuple[int, int]] = probe_screen) -> None:
        self._probe = probe
        self.screen_wh: tuple[int, int] | None = None  # None until open(): nothing shown
        self.description = "drm preview (picamera2) with overlay"
        self._lock = threading.Lock()  # set_overlay and detach never overlap
        self._camera: Any = None
        self._shown: np.ndarray | None = None

    def open(self) -> None:
        """Check now that the screen can be used (before the camera opens)."""
        self.screen_wh = self._probe()
        self.description = "drm preview (picamera2) {}x{} with overlay".format(*self.screen_wh)

    def attach(self, camera: Any) -> None:
        """The source's camera, configured and not started yet: show it full screen."""
        if self.screen_wh is None:
            return  # the display chose another backend: the camera runs without preview
        from picamera2 import Preview

        self.screen_wh = self._probe()  # again: the screen may have changed since
        width, height = self.screen_wh
        try:
            camera.start_preview(Preview.DRM, x=0, y=0, width=width, height=height)
        except Exception as exc:
            raise DisplayUnavailable(
                f"drm: the camera preview cannot start ({first_line(exc)}): {DESKTOP_FIX}"
            ) from exc
        with self._lock:
            self._camera, self._shown = camera, None

    def detach(self) -> None:
        """The camera is about to stop: once this returns no overlay call reaches it."""
        with self._lock:
            self._camera, self._shown = None, None

    @property
    def attached(self) -> bool:
        return self._camera is not None

    def set_overlay(self, rgba: np.ndarray) -> bool:
        """Put `rgba` over the picture; False when there is no camera or nothing changed."""
        with self._lock:
            if self._camera is None:
                return False
            if self._shown is not None and np.array_equal(self._shown, rgba):
                return False
            self._camera.set_overlay(rgba)
            self._shown = rgba
            return True


class DrmViewer:
    """Draws the newest result on the preview's overlay; the picture itself is not touched."""

    def __init__(
        self,
        preview: CameraPreview,
        interval_s: float = OVERLAY_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.preview = preview
        self.interval_s = interval_s
        self.clock = clock
        self.description = preview.description
        self.overlays_set = 0
        self.overlays_failed = 0
        self._drawn_index: int | None = None
        self._set_at_s = -float("inf")
        self._reported: set[str] = set()
        self._size_wh = (640, 480)  # of the last frame: the paused card's size

    def show(self, frame: Frame, result: Result | None) -> None:
        if result is None or result.frame_index == self._drawn_index or not self.preview.attached:
            return
        now = self.clock()
        if now - self._set_at_s < self.interval_s:
            return  # too soon: a later frame draws whatever result is newest by then
        self._drawn_index = result.frame_index
        self._size_wh = frame.size_wh
        try:
            changed = self.preview.set_overlay(draw_overlay_rgba(frame.size_wh, result))
        except Exception as exc:  # the picture goes on without the drawing
            self.overlays_failed += 1
            self._set_at_s = now
            message = first_line(exc)
            if message not in self._reported:
                self._reported.add(message)
                log.warning("drm: overlay not shown (%s); the camera picture goes on", message)
            return
        if changed:
            self._set_at_s = now
            self.overlays_set += 1

    def show_paused(self) -> None:
        """An opaque card over the camera's own preview, which no pause stops."""
        if not self.preview.attached:
            return
        try:
            self.preview.set_overlay(paused_card_rgba(self._size_wh))
        except Exception as exc:
            log.warning("drm: cannot cover the preview while paused (%s)", first_line(exc))
        self._drawn_index = None  # the first result after the pause is drawn at once

    def close(self) -> None:
        pass  # the preview goes with the camera, which its source closes
