"""The framebuffer display, faked at the OS boundary: the device is a regular file (its
ioctls then fail with ENOTTY) and the driver's facts come from a sysfs-like folder.

Every oracle here is worked out independently of the code under test: positions from
the geometry by hand, pixel values by reading the fields back out of the bytes.
"""

from __future__ import annotations

import ctypes
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from edge.display.common import DisplayUnavailable
from edge.display.framebuffer import (
    FIX_FORMAT,
    VAR_FORMAT,
    Bitfield,
    FbLayout,
    FramebufferDisplay,
    layout_from_structs,
    pack_pixels,
)

MARK = 0xAB  # what the device holds before: it must stay wherever the picture is not


@dataclass(frozen=True)
class Geometry:
    visible_wh: tuple[int, int]
    virtual_wh: tuple[int, int]
    pan_xy: tuple[int, int]
    bpp: int
    stride: int

    @property
    def size(self) -> int:
        return self.stride * self.virtual_wh[1]


def fake_framebuffer(tmp_path: Path, geo: Geometry, mode: str | None = None) -> tuple[Path, Path]:
    sysfs = tmp_path / "sys" / "fb7"
    sysfs.mkdir(parents=True)
    (sysfs / "virtual_size").write_text("{},{}\n".format(*geo.virtual_wh))
    (sysfs / "bits_per_pixel").write_text(f"{geo.bpp}\n")
    (sysfs / "stride").write_text(f"{geo.stride}\n")
    (sysfs / "pan").write_text("{},{}\n".format(*geo.pan_xy))
    width, height = geo.visible_wh
    (sysfs / "mode").write_text(f"U:{width}x{height}p-60\n" if mode is None else mode)
    device = tmp_path / "fb7"
    device.write_bytes(bytes([MARK]) * geo.size)
    return device, sysfs


def read_back(raw: bytes, geo: Geometry, at_xy: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(the visible picture as (r, g, b) field values, a mask of the bytes it covers)."""
    width, height = geo.visible_wh
    size = geo.bpp // 8
    covered = np.zeros(len(raw), bool)
    rows = []
    for y in range(height):
        start = (at_xy[1] + y) * geo.stride + at_xy[0] * size
        covered[start : start + width * size] = True
        rows.append(np.frombuffer(raw, "<u4" if size == 4 else "<u2", width, start))
    value = np.array(rows).astype(np.int64)
    if geo.bpp == 32:  # XRGB8888
        fields = (value >> 16) & 255, (value >> 8) & 255, value & 255
    else:  # RGB565
        fields = (value >> 11) & 31, (value >> 5) & 63, value & 31
    return np.dstack(fields), covered


def expected_fields(image_bgr: np.ndarray, bpp: int) -> np.ndarray:
    r, g, b = (image_bgr[..., i].astype(np.int64) for i in (2, 1, 0))
    if bpp == 32:
        return np.dstack([r, g, b])
    return np.dstack([r >> 3, g >> 2, b >> 3])


def noise(width: int, height: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)


GEOMETRIES = {  # visible, virtual, pan, bpp, stride (bytes a row)
    "plain 32 bpp": Geometry((64, 48), (64, 48), (0, 0), 32, 256),
    "padded stride": Geometry((60, 40), (60, 40), (0, 0), 32, 256),  # 240 bytes used of 256
    "double buffered, second half": Geometry((64, 48), (64, 96), (0, 48), 32, 320),
    "double buffered 16 bpp": Geometry((50, 30), (50, 60), (0, 30), 16, 128),
    "panned sideways": Geometry((40, 30), (64, 30), (8, 0), 32, 256),
    "16 bpp first half": Geometry((50, 30), (50, 60), (0, 0), 16, 100),
}


@pytest.mark.parametrize("geo", GEOMETRIES.values(), ids=GEOMETRIES.keys())
def test_the_picture_lands_in_the_visible_area_only(tmp_path, geo):
    device, sysfs = fake_framebuffer(tmp_path, geo)
    screen = FramebufferDisplay(device, sysfs)
    frame = noise(*geo.visible_wh)  # the screen's own size: shown pixel for pixel
    screen.show_image(frame)
    screen.close()
    raw = device.read_bytes()
    shown, covered = read_back(raw, geo, geo.pan_xy)
    assert np.array_equal(shown, expected_fields(frame, geo.bpp))
    outside = np.frombuffer(raw, np.uint8)[~covered]
    assert (outside == MARK).all(), "bytes outside the visible area were written"
    assert len(raw) == geo.size and screen.frames_shown == 1


def test_each_frame_goes_where_the_driver_panned_to(tmp_path):
    geo = Geometry((32, 24), (32, 48), (0, 0), 32, 160)
    device, sysfs = fake_framebuffer(tmp_path, geo)
    screen = FramebufferDisplay(device, sysfs)
    first, second = noise(32, 24, seed=1), noise(32, 24, seed=2)
    screen.show_image(first)
    (sysfs / "pan").write_text("0,24\n")  # the driver flipped to the other half
    screen.show_image(second)
    screen.close()
    raw = device.read_bytes()
    assert np.array_equal(read_back(raw, geo, (0, 0))[0], expected_fields(first, 32))
    assert np.array_equal(read_back(raw, geo, (0, 24))[0], expected_fields(second, 32))


@pytest.mark.parametrize(
    ("visible_wh", "frame_wh", "picture_xywh"),
    [  # where a frame of another shape goes, by hand: scaled to fit, centred on black
        ((80, 48), (64, 48), (8, 0, 64, 48)),  # 4:3 on 5:3: bars left and right
        ((64, 64), (64, 48), (0, 8, 64, 48)),  # 4:3 on a square: bars above and below
        ((96, 54), (64, 48), (12, 0, 72, 54)),  # 4:3 on 16:9, grown by 9/8
    ],
)
def test_other_shapes_are_letterboxed_on_black(tmp_path, visible_wh, frame_wh, picture_xywh):
    geo = Geometry(visible_wh, (visible_wh[0], 2 * visible_wh[1]), (0, visible_wh[1]), 32, 512)
    device, sysfs = fake_framebuffer(tmp_path, geo)
    screen = FramebufferDisplay(device, sysfs)
    colour = (40, 150, 220)  # B, G, R: one colour, which any scaling keeps exactly
    screen.show_image(np.full((frame_wh[1], frame_wh[0], 3), colour, np.uint8))
    screen.close()
    shown = read_back(device.read_bytes(), geo, geo.pan_xy)[0]
    x, y, w, h = picture_xywh
    inside = np.zeros(shown.shape[:2], bool)
    inside[y : y + h, x : x + w] = True
    assert (shown[inside] == (220, 150, 40)).all()
    assert not shown[~inside].any()


@pytest.mark.parametrize(
    ("name", "bpp", "red", "green", "blue", "transp"),
    [  # the colour layouts drivers report; each field is read back from the packed value
        ("XRGB8888", 32, (16, 8), (8, 8), (0, 8), (0, 0)),
        ("ARGB8888", 32, (16, 8), (8, 8), (0, 8), (24, 8)),
        ("XBGR8888", 32, (0, 8), (8, 8), (16, 8), (0, 0)),
        ("RGB565", 16, (11, 5), (5, 6), (0, 5), (0, 0)),
        ("BGR565", 16, (0, 5), (5, 6), (11, 5), (0, 0)),
        ("XRGB1555", 16, (10, 5), (5, 5), (0, 5), (0, 0)),
        ("ARGB1555", 16, (10, 5), (5, 5), (0, 5), (15, 1)),
        ("XRGB2101010", 32, (20, 10), (10, 10), (0, 10), (0, 0)),
    ],
)
def test_pixels_follow_the_drivers_bitfields(name, bpp, red, green, blue, transp):
    fields = [Bitfield(*f) for f in (red, green, blue, transp)]
    layout = FbLayout((16, 8), (16, 8), (0, 0), bpp, 16 * bpp // 8, *fields, 16 * 8 * bpp // 8)
    image = noise(16, 8)
    packed = pack_pixels(image, layout)
    assert packed.shape == (8, 16, bpp // 8) and packed.dtype == np.uint8
    value = packed.copy().view("<u4" if bpp == 32 else "<u2")[..., 0].astype(np.int64)
    for (offset, length), channel in zip((red, green, blue), (2, 1, 0), strict=True):
        got = (value >> offset) & ((1 << length) - 1)
        level = image[..., channel].astype(np.int64)
        want = level >> (8 - length) if length <= 8 else level << (length - 8)
        assert np.array_equal(got, want), name
    if transp[1]:
        assert ((value >> transp[0]) & ((1 << transp[1]) - 1) == (1 << transp[1]) - 1).all()


class FbBitfield(ctypes.Structure):  # linux/fb.h, written out again as the oracle
    _fields_ = [(n, ctypes.c_uint32) for n in ("offset", "length", "msb_right")]


VAR_FIELDS_BEFORE = ("xres", "yres", "xres_virtual", "yres_virtual", "xoffset", "yoffset")
VAR_FIELDS_AFTER = (
    *("nonstd", "activate", "height", "width", "accel_flags", "pixclock", "left_margin"),
    *("right_margin", "upper_margin", "lower_margin", "hsync_len", "vsync_len", "sync"),
    *("vmode", "rotate", "colorspace"),
)


class FbVarScreeninfo(ctypes.Structure):
    _fields_ = [
        *[(n, ctypes.c_uint32) for n in (*VAR_FIELDS_BEFORE, "bits_per_pixel", "grayscale")],
        *[(n, FbBitfield) for n in ("red", "green", "blue", "transp")],
        *[(n, ctypes.c_uint32) for n in VAR_FIELDS_AFTER],
        ("reserved", ctypes.c_uint32 * 4),
    ]


class FbFixScreeninfo(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_char * 16),
        ("smem_start", ctypes.c_ulong),
        ("smem_len", ctypes.c_uint32),
        ("type", ctypes.c_uint32),
        ("type_aux", ctypes.c_uint32),
        ("visual", ctypes.c_uint32),
        ("xpanstep", ctypes.c_uint16),
        ("ypanstep", ctypes.c_uint16),
        ("ywrapstep", ctypes.c_uint16),
        ("line_length", ctypes.c_uint32),
        ("mmio_start", ctypes.c_ulong),
        ("mmio_len", ctypes.c_uint32),
        ("accel", ctypes.c_uint32),
        ("capabilities", ctypes.c_uint16),
        ("reserved", ctypes.c_uint16 * 2),
    ]


def test_the_ioctl_structs_are_read_at_the_kernels_offsets():
    var = FbVarScreeninfo(
        xres=1920, yres=1080, xres_virtual=1920, yres_virtual=2160, xoffset=0, yoffset=1080
    )
    var.bits_per_pixel, var.grayscale, var.nonstd, var.rotate = 32, 7, 9, 3
    var.red, var.green, var.blue = FbBitfield(0, 8, 0), FbBitfield(8, 8, 0), FbBitfield(16, 8, 0)
    var.transp = FbBitfield(24, 8, 0)
    fix = FbFixScreeninfo(id=b"vc4drmfb", smem_start=0xDEAD0000, smem_len=16_711_680)
    fix.ywrapstep, fix.line_length, fix.mmio_start, fix.capabilities = 5, 7_736, 0xBEEF, 1
    # the reader hands the kernel buffers as large as the kernel's structs
    assert struct.calcsize(VAR_FORMAT) == ctypes.sizeof(FbVarScreeninfo) == 160
    assert struct.calcsize(FIX_FORMAT) == ctypes.sizeof(FbFixScreeninfo)
    layout = layout_from_structs(bytes(var), bytes(fix))
    assert layout == FbLayout(
        visible_wh=(1920, 1080),
        virtual_wh=(1920, 2160),
        offset_xy=(0, 1080),
        bits_per_pixel=32,
        line_bytes=7_736,
        red=Bitfield(0, 8),
        green=Bitfield(8, 8),
        blue=Bitfield(16, 8),
        transp=Bitfield(24, 8),
        memory_bytes=16_711_680,
    )


def test_an_empty_mode_means_the_whole_virtual_area(tmp_path):
    geo = Geometry((48, 32), (48, 32), (0, 0), 16, 96)
    device, sysfs = fake_framebuffer(tmp_path, geo, mode="")  # drivers with no mode list
    screen = FramebufferDisplay(device, sysfs)
    assert screen.layout.visible_wh == (48, 32)
    assert screen.description == f"framebuffer {device} 48x32 16 bpp"
    screen.close()


def deny_opening(monkeypatch, path: Path) -> None:
    """The OS refusing the device, as it does without the video group (root never is)."""
    real_open = os.open

    def refusing(name, flags, *args, **kwargs):
        if Path(name) == path:
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", r"fb9: no framebuffer device here \(ls /dev/fb\* lists them"),
        ("denied", r"fb7: permission denied \(add the user to the video group: sudo usermod"),
        ("24 bpp", r"fb7: 24 bits per pixel is not supported \(16 or 32\): switch the console"),
        ("too small", r"fb7: inconsistent geometry \(64x48 at \(0, 48\), 256 bytes a row"),
    ],
)
def test_problems_are_one_line_with_the_fix(tmp_path, monkeypatch, case, message):
    geo = Geometry((64, 48), (64, 96), (0, 48), 24 if case == "24 bpp" else 32, 256)
    device, sysfs = fake_framebuffer(tmp_path, geo)
    if case == "missing":
        device = tmp_path / "fb9"
    if case == "denied":
        deny_opening(monkeypatch, device)
    if case == "too small":  # the driver says there are two screens' worth, the memory has one
        (sysfs / "virtual_size").write_text("64,48\n")
    with pytest.raises(DisplayUnavailable, match=message) as failure:
        FramebufferDisplay(device, sysfs)
    assert "\n" not in str(failure.value)
