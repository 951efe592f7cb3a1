"""Where the program's own files are: the install folder, the shipped config, the demo clip."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

APP_ROOT = Path(__file__).resolve().parents[2]  # the folder holding edge/ and models/
DEFAULT_CONFIG = APP_ROOT / "config.yaml"
DEMO_SAMPLE = Path(__file__).resolve().parents[1] / "app" / "assets" / "demo.mp4"


def state_folder(environ: dict[str, str] | None = None) -> Path:
    """Where a run keeps what it needs next time: $STATE_DIRECTORY (systemd's
    StateDirectory=, /var/lib/emotion-edge for the service), else
    $XDG_STATE_HOME/emotion-edge, else ~/.local/state/emotion-edge."""
    env = os.environ if environ is None else environ
    if env.get("STATE_DIRECTORY"):
        # systemd lists one folder per StateDirectory= entry, colon-separated
        return Path(env["STATE_DIRECTORY"].split(":")[0])
    base = Path(env["XDG_STATE_HOME"]) if env.get("XDG_STATE_HOME") else None
    if base is None:
        base = Path(env.get("HOME") or Path.home()) / ".local" / "state"
    return base / "emotion-edge"


def write_state_file(path: Path, text: str, mode: int = 0o666) -> None:
    """Write `text` to `path` whole or not at all: into a sibling .partial, then renamed
    over it; the .partial is removed when that fails. OSError says why."""
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        partial.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise


def owner_digest(owner: Path) -> str:
    """A short digest of a config file's path: one state file per config, not per folder."""
    return hashlib.sha256(str(owner).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def resolve_app_path(value: str) -> Path:
    """A path from the config: as given if it exists there, else below the install folder."""
    path = Path(value).expanduser()
    if path.is_absolute() or path.exists():
        return path
    installed = APP_ROOT / path
    return installed if installed.exists() else path
