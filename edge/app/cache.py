"""Where downloaded files and models built on this machine are kept: outside the checkout."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Downloaded source wheels and models built for the bench; outside the checkout.

    EMOTION_EDGE_CACHE, else $XDG_CACHE_HOME/emotion-edge, else ~/.cache/emotion-edge.
    """
    if os.environ.get("EMOTION_EDGE_CACHE"):
        return Path(os.environ["EMOTION_EDGE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "emotion-edge"
