"""Output files are checked before a run starts, so a bad path fails in a second, not after it."""

from __future__ import annotations

import os
from pathlib import Path

from edge.errors import ConfigError


def require_writable(path: Path, setting: str, fix: str) -> Path:
    """Make `path`'s folder if needed and prove the file can be written, or say why not.

    Leaves no new file behind: an existing file is opened for appending, a new one is
    created and removed again.
    """
    if path.is_dir():
        raise ConfigError(f"{setting}: {path} is a folder; give {fix}")
    if path.exists() and not path.is_file():
        # a FIFO or a device: opening it to try would block for a reader, or be seen by one
        if not os.access(path, os.W_OK):
            raise ConfigError(f"{setting}: {path} cannot be written (permission denied)")
        return path
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        os.close(fd)
        if not existed:
            path.unlink()
    except OSError as exc:
        raise ConfigError(
            f"{setting}: {path} cannot be written ({exc.strerror}); give {fix}"
        ) from None
    return path
