"""Where the program's own files are: the install folder, the shipped config, the demo clip."""

from __future__ import annotations

from pathlib import Path

APP_ROOT = Path(__file__).resolve().parents[2]  # the folder holding edge/ and models/
DEFAULT_CONFIG = APP_ROOT / "config.yaml"
DEMO_SAMPLE = Path(__file__).resolve().parents[1] / "app" / "assets" / "demo.mp4"


def resolve_app_path(value: str) -> Path:
    """A path from the config: as given if it exists there, else below the install folder."""
    path = Path(value).expanduser()
    if path.is_absolute() or path.exists():
        return path
    installed = APP_ROOT / path
    return installed if installed.exists() else path
