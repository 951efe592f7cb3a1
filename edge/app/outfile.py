"""Output files: checked before a run starts, so a bad path fails in a second, not after it.

One rule and one wording for every "cannot write there" of the device and of convert:
`SETTING: PATH cannot be written (REASON); give FIX`. The error type is the caller's
(ConfigError for the device's settings, convert's own ConvertError for its --out).
"""

from __future__ import annotations

import os
from pathlib import Path

from edge.errors import ConfigError, EdgeError


def unwritable(setting: str, path: Path, reason: object, fix: str) -> str:
    """The one line said when `path` cannot be written."""
    return f"{setting}: {path} cannot be written ({reason}); give {fix}"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _create_and_remove(path: Path) -> None:
    """Make `path`'s folder if needed and open the file for appending; leave no new file."""
    existed = path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    os.close(fd)
    if not existed:
        path.unlink()


def require_writable(
    path: Path, setting: str, fix: str, *, error: type[EdgeError] = ConfigError
) -> Path:
    """Make `path`'s folder if needed and prove the file can be written, or say why not.

    Leaves no new file behind: an existing file is opened for appending, a new one is
    created and removed again.
    """
    if path.is_dir():
        raise error(f"{setting}: {path} is a folder; give {fix}")
    if path.exists() and not path.is_file():
        # a FIFO or a device: opening it to try would block for a reader, or be seen by one
        if not os.access(path, os.W_OK):
            raise error(f"{setting}: {path} cannot be written (permission denied)")
        return path
    try:
        _create_and_remove(path)
    except OSError as exc:
        raise error(unwritable(setting, path, _reason(exc), fix)) from None
    return path


def require_writable_folder(
    folder: Path, setting: str, fix: str, *, error: type[EdgeError] = ConfigError
) -> Path:
    """Make `folder` if needed and prove a new file can be written in it, or say why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _create_and_remove(folder / ".write-test")
    except OSError as exc:
        raise error(unwritable(setting, folder, _reason(exc), fix)) from None
    return folder


def write_file(
    path: Path, data: bytes, setting: str, fix: str, *, error: type[EdgeError] = ConfigError
) -> Path:
    """`data` into `path` (its folder made when missing), or one line saying why not."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise error(unwritable(setting, path, _reason(exc), fix)) from None
    return path
