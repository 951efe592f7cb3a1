"""Straight to /dev/fbN: the HDMI screen of a Pi or Jetson console with no desktop.

Geometry and pixel format come from /sys/class/graphics/fbN; frames are scaled to fit
(aspect kept, black borders) and written as RGB565 or XRGB8888 in one pwrite.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.display.common import DisplayUnavailable, fit


@dataclass(frozen=True)
class FbGeometry:
    width_px: int
    height_px: int
    bits_per_pixel: int
    stride_bytes: int


def read_geometry(sysfs_dir: Path) -> FbGeometry:
    try:
        width, height = (int(v) for v in (sysfs_dir / "virtual_size").read_text().split(","))
        bpp = int((sysfs_dir / "bits_per_pixel").read_text())
        stride_file = sysfs_dir / "stride"
        stride = int(stride_file.read_text()) if stride_file.exists() else width * bpp // 8
    except (OSError, ValueError) as exc:
        raise DisplayUnavailable(
            f"{sysfs_dir}: cannot read the framebuffer geometry ({exc})"
        ) from None
    if bpp not in (16, 32):
        raise DisplayUnavailable(f"{sysfs_dir}: {bpp} bits per pixel is not supported (16 or 32)")
    return FbGeometry(width, height, bpp, stride)


def to_pixels(image_bgr: np.ndarray, geometry: FbGeometry) -> bytes:
    """The bytes of one screen: RGB565 or XRGB8888 (little-endian), rows padded to the stride."""
    if geometry.bits_per_pixel == 32:
        pixels = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2BGRA)  # B, G, R, X in memory
    else:
        b, g, r = (image_bgr[..., i].astype(np.uint16) for i in range(3))
        pixels = ((r >> 3) << 11 | (g >> 2) << 5 | (b >> 3)).astype("<u2")
    rows = pixels.reshape(geometry.height_px, -1).view(np.uint8)
    pad = geometry.stride_bytes - rows.shape[1]
    if pad > 0:
        rows = np.pad(rows, ((0, 0), (0, pad)))
    return rows.tobytes()


class FramebufferDisplay:
    def __init__(self, device: Path, sysfs_dir: Path | None = None) -> None:
        self.device = device
        if not device.exists():
            raise DisplayUnavailable(f"{device}: no framebuffer device here")
        sysfs = sysfs_dir or Path("/sys/class/graphics") / device.name
        self.geometry = read_geometry(sysfs)
        try:
            self._fd = os.open(device, os.O_WRONLY)
        except PermissionError:
            raise DisplayUnavailable(
                f"{device}: permission denied (add the user to the video "
                "group: sudo usermod -aG video $USER)"
            ) from None
        except OSError as exc:
            raise DisplayUnavailable(f"{device}: cannot open ({exc.strerror})") from None
        self.description = (
            f"framebuffer {device} {self.geometry.width_px}x"
            f"{self.geometry.height_px} {self.geometry.bits_per_pixel} bpp"
        )
        self.frames_shown = 0

    def show_image(self, image_bgr: np.ndarray) -> None:
        screen = fit(image_bgr, self.geometry.width_px, self.geometry.height_px)
        os.pwrite(self._fd, to_pixels(screen, self.geometry), 0)
        self.frames_shown += 1

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
