"""What is reported: the smoothed scores held steady (table tests over score sequences)."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from edge.analysis.decide import EmotionSmoother, LabelDecider
from edge.config.analysis import SmoothingConfig
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


def runs_of(labels: list[str | None], fps: float) -> list[tuple[str | None, float, float]]:
    """(label, start s, length s) of each run of equal labels."""
    runs = []
    for label, group in itertools.groupby(enumerate(labels), key=lambda item: item[1]):
        indexes = [i for i, _ in group]
        runs.append((label, indexes[0] / fps, len(indexes) / fps))
    return runs


def rounded(runs) -> list[tuple[str | None, float, float]]:
    return [(label, round(start, 2), round(length, 2)) for label, start, length in runs]


@pytest.fixture(scope="module")
def clip_labels(request):
    """The raw top-1 and the reported emotion of every frame of a real clip, on its own time."""
    from convert.clips import real_clip
    from edge.analysis.stages import open_stages
    from edge.config import Config
    from edge.types import Frame

    capture = cv2.VideoCapture(str(real_clip(request.param)))
    fps = capture.get(cv2.CAP_PROP_FPS)
    raw: list[str | None] = []
    shown: list[str | None] = []
    config = Config(classifier={"threads": 2}, reuse={"enabled": False})
    with open_stages(config) as stages:
        index = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            at = index / fps
            result = stages.analyzer.analyze(Frame(index, image, at, 0.0, media_time_s=at))
            primary = result.primary_face
            raw.append(primary.label if primary else None)
            shown.append(result.decision.label)
            index += 1
    capture.release()
    return raw, shown, fps


@pytest.mark.parametrize("clip_labels", ["single_face", "crying_to_laughing"], indirect=True)
def test_a_real_face_changing_expression(clip_labels, capsys):
    raw, shown, fps = clip_labels
    minutes = len(raw) / fps / 60
    changes = sum(a != b for a, b in itertools.pairwise(shown))
    with capsys.disabled():
        top1 = sum(a != b for a, b in itertools.pairwise(raw))
        print(
            f"\n{len(raw)} frames: top-1 changed {top1} times ({top1 / minutes:.0f} a minute), "
            f"the reported emotion {changes} ({changes / minutes:.1f} a minute); "
            f"reported (label, from s, for s): {rounded(runs_of(shown, fps))}; top-1 held "
            f">= 1 s: {rounded(run for run in runs_of(raw, fps) if run[2] >= 1.0)}"
        )
    assert changes <= sum(a != b for a, b in itertools.pairwise(raw))
    assert changes / minutes <= 30  # at most one change every 2 s on average
    # every expression the classifier holds for 1 s is reported within 1 s of its start
    held = [(label, start) for label, start, length in runs_of(raw, fps) if length >= 1.0]
    assert held, "the clip must show an expression held for a second"
    for label, start in held:
        window = shown[round(start * fps) : round((start + 1.0) * fps) + 1]
        assert label in window, (label, start, runs_of(shown, fps))
