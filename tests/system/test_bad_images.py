"""Bad files among images: each is skipped with one line naming it and why; the rest is kept.

Every row: a folder with two real photos and one bad item between them. The run must finish
within its deadline, process both photos (their results name their files), skip the bad item
with exactly one warning, count it in the summary, and print no traceback.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import EMOTION_EDGE, ROOT

MEMORY_LIMIT_BYTES = 3 * 1024**3  # address space: the huge image must not be decoded


def huge_png(path: Path) -> None:
    """A valid 2-colour PNG that claims 27000 x 27000 pixels (a ~90 kB file)."""
    width = height = 27000
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte + 1-bit pixels
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def sparse_file(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        handle.truncate(size)


def truncated_jpeg(path: Path, photo: np.ndarray) -> None:
    data = cv2.imencode(".jpg", photo)[1].tobytes()
    path.write_bytes(data[: len(data) // 2])


BAD_ITEMS: dict[str, tuple[str, Callable[[Path, np.ndarray], None], str]] = {
    "huge-png": (
        "b.png",
        lambda p, _: huge_png(p),
        "over 120 megapixels",
    ),
    "fifo": ("b.jpg", lambda p, _: os.mkfifo(p), "not a regular file"),
    "folder": ("b.jpg", lambda p, _: p.mkdir(), "not a regular file"),
    "zero-bytes": ("b.jpg", lambda p, _: p.write_bytes(b""), "empty file"),
    "truncated-jpeg": ("b.jpg", truncated_jpeg, "truncated JPEG (no end marker)"),
    "random-bytes": (
        "b.png",
        lambda p, _: p.write_bytes(np.random.default_rng(0).bytes(50_000)),
        "not a decodable image",
    ),
    # a sparse 1.5 GB file: no disk used, and never read (issue 25, case 7: it once cost
    # 1.66 GB of memory and a MemoryError under a 1.5 GB limit)
    "junk-1.5GB": ("b.jpg", lambda p, _: sparse_file(p, 1_500_000_000), "1500 MB, larger than"),
    "newline-in-name": ("b\nINFO forged line.jpg", lambda p, _: p.write_bytes(b""), "empty file"),
}


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def run_on(folder: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    out = tmp_path / "results.jsonl"
    proc = subprocess.run(
        [*EMOTION_EDGE, "run", "--source", str(folder), "--output", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        preexec_fn=limit_memory,
    )
    results = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
    return proc, results


@pytest.mark.parametrize("case", list(BAD_ITEMS))
def test_a_bad_item_is_skipped_and_the_good_images_are_kept(case, tmp_path, astronaut_bgr):
    name, make, reason = BAD_ITEMS[case]
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), astronaut_bgr)
    make(folder / name, astronaut_bgr)
    cv2.imwrite(str(folder / "c.png"), astronaut_bgr)

    proc, results = run_on(folder, tmp_path)

    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert [Path(r["file"]).name for r in results] == ["a.png", "c.png"]
    assert all(r["status"] == "ok" for r in results)
    warnings = [x for x in proc.stderr.splitlines() if "WARNING" in x]
    assert len(warnings) == 1, proc.stderr
    assert reason in warnings[0] and ", skipped" in warnings[0]
    assert "forged line" not in proc.stderr or "\\nINFO forged line" in warnings[0]
    assert "images skipped: 1" in proc.stderr


def tiff_with_private_tag(path: Path, image_bgr: np.ndarray) -> None:
    """An uncompressed RGB TIFF carrying a tag libtiff does not know (cameras and scanners
    write such tags): OpenCV decodes it, and libtiff warns about the tag on stderr."""
    height, width = image_bgr.shape[:2]
    pixels = np.ascontiguousarray(image_bgr[:, :, ::-1]).tobytes()
    note = b"scanner note\x00"
    entries = [  # (tag, type: 2 ASCII, 3 SHORT, 4 LONG, count, value or offset)
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 3, None),  # bits per sample: 8, 8, 8, stored after the IFD
        (259, 3, 1, 1),  # no compression
        (262, 3, 1, 2),  # RGB
        (273, 4, 1, None),  # where the pixels start
        (277, 3, 1, 3),
        (278, 4, 1, height),
        (279, 4, 1, len(pixels)),
        (65000, 2, len(note), None),
    ]
    bits_at = 8 + 2 + 12 * len(entries) + 4
    note_at, pixels_at = bits_at + 6, bits_at + 6 + len(note)
    offsets = {258: bits_at, 273: pixels_at, 65000: note_at}
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = offsets[tag] if value is None else value
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    body = ifd + struct.pack("<I", 0) + struct.pack("<3H", 8, 8, 8) + note + pixels
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + body)


def test_odd_but_good_images_are_read_quietly_and_named_in_valid_json(tmp_path, astronaut_bgr):
    # libtiff's warning used to leak onto stderr in OpenCV's own format; a file name that is
    # not UTF-8 became a lone surrogate ("\udce9") in the JSON, which strict readers refuse
    folder = tmp_path / "photos"
    folder.mkdir()
    tiff_with_private_tag(folder / "a.tif", astronaut_bgr)
    assert cv2.imread(str(folder / "a.tif")) is not None
    cv2.imwrite(str(folder / "b.png"), astronaut_bgr)
    os.rename(bytes(folder / "b.png"), bytes(folder) + b"/caf\xe9.png")

    proc, results = run_on(folder, tmp_path)

    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [r["status"] for r in results] == ["ok", "ok"]
    assert "TIFF" not in proc.stderr and "WARN" not in proc.stderr, proc.stderr
    raw = (tmp_path / "results.jsonl").read_bytes()
    raw.decode("utf-8")  # strict
    assert b"\\udc" not in raw
    assert sorted(Path(r["file"]).name for r in results) == ["a.tif", "caf\\xe9.png"]


def test_nothing_usable_is_an_error(tmp_path: Path):
    empty = tmp_path / "only.jpg"
    empty.write_bytes(b"")
    proc, results = run_on(empty, tmp_path)
    assert proc.returncode == 1 and results == []
    errors = [x for x in proc.stderr.splitlines() if "ERROR" in x]
    assert len(errors) == 1 and "no usable image" in errors[0], proc.stderr
