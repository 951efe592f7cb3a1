"""How far a model's confidence can be taken at its word: calibration and thresholds.

`expected_calibration_error`: faces binned by their top score in ten equal bins; the
mean gap between each bin's accuracy and its mean score, weighted by the bin's share.
`thresholds`: for a `smoothing.min_confidence`, the share of faces at or above it (the
rest are reported as uncertain) and the accuracy of those. `choose_min_confidence`: the
threshold under which labels are more often wrong than right.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BINS = 10
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
CHOICES = tuple(round(0.25 + 0.05 * k, 2) for k in range(14))  # 0.25 .. 0.9


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray) -> float:
    edges = np.linspace(0.0, 1.0, BINS + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, BINS - 1)
    error = 0.0
    for b in range(BINS):
        inside = which == b
        if inside.any():
            gap = abs(float(correct[inside].mean()) - float(confidence[inside].mean()))
            error += gap * float(inside.mean())
    return error


def thresholds(confidence: np.ndarray, correct: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    for threshold in THRESHOLDS:
        kept = confidence >= threshold
        rows.append(
            {
                "min_confidence": threshold,
                "reported_share": round(float(kept.mean()), 4) if len(kept) else 0.0,
                "accuracy_of_reported": round(float(correct[kept].mean()), 4)
                if kept.any()
                else None,
            }
        )
    return rows


def confidence_figures(confidence: list[float], correct: list[bool]) -> dict[str, Any]:
    scores, right = np.asarray(confidence, np.float64), np.asarray(correct, bool)
    if not len(scores):
        return {"images": 0}
    return {
        "images": len(scores),
        "mean_confidence": round(float(scores.mean()), 4),
        "accuracy": round(float(right.mean()), 4),
        "expected_calibration_error": round(expected_calibration_error(scores, right), 4),
        "thresholds": thresholds(scores, right),
    }


def choose_min_confidence(confidence: list[float], correct: list[bool]) -> float:
    """The threshold that makes the reported labels most worth reading.

    A reported label counts +1 when right and -1 when wrong, an uncertain face 0; the lowest
    threshold with the highest total wins. So a face is held back as uncertain where, at its
    score, the model is wrong more often than right. Measure on a validation split, never on
    the test split.
    """
    scores, right = np.asarray(confidence, np.float64), np.asarray(correct, bool)
    if not len(scores):
        raise ValueError("choose_min_confidence needs at least one face")
    worth = np.where(right, 1, -1)
    totals = [int(worth[scores >= threshold].sum()) for threshold in CHOICES]
    return CHOICES[int(np.argmax(totals))]  # argmax: the first, lowest, of equal totals
