"""Straight to /dev/fbN: the HDMI screen of a Pi or Jetson console with no desktop.

The driver says where the picture goes (FBIOGET_VSCREENINFO / FBIOGET_FSCREENINFO): the
visible xres x yres area starts at (xoffset, yoffset) inside a larger virtual area (a
double-buffered driver has yres_virtual = 2 * yres and pans between the halves), rows
are line_length bytes apart (often more than xres * bytes per pixel) and each colour
sits at the bit offset the driver gives. Frames are scaled to fit (aspect kept, black
borders), packed in that format and copied into the visible area of the mapped device;
the offset is read again for every frame, since the driver may have panned.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import mmap
import os
import re
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.display.common import DisplayUnavailable, fit

log = logging.getLogger(__name__)

FBIOGET_VSCREENINFO = 0x4600  # linux/fb.h
FBIOGET_FSCREENINFO = 0x4602
# struct fb_var_screeninfo is 40 __u32; struct fb_fix_screeninfo mixes char[16],
# unsigned long (4 or 8 bytes), __u32 and __u16, so it is read in the CPU's native
# layout ("@"), and "0L" pads its end to the alignment of unsigned long as C does.
VAR_FORMAT = "=40I"
FIX_FORMAT = "@16sLIIIIHHHILIIH2H0L"
SUPPORTED_BPP = (16, 32)
VIDEO_GROUP_FIX = "add the user to the video group: sudo usermod -aG video $USER, log in again"


@dataclass(frozen=True)
class Bitfield:
    """Where one colour sits in a pixel value: bit offset and number of bits."""

    offset: int
    length: int


# what a sysfs directory cannot say: the usual layouts for each depth
STANDARD_FIELDS = {  # red, green, blue, transparency
    16: (Bitfield(11, 5), Bitfield(5, 6), Bitfield(0, 5), Bitfield(0, 0)),  # RGB565
    32: (Bitfield(16, 8), Bitfield(8, 8), Bitfield(0, 8), Bitfield(0, 0)),  # XRGB8888
}


@dataclass(frozen=True)
class FbLayout:
    visible_wh: tuple[int, int]
    virtual_wh: tuple[int, int]
    offset_xy: tuple[int, int]  # top-left of the visible area inside the virtual one
    bits_per_pixel: int
    line_bytes: int  # from one row to the next
    red: Bitfield
    green: Bitfield
    blue: Bitfield
    transp: Bitfield
    memory_bytes: int  # the device's mapped size

    @property
    def first_byte(self) -> int:
        x, y = self.offset_xy
        return y * self.line_bytes + x * self.bits_per_pixel // 8


def layout_from_structs(var_raw: bytes, fix_raw: bytes) -> FbLayout:
    """The layout from the bytes FBIOGET_VSCREENINFO and FBIOGET_FSCREENINFO fill in."""
    v = struct.unpack_from(VAR_FORMAT, var_raw)
    fix = struct.unpack_from(FIX_FORMAT, fix_raw)
    # var: xres, yres, xres_virtual, yres_virtual, xoffset, yoffset, bits_per_pixel,
    # grayscale, then red, green, blue, transp as (offset, length, msb_right) each
    red, green, blue, transp = (Bitfield(v[8 + 3 * i], v[9 + 3 * i]) for i in range(4))
    # fix: id, smem_start, smem_len, type, type_aux, visual, xpanstep, ypanstep,
    # ywrapstep, line_length, ...
    return FbLayout(
        (v[0], v[1]), (v[2], v[3]), (v[4], v[5]), v[6], fix[9], red, green, blue, transp, fix[2]
    )


def layout_from_sysfs(sysfs_dir: Path) -> FbLayout:
    """The fallback: the same facts from /sys/class/graphics/fbN (no colour bitfields there)."""

    def pair(name: str) -> tuple[int, int]:
        a, b = (sysfs_dir / name).read_text().split(",")
        return int(a), int(b)

    virtual = pair("virtual_size")
    bpp = int((sysfs_dir / "bits_per_pixel").read_text())
    stride_file, pan_file, mode_file = (sysfs_dir / n for n in ("stride", "pan", "mode"))
    line_bytes = int(stride_file.read_text()) if stride_file.exists() else virtual[0] * bpp // 8
    offset = pair("pan") if pan_file.exists() else (0, 0)
    # "U:1920x1080p-60"; empty when the driver keeps no mode list: the whole virtual area
    found = re.search(r"(\d+)x(\d+)", mode_file.read_text()) if mode_file.exists() else None
    visible = (int(found[1]), int(found[2])) if found else virtual
    red, green, blue, transp = STANDARD_FIELDS.get(bpp, STANDARD_FIELDS[32])
    return FbLayout(
        visible, virtual, offset, bpp, line_bytes, red, green, blue, transp, line_bytes * virtual[1]
    )


class LayoutReader:
    """Asks the driver (ioctl); a file that is not a framebuffer (ENOTTY) is read from sysfs."""

    def __init__(self, fd: int, device: Path, sysfs_dir: Path) -> None:
        self.fd, self.device, self.sysfs_dir = fd, device, sysfs_dir
        self.source = "ioctl"

    def read(self) -> FbLayout:
        if self.source == "ioctl":
            try:
                var = fcntl.ioctl(self.fd, FBIOGET_VSCREENINFO, bytes(struct.calcsize(VAR_FORMAT)))
                fix = fcntl.ioctl(self.fd, FBIOGET_FSCREENINFO, bytes(struct.calcsize(FIX_FORMAT)))
                return layout_from_structs(var, fix)
            except OSError as exc:
                if exc.errno != errno.ENOTTY:
                    raise DisplayUnavailable(
                        f"{self.device}: the driver does not give its geometry ({exc.strerror})"
                    ) from None
                log.debug(
                    "%s answers no framebuffer ioctl; reading %s", self.device, self.sysfs_dir
                )
                self.source = "sysfs"
        try:
            return layout_from_sysfs(self.sysfs_dir)
        except (OSError, ValueError) as exc:
            raise DisplayUnavailable(
                f"{self.sysfs_dir}: cannot read the framebuffer geometry ({exc})"
            ) from None


def check_layout(layout: FbLayout, device: Path) -> None:
    """Refuse what cannot be drawn, naming the value and what would work."""
    bpp, (width, height) = layout.bits_per_pixel, layout.visible_wh
    if bpp not in SUPPORTED_BPP:
        raise DisplayUnavailable(
            f"{device}: {bpp} bits per pixel is not supported (16 or 32): switch the console "
            "to 32 (fbset -depth 32) or use display.backend: drm or window"
        )
    end = layout.first_byte + (height - 1) * layout.line_bytes + width * bpp // 8
    if width < 1 or height < 1 or layout.line_bytes < width * bpp // 8 or end > layout.memory_bytes:
        raise DisplayUnavailable(
            f"{device}: inconsistent geometry ({width}x{height} at {layout.offset_xy}, "
            f"{layout.line_bytes} bytes a row, {layout.memory_bytes} bytes of memory); "
            "check the mode with fbset"
        )


def pack_pixels(image_bgr: np.ndarray, layout: FbLayout) -> np.ndarray:
    """(height, width, bytes per pixel) uint8: the image in the screen's pixel format."""
    height, width = image_bgr.shape[:2]
    size = layout.bits_per_pixel // 8
    channels = ((layout.red, 2), (layout.green, 1), (layout.blue, 0))
    little = sys.byteorder == "little"
    if size == 4 and all(f.length == 8 and f.offset % 8 == 0 for f, _ in channels):
        out = np.zeros((height, width, 4), np.uint8)  # byte-aligned: place bytes, no shifts
        for bits, channel in channels:
            byte = bits.offset // 8
            out[..., byte if little else 3 - byte] = image_bgr[..., channel]
        if layout.transp.length == 8 and layout.transp.offset % 8 == 0:
            byte = layout.transp.offset // 8
            out[..., byte if little else 3 - byte] = 255  # opaque
        return out
    value = np.zeros((height, width), np.uint32)
    for bits, channel in channels:
        level = image_bgr[..., channel].astype(np.uint32)  # 8 bits to the field's width
        if bits.length <= 8:
            level >>= np.uint32(8 - bits.length)
        else:
            level <<= np.uint32(bits.length - 8)
        value |= level << np.uint32(bits.offset)
    if layout.transp.length:
        value |= np.uint32(((1 << layout.transp.length) - 1) << layout.transp.offset)
    native = np.uint16 if size == 2 else np.uint32
    return value.astype(native).view(np.uint8).reshape(height, width, size)


class FramebufferDisplay:
    def __init__(self, device: Path, sysfs_dir: Path | None = None) -> None:
        self.device = device
        if not device.exists():
            raise DisplayUnavailable(
                f"{device}: no framebuffer device here (ls /dev/fb* lists them; set "
                "display.framebuffer_device)"
            )
        try:
            self._fd = os.open(device, os.O_RDWR)
        except PermissionError:
            raise DisplayUnavailable(f"{device}: permission denied ({VIDEO_GROUP_FIX})") from None
        except OSError as exc:
            raise DisplayUnavailable(f"{device}: cannot open ({exc.strerror})") from None
        self._map: mmap.mmap | None = None
        try:
            self._reader = LayoutReader(
                self._fd, device, sysfs_dir or Path("/sys/class/graphics") / device.name
            )
            self.layout = self._reader.read()
            self._mapped(self.layout)
        except BaseException:
            self.close()
            raise
        width, height = self.layout.visible_wh
        self.description = f"framebuffer {device} {width}x{height} {self.layout.bits_per_pixel} bpp"
        self.frames_shown = 0

    def _mapped(self, layout: FbLayout) -> mmap.mmap:
        """The device's memory, mapped again only when its size changed (a new mode)."""
        check_layout(layout, self.device)
        if self._map is None or len(self._map) != layout.memory_bytes:
            if self._map is not None:
                self._map.close()
            try:
                self._map = mmap.mmap(self._fd, layout.memory_bytes, mmap.MAP_SHARED)
            except (OSError, ValueError) as exc:
                raise DisplayUnavailable(f"{self.device}: cannot map its memory ({exc})") from None
        return self._map

    def show_image(self, image_bgr: np.ndarray) -> None:
        layout = self._reader.read()  # a double-buffered driver may have panned since
        if layout.visible_wh != self.layout.visible_wh:
            log.info("%s: the screen is now %dx%d", self.device, *layout.visible_wh)
        self.layout = layout
        memory = self._mapped(layout)
        width, height = layout.visible_wh
        pixels = pack_pixels(fit(image_bgr, width, height), layout)
        size = layout.bits_per_pixel // 8
        visible = np.ndarray(
            (height, width, size),
            np.uint8,
            buffer=memory,
            offset=layout.first_byte,
            strides=(layout.line_bytes, size, 1),
        )
        visible[...] = pixels
        del visible  # no view may outlive the mapping (close() would refuse)
        self.frames_shown += 1

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
