"""Where the program's own files are: the install folder, the shipped config, the demo clip."""

from __future__ import annotations

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
