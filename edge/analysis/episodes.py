"""Face episodes: from a face's arrival to its leaving, with the changes of what is shown.

An episode starts on the first frame with a face present (one detected, or the reported
emotion still held), gets a `change` each time the shown emotion changes to another word,
and ends on the first frame without one, with its duration and its dominant emotion (the
model label shown the longest). Times are the frames' own (a file's media time), so a
clip gives the same episodes on any machine. Home Assistant's `event` entity and the
…/events topic are fed from these (edge.sinks.mqtt).
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from edge.types import SEVERAL_FACES, UNCERTAIN, EpisodeEvent, EpisodeKind

NOT_AN_EMOTION = frozenset({UNCERTAIN, SEVERAL_FACES})


class EpisodeTracker:
    def __init__(self) -> None:
        self.episode_id: str | None = None
        self._started_s = self._last_s = 0.0
        self._shown: str | None = None
        self._time_by_label: defaultdict[str, float] = defaultdict(float)

    def update(self, present: bool, shown: str | None, now_s: float) -> EpisodeEvent | None:
        """The event this frame makes, if any; `shown` is the word the outputs show."""
        if not present:
            return self._end() if self.episode_id is not None else None
        if self.episode_id is None:
            self.episode_id = uuid.uuid4().hex[:12]
            self._started_s = self._last_s = now_s
            self._shown = shown
            self._time_by_label.clear()
            return self._event("start")
        if self._shown is not None and self._shown not in NOT_AN_EMOTION:
            self._time_by_label[self._shown] += max(0.0, now_s - self._last_s)
        self._last_s = now_s
        if shown != self._shown and shown is not None:
            self._shown = shown
            return self._event("change")
        return None

    def _end(self) -> EpisodeEvent:
        event = self._event("end")
        self.episode_id = None
        return event

    def _event(self, kind: EpisodeKind) -> EpisodeEvent:
        assert self.episode_id is not None
        dominant = (
            max(self._time_by_label, key=lambda label: self._time_by_label[label])
            if self._time_by_label
            else (self._shown if self._shown not in NOT_AN_EMOTION else None)
        )
        return EpisodeEvent(
            kind=kind,
            episode_id=self.episode_id,
            emotion=self._shown,
            duration_s=round(self._last_s - self._started_s, 3),
            dominant_emotion=dominant,
        )
