"""What a confidence means: calibration error and the min_confidence choice, by hand."""

from __future__ import annotations

import pytest

from convert.confidence import choose_min_confidence, confidence_figures


def test_a_calibrated_model_has_no_calibration_error():
    confidence = [0.75] * 8 + [0.35] * 6
    correct = [True] * 6 + [False] * 2 + [True] * 2 + [False] * 4
    figures = confidence_figures(confidence, correct)
    # bin 0.7-0.8: accuracy 0.75, mean 0.75; bin 0.3-0.4: accuracy 1/3, mean 0.35
    assert figures["expected_calibration_error"] == pytest.approx(6 / 14 * (0.35 - 1 / 3), abs=1e-4)
    row = next(r for r in figures["thresholds"] if r["min_confidence"] == 0.4)
    assert row["reported_share"] == pytest.approx(8 / 14, abs=1e-4)
    assert row["accuracy_of_reported"] == pytest.approx(0.75)


def test_an_overconfident_model_shows_its_error():
    figures = confidence_figures([0.95] * 10, [True] * 5 + [False] * 5)
    assert figures["expected_calibration_error"] == pytest.approx(0.45)


@pytest.mark.parametrize(
    ("confidence", "correct", "chosen"),
    [
        # the two wrong faces under 0.4 are held back; above it right and wrong cancel out
        ([0.3, 0.35, 0.4, 0.45, 0.6, 0.7, 0.8], [False, False, True, False, True, True, True], 0.4),
        # right even at low scores: nothing is held back beyond the lowest choice
        ([0.3, 0.5, 0.9], [True, True, True], 0.25),
        # wrong up to 0.7: only the face above it is worth reporting
        ([0.3, 0.5, 0.7, 0.85], [False, False, False, True], 0.75),
    ],
)
def test_min_confidence_is_where_labels_stop_being_mostly_wrong(confidence, correct, chosen):
    assert choose_min_confidence(confidence, correct) == chosen
