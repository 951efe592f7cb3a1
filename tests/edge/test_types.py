"""The currency between stages refuses what cannot be true, and cannot be changed later."""

from __future__ import annotations

import pytest

from edge.sinks.payload import result_to_dict
from edge.types import Detection, FaceResult, Result, Timings

SMALL, BIG = Detection((0, 0, 40, 40), 0.9), Detection((100, 0, 80, 80), 0.8)
SCORES = {"happy": 0.7, "sad": 0.3}


@pytest.mark.parametrize(
    ("label", "confidence", "scores", "error"),
    [
        ("angry", 0.7, SCORES, r"label 'angry' is not among \['happy', 'sad'\]"),
        ("happy", 0.3, SCORES, r"confidence 0.3 is not the score of 'happy' \(0.7\)"),
        ("happy", 1.7, {"happy": 1.7}, r"scores must lie in \[0, 1\]"),
        ("happy", 0.7, {"happy": 0.7, "sad": -0.2}, r"scores must lie in \[0, 1\]"),
    ],
)
def test_a_face_result_that_cannot_be_true_is_refused(label, confidence, scores, error):
    with pytest.raises(ValueError, match=error):
        FaceResult(SMALL, label, confidence, scores)


def test_scores_are_read_only_and_a_copy():
    given = dict(SCORES)
    face = FaceResult(SMALL, "happy", 0.7, given)
    given["happy"] = 0.0  # the caller's dict changing later does not reach the result
    assert face.scores["happy"] == 0.7
    with pytest.raises(TypeError):
        face.scores["happy"] = 0.1  # type: ignore[index]
    result = Result(0, 0.0, 0.0, "ok", (SMALL,), (face,), Timings(), 1.0, smoothed_scores=SCORES)
    with pytest.raises(TypeError):
        result.smoothed_scores["sad"] = 1.0  # type: ignore[index]


def test_faces_must_come_from_the_detections_and_status_from_its_list():
    face = FaceResult(BIG, "happy", 0.7, SCORES)
    with pytest.raises(ValueError, match=r"must come from Result\.detections"):
        Result(0, 0.0, 0.0, "ok", (SMALL,), (face,), Timings(), 1.0)
    with pytest.raises(ValueError, match="status 'okay' is not one of"):
        Result(0, 0.0, 0.0, "okay", (), (), Timings(), 1.0)  # type: ignore[arg-type]


def test_the_primary_face_is_the_largest_and_the_output_describes_it():
    small = FaceResult(SMALL, "happy", 0.7, SCORES)
    big = FaceResult(BIG, "sad", 0.6, {"happy": 0.4, "sad": 0.6})
    result = Result(0, 0.0, 0.0, "ok", (SMALL, BIG), (small, big), Timings(), 1.0)
    assert result.primary_face is big
    payload = result_to_dict(result)
    assert payload["faces_detected"] == 2 and payload["emotion"] is None  # nothing decided
    assert [f["emotion"] for f in payload["faces"]] == ["happy", "sad"]
    assert [f["box_xywh"] for f in payload["faces"]] == [[0, 0, 40, 40], [100, 0, 80, 80]]
    assert Result(0, 0.0, 0.0, "no_face", (), (), Timings(), 1.0).primary_face is None
