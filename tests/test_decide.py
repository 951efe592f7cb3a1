"""What is reported: the smoothed scores held steady (table tests over score sequences)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edge.config_analysis import SmoothingConfig
from edge.decide import EmotionSmoother, LabelDecider
from edge.types import UNCERTAIN

CFG = SmoothingConfig(switch_margin=0.1, hold_s=0.5, min_confidence=0.4)
H, S, U = "happy", "sad", UNCERTAIN


def scores(happy: float, sad: float) -> dict[str, float]:
    return {"happy": happy, "sad": sad, "fear": max(0.0, 1.0 - happy - sad)}


def reported(sequence, step_s: float = 0.1, cfg: SmoothingConfig = CFG) -> list[str | None]:
    decider = LabelDecider(cfg)
    return [decider.update(s, i * step_s).label for i, s in enumerate(sequence)]


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [
        # a face appears: reported at once
        ([scores(0.7, 0.2)], [H]),
        # another class leads by less than the margin: no change, however long
        ([scores(0.7, 0.2)] + [scores(0.45, 0.5)] * 10, [H] * 11),
        # leads by the margin, but for less than hold_s (0.3 s): no change
        ([scores(0.7, 0.2)] + [scores(0.2, 0.7)] * 3 + [scores(0.7, 0.2)] * 3, [H] * 7),
        # leads by the margin for hold_s: changed after 0.5 s
        ([scores(0.7, 0.2)] + [scores(0.2, 0.7)] * 8, [H] * 6 + [S] * 3),
        # flat scores: uncertain, also only after hold_s
        ([scores(0.7, 0.2)] + [scores(0.35, 0.3)] * 8, [H] * 6 + [U] * 3),
        # a face that appears with flat scores is uncertain at once, and leaves it after hold_s
        ([scores(0.35, 0.3)] + [scores(0.7, 0.2)] * 7, [U] * 6 + [H] * 2),
        # the face goes: nothing reported; it comes back: reported at once again
        ([scores(0.7, 0.2), None, scores(0.2, 0.7)], [H, None, S]),
        # the successor changes while waiting: one wait, from when happy lost its support,
        # then whatever is wanted at that moment
        (
            [scores(0.7, 0.2)] + [scores(0.35, 0.3)] * 3 + [scores(0.2, 0.7)] * 4,
            [H] * 6 + [S] * 2,
        ),
        # support comes back before the wait is over: the wait starts again next time
        (
            [scores(0.7, 0.2)]
            + [scores(0.2, 0.7)] * 4
            + [scores(0.7, 0.2)]
            + [scores(0.2, 0.7)] * 4,
            [H] * 10,
        ),
    ],
)
def test_the_reported_label(sequence, expected):
    assert reported(sequence) == expected


def test_flicker_between_two_close_classes_is_not_reported():
    rng = np.random.default_rng(0)
    sequence = []
    for _ in range(300):  # 30 s at 10 fps: two classes trading the lead by a few points
        happy = 0.45 + rng.uniform(-0.06, 0.06)
        sequence.append(scores(happy, 0.9 - happy))
    labels = reported(sequence)
    top1 = ["happy" if s["happy"] > s["sad"] else "sad" for s in sequence]
    assert sum(a != b for a, b in itertools.pairwise(top1)) > 50  # the raw top-1 flickers
    assert sum(a != b for a, b in itertools.pairwise(labels)) == 0


def test_confidence_is_the_reported_class_score():
    decider = LabelDecider(CFG)
    decider.update(scores(0.7, 0.2), 0.0)
    held = decider.update(scores(0.44, 0.5), 0.1)  # sad leads, by less than the margin
    assert held.label == H and held.confidence == pytest.approx(0.44)


def test_smoother_averages_and_forgets_after_a_gap():
    smoother = EmotionSmoother(["a", "b"], SmoothingConfig(alpha=0.5, reset_after_s=1.0))
    assert smoother.update(np.array([1.0, 0.0]), 0.0) == {"a": 1.0, "b": 0.0}
    assert smoother.update(np.array([0.0, 1.0]), 0.1) == {"a": 0.5, "b": 0.5}
    assert smoother.update(np.array([0.0, 1.0]), 0.2) == {"a": 0.25, "b": 0.75}
    assert smoother.update(None, 0.9) == {"a": 0.25, "b": 0.75}  # a short gap keeps it
    assert smoother.update(None, 1.5) is None  # a long one forgets
