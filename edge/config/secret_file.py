"""A secret kept in a file (mqtt.password_file, web.token_file), read the same way for both:
$VARIABLES expanded (systemd's ${CREDENTIALS_DIRECTORY}), bounded, UTF-8, stripped."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from edge.errors import ConfigError


def read_secret_file(setting: str, max_bytes: int, what: str) -> tuple[str, int, str]:
    """(the text stripped, how many bytes were read, the prefix naming the file in errors).

    At most `max_bytes + 3` bytes are read (room for a line end), so an oversized file is seen
    without being read whole. ValueError says what is wrong, naming `what` (password, token).
    """
    path = Path(os.path.expandvars(setting))
    where = "" if str(path) == setting else f"{path}: "  # the setting itself is shown anyway
    if "$" in str(path):
        raise ValueError(
            "names a variable that is not set (CREDENTIALS_DIRECTORY is set by systemd)"
        )
    try:
        if path.exists() and not path.is_file():  # a FIFO would block the read for ever
            raise ValueError(f"{where}not a regular file (give the file holding the {what})")
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 3)
    except OSError as exc:
        raise ValueError(f"{where}{exc.strerror or exc} (create it, or fix the path)") from None
    try:
        return raw.decode("utf-8").strip(), len(raw), where
    except UnicodeDecodeError:
        raise ValueError(f"{where}not UTF-8 text (write the {what} as UTF-8)") from None


def read_secret_env(environ: Mapping[str, str], name: str, key: str, instead: str) -> str:
    """The secret in the environment variable `name`; ConfigError naming `key` if unset."""
    value = environ.get(name)
    if value is None:
        raise ConfigError(
            f"{key}: environment variable {name} is not set (export it, or use {instead})"
        )
    return value
