"""What the page and /api/result say: the newest result, and how a view must show it.

The page (live.html) only renders `view`: the headline is the frame's own emotion only when
a face of this frame has it; otherwise it is the frame's state (no face, several faces,
paused), and an emotion the outputs still hold is `last_seen`, as the overlay writes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.display.overlay import overlay_texts
from edge.pipeline.live import LiveState
from edge.sinks.payload import result_to_dict
from edge.types import UNCERTAIN, Result

PAGE_FILE = Path(__file__).resolve().parent / "live.html"
PICTURE_PATHS = frozenset({"/", "/stream.mjpg", "/latest.jpg"})  # what web.video: false hides
NO_VIDEO = b"not served: web.video is false on this device\n"


def shown(result: Result | None, paused: bool) -> dict[str, Any]:
    """{"headline", "current" (the headline is this frame's emotion), "last_seen"}."""
    if paused:
        return {"headline": "paused", "current": False, "last_seen": None}
    if result is None:
        return {"headline": "waiting", "current": False, "last_seen": None}
    texts = overlay_texts(result)
    if texts.headline is not None:
        return {"headline": texts.headline, "current": False, "last_seen": texts.held}
    return {"headline": result.decision.label or UNCERTAIN, "current": True, "last_seen": None}


def result_view(live: LiveState) -> dict[str, Any]:
    """/api/result: the newest result's JSON with `view` and `paused`. While paused or
    before the first result there is no result, and the view says so."""
    _, result = live.latest()
    paused = live.paused
    body = result_to_dict(result) if result is not None else {}
    return {**body, "view": shown(result, paused), "paused": paused}
