"""What emotion to report: the smoothed scores, held steady against flicker.

A classifier's top-1 jumps between close classes from one frame to the next. The reported
label changes only when another class leads it by `switch_margin` (hysteresis) for
`hold_s` (dwell), and it is UNCERTAIN while the smoothed top score is below
`min_confidence`; going to or from uncertain waits `hold_s` too. A face that appears is
reported at once (there is nothing to flicker from). Pure and synchronous: time is the
caller's (a frame's media time), so a file gives the same answers on any machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from edge.config.analysis import SmoothingConfig
from edge.types import UNCERTAIN, Decision


class EmotionSmoother:
    """Exponential moving average of class scores, forgotten after a gap without faces."""

    def __init__(self, labels: Sequence[str], cfg: SmoothingConfig) -> None:
        self.labels = list(labels)
        self.alpha = cfg.alpha
        self.reset_after_s = cfg.reset_after_s
        self._average: np.ndarray | None = None
        self._last_update_s = 0.0

    def update(self, probabilities: np.ndarray | None, now_s: float) -> dict[str, float] | None:
        """The smoothed scores by label after this frame; None once the face is forgotten."""
        if probabilities is not None:
            if self._average is None:
                self._average = probabilities.astype(np.float64)
            else:
                self._average = self.alpha * probabilities + (1 - self.alpha) * self._average
            self._last_update_s = now_s
        elif self._average is not None and now_s - self._last_update_s > self.reset_after_s:
            self._average = None
        if self._average is None:
            return None
        return {label: float(v) for label, v in zip(self.labels, self._average, strict=True)}


class LabelDecider:
    def __init__(self, cfg: SmoothingConfig) -> None:
        self.cfg = cfg
        self._label: str | None = None
        self._unwanted_since_s: float | None = None  # the reported label lost its support

    def update(self, smoothed: Mapping[str, float] | None, now_s: float) -> Decision:
        """The decision after this frame's smoothed scores (None: no face any more)."""
        if not smoothed:
            changed = self._label is not None
            self._label = self._unwanted_since_s = None
            return Decision(None, None, changed)
        leader = max(smoothed, key=lambda label: smoothed[label])
        top = smoothed[leader]
        wanted = self._candidate(smoothed, leader, top)
        changed = False
        if self._label is None:  # a face appeared: report it at once
            self._label, changed = wanted, True
        elif wanted == self._label:
            self._unwanted_since_s = None
        elif self._unwanted_since_s is None:
            self._unwanted_since_s = now_s
        # the wait runs from when the reported label lost its support, not from when this
        # particular successor appeared: happy -> (flat for a moment) -> sad is one wait
        since = self._unwanted_since_s
        if since is not None and now_s - since >= self.cfg.hold_s:
            self._label, self._unwanted_since_s, changed = wanted, None, True
        reported = self._label or UNCERTAIN
        return Decision(self._label, smoothed.get(reported, top), changed)

    def _candidate(self, smoothed: Mapping[str, float], leader: str, top: float) -> str:
        if top < self.cfg.min_confidence:
            return UNCERTAIN
        current = self._label
        if current in smoothed and leader != current:
            # hysteresis: a class that only just overtook the reported one does not count
            assert current is not None
            if top - smoothed[current] < self.cfg.switch_margin:
                return current
        return leader
