"""The pause switch: …/paused/set ON stops every frame from being analysed or shown.

For privacy (a meeting, a visitor): the camera stays open and the service's watchdog fed,
but LiveState lets each frame go at once, so no result, picture or stream comes out, and
…/camera says `paused` (Home Assistant's result entities go unavailable). The state is
kept beside the announcement record in the state folder, so a restart keeps it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from edge.config.paths import write_state_file
from edge.pipeline.live import LiveState
from edge.sinks.mqtt.const import OFF, ON

log = logging.getLogger(__name__)


class PauseSwitch:
    def __init__(self, live: LiveState, state_file: Path) -> None:
        self.live = live
        self.state_file = state_file
        self.ignored = 0  # commands that were neither ON nor OFF
        if self._saved():
            live.set_paused(True)
            log.info("paused, as when the device last ran: nothing is analysed or shown")

    @property
    def word(self) -> str:
        return ON if self.live.paused else OFF

    def command(self, payload: bytes) -> bool:
        """Apply ON or OFF; True when the state changed. Anything else is counted."""
        text = payload.decode("ascii", "replace").strip().upper()
        if text not in (ON, OFF):
            self.ignored += 1
            log.debug("pause switch: ignored %r (ON or OFF)", payload[:40])
            return False
        paused = text == ON
        if paused == self.live.paused:
            return False
        self.live.set_paused(paused)
        problem = self._save(paused)
        log.info(
            "%s%s",
            "paused: nothing is analysed or shown until resumed"
            if paused
            else "resumed: frames are analysed and shown again",
            f" (not kept across a restart: {problem})" if problem else "",
        )
        return True

    def _saved(self) -> bool:
        try:
            return bool(json.loads(self.state_file.read_text(encoding="utf-8"))["paused"])
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def _save(self, paused: bool) -> str | None:
        try:
            write_state_file(self.state_file, json.dumps({"paused": paused}) + "\n")
        except OSError as exc:
            return f"{self.state_file}: {exc.strerror or exc}"
        return None
