"""Detection + face policy + classification + smoothing on real photos, no threads."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from edge.analysis.analyzer import apply_face_policy
from edge.analysis.stages import open_stages
from edge.config import Config
from edge.sinks.payload import result_to_dict
from edge.types import Detection, Frame, Result
from tests.conftest import ASTRONAUT_FACE_XYWH, DEFAULT_MODEL, RESULT_KEYS

SMALL = Detection((0, 0, 10, 10), 0.9)
BIG = Detection((50, 0, 40, 40), 0.8)
MID = Detection((20, 0, 20, 20), 0.7)


@pytest.mark.parametrize(
    ("detections", "policy", "status", "chosen"),
    [
        ([], "multiple_faces", "no_face", []),
        ([], "largest", "no_face", []),
        ([SMALL], "multiple_faces", "ok", [SMALL]),
        ([SMALL, BIG], "multiple_faces", "multiple_faces", []),
        ([SMALL, BIG, MID], "largest", "ok", [BIG]),
        ([BIG, SMALL, MID], "all", "ok", [SMALL, MID, BIG]),  # left to right
    ],
)
def test_face_policy(detections, policy, status, chosen):
    assert apply_face_policy(detections, policy) == (status, chosen)


def test_an_unknown_face_policy_is_refused_not_read_as_the_default():
    with pytest.raises(ValueError, match=r"unknown face policy 'biggest' \(one of multiple_faces"):
        apply_face_policy([SMALL, BIG], "biggest")  # type: ignore[arg-type]


@pytest.fixture()
def make_analyzer(analyzer_for):
    return lambda policy="multiple_faces": analyzer_for(faces={"policy": policy})


def frame(image: np.ndarray, index: int = 0) -> Frame:
    return Frame(
        index=index, image_bgr=image, captured_at_s=time.monotonic(), wall_time_s=time.time()
    )


def test_one_face_is_ok_and_happy(make_analyzer, astronaut_bgr):
    result = make_analyzer().analyze(frame(astronaut_bgr))
    assert result.status == "ok"
    assert len(result.faces) == 1 and len(result.detections) == 1
    face = result.faces[0]
    assert face.label == "happy" and face.confidence == max(face.scores.values())
    assert result.decision.label == "happy"  # a face that appears is reported at once
    assert result.timings.detect_ms > 0 and result.timings.inference_ms > 0
    assert result.model_name == "ferplus-vgg-compact-int8"


@pytest.fixture(scope="module")
def astronaut_face_side_px(astronaut_bgr) -> int:
    """The shorter side of the box the real detector draws around the astronaut's face."""
    config = Config(classifier={"model": str(DEFAULT_MODEL)}, faces={"min_size_px": 1})
    with open_stages(config) as stages:
        (found,) = stages.analyzer.analyze(frame(astronaut_bgr)).detections
    return min(found.box_xywh[2], found.box_xywh[3])


@pytest.mark.parametrize(
    ("above_face_px", "status", "detections"),
    [
        (-40, "ok", 1),
        (0, "ok", 1),  # as large as the limit: kept
        (1, "no_face", 0),  # a pixel smaller than the limit: ignored
        (40, "no_face", 0),
    ],
)
def test_faces_smaller_than_min_size_px_are_ignored(
    analyzer_for, astronaut_bgr, astronaut_face_side_px, above_face_px, status, detections
):
    assert abs(astronaut_face_side_px - ASTRONAUT_FACE_XYWH[2]) <= 8, astronaut_face_side_px
    min_size_px = astronaut_face_side_px + above_face_px
    result = analyzer_for(faces={"min_size_px": min_size_px}).analyze(frame(astronaut_bgr))
    assert (result.status, len(result.detections), len(result.faces)) == (
        status,
        detections,
        detections,
    ), min_size_px


def test_no_face_and_two_faces(make_analyzer, no_face_bgr, two_faces_bgr):
    analyzer = make_analyzer()
    none = analyzer.analyze(frame(no_face_bgr, 1))
    assert (none.status, none.faces, len(none.detections)) == ("no_face", (), 0)
    two = analyzer.analyze(frame(two_faces_bgr, 2))
    assert (two.status, two.faces, len(two.detections)) == ("multiple_faces", (), 2)
    assert two.timings.inference_ms == 0.0  # nothing classified


@pytest.mark.parametrize(("policy", "classified"), [("largest", 1), ("all", 2)])
def test_two_faces_with_other_policies(make_analyzer, two_faces_bgr, policy, classified):
    result = make_analyzer(policy).analyze(frame(two_faces_bgr))
    assert result.status == "ok" and len(result.detections) == 2
    assert len(result.faces) == classified
    # the fixture pastes the happy astronaut at x 0..320 and, mirrored, at x 320..640
    squares = sorted(int(x + w / 2) // 320 for x, _, w, _ in (f.box_xywh for f in result.faces))
    if policy == "all":
        assert squares == [0, 1]  # one face from each square, not one face twice
    for face in result.faces:
        x, y, w, h = face.box_xywh
        left = 320 * (int(x + w / 2) // 320)
        assert left <= x and x + w <= left + 320 and y >= 80 and y + h <= 400, face.box_xywh
        assert face.label == "happy" == max(face.scores, key=face.scores.get)


def test_payload_schema(make_analyzer, astronaut_bgr, no_face_bgr):
    analyzer = make_analyzer()
    ok = result_to_dict(analyzer.analyze(frame(astronaut_bgr, 7)))
    assert set(ok) == RESULT_KEYS
    assert ok["frame"] == 7 and ok["status"] == "ok" and ok["emotion"] == "happy"
    assert ok["time"].endswith("Z") and "T" in ok["time"]
    box = json.loads(json.dumps(ok))["faces"][0]["box_xywh"]  # as a JSON reader gets it
    assert isinstance(box, list) and all(type(v) is int for v in box), box
    assert np.abs(np.array(box) - ASTRONAUT_FACE_XYWH).max() <= 8, box
    assert set(ok["timings_ms"]) == {"detect", "preprocess", "inference", "total"}
    # a face missed for a moment is still reported (smoothing.reset_after_s, 2 s)...
    at = time.monotonic()
    gap = result_to_dict(analyzer.analyze(Frame(8, no_face_bgr, at + 1.0, time.time())))
    assert (gap["status"], gap["emotion"], gap["faces"]) == ("no_face", "happy", [])
    # ... and forgotten after that
    empty = result_to_dict(analyzer.analyze(Frame(9, no_face_bgr, at + 3.5, time.time())))
    assert (empty["status"], empty["emotion"], empty["confidence"], empty["scores"]) == (
        "no_face",
        None,
        None,
        {},
    )


def test_an_emotion_held_after_the_face_left_is_marked_as_held(
    make_analyzer, astronaut_bgr, no_face_bgr, two_faces_bgr
):
    # the views showed the held emotion as the frame's own (issue 22): the result now says
    # how old it is, and held_label is what a view may show as "last seen"
    analyzer = make_analyzer()

    def at(image: np.ndarray, media_time_s: float) -> Result:
        return analyzer.analyze(
            Frame(0, image, time.monotonic(), time.time(), media_time_s=media_time_s)
        )

    seen = at(astronaut_bgr, 10.0)
    assert seen.decision_age_s == 0.0 and seen.held_label is None
    gone = at(no_face_bgr, 10.5)
    assert gone.status == "no_face" and gone.decision.label == "happy"
    assert gone.decision_age_s == pytest.approx(0.5) and gone.held_label == "happy"
    several = at(two_faces_bgr, 11.0)
    assert several.status == "multiple_faces" and several.held_label == "happy"
    assert several.decision_age_s == pytest.approx(1.0)
    forgotten = at(no_face_bgr, 14.0)  # past smoothing.reset_after_s (2 s)
    assert forgotten.decision.label is None and forgotten.decision_age_s is None
    assert forgotten.held_label is None
