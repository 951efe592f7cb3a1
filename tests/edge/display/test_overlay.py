"""The drawing every display shares: pixels where they should be, at two resolutions."""

from __future__ import annotations

import time

import numpy as np
import pytest

from edge.display.overlay import EMOTION_COLORS, UNCLASSIFIED_COLOR, draw_overlay
from edge.types import Detection, FaceResult, Result, Timings

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
GREY = 100


def face(box, label) -> FaceResult:
    scores = {lab: 0.8 if lab == label else 0.03 for lab in LABELS}
    return FaceResult(Detection(box, 0.9), label, 0.8, scores)


def result(status, faces=(), boxes=None) -> Result:
    """`faces` classified; `boxes` every face found (default: just the classified ones)."""
    detections = [f.detection for f in faces]
    classified = {f.box_xywh for f in faces}
    detections += [Detection(b, 0.9) for b in boxes or () if b not in classified]
    return Result(
        1, time.monotonic(), time.time(), status, tuple(detections), tuple(faces), Timings(), 1.0
    )


def blank(width, height):
    return np.full((height, width, 3), GREY, np.uint8)


def has_color(image, region, color, tolerance=10) -> bool:
    x0, y0, x1, y1 = region
    patch = image[y0:y1, x0:x1].reshape(-1, 3).astype(int)
    return bool((np.abs(patch - np.array(color)).max(axis=1) <= tolerance).any())


@pytest.mark.parametrize("size", [(640, 480), (1920, 1080)])
def test_one_face_box_label_and_bars(size):
    width, height = size
    unit = height / 480
    box = (round(100 * unit), round(120 * unit), round(150 * unit), round(150 * unit))
    frame = blank(width, height)
    out = draw_overlay(frame, result("ok", [face(box, "happy")]), fps=14.9, inference_ms=3.2)
    x, y, w, h = box
    happy = EMOTION_COLORS["happy"]
    assert has_color(out, (x - 2, y + h // 2 - 2, x + 3, y + h // 2 + 2), happy)  # left edge
    assert has_color(out, (x, y - round(30 * unit), x + w, y), happy)  # label above the box
    assert has_color(out, (x + w, y, x + w + round(70 * unit), y + round(100 * unit)), happy)
    assert not has_color(out, (x + 10, y + 10, x + w - 10, y + h - 10), happy)  # face kept clear
    bottom_left = out[height - round(30 * unit) :, : round(200 * unit)]
    assert (bottom_left > 240).all(axis=2).any()  # the fps / inference line
    assert (frame == GREY).all()  # the input frame is not drawn on


@pytest.mark.parametrize("size", [(640, 480), (1920, 1080)])
@pytest.mark.parametrize(("status", "n_boxes"), [("no_face", 0), ("multiple_faces", 2)])
def test_status_banner_and_unclassified_boxes(size, status, n_boxes):
    width, height = size
    boxes = ((50, 200, 120, 120), (400, 200, 120, 120))[:n_boxes]
    out = draw_overlay(blank(width, height), result(status, boxes=boxes))
    top_centre = out[: round(60 * height / 480), width // 3 : 2 * width // 3]
    assert (top_centre > 240).all(axis=2).any()  # white banner text
    for x, y, _, _ in boxes:
        assert has_color(out, (x - 2, y + 50, x + 3, y + 60), UNCLASSIFIED_COLOR)
    assert not any(
        has_color(out, (0, 0, width, height), c, 5)
        for c in (EMOTION_COLORS["happy"], EMOTION_COLORS["angry"])
    )


def test_two_classified_faces_get_their_own_colours():
    faces = [face((40, 150, 120, 120), "angry"), face((400, 150, 120, 120), "sad")]
    out = draw_overlay(blank(640, 480), result("ok", faces))
    assert has_color(out, (38, 200, 43, 210), EMOTION_COLORS["angry"])
    assert has_color(out, (398, 200, 403, 210), EMOTION_COLORS["sad"])
    assert not has_color(out, (0, 60, 30, 100), (255, 255, 255), 5)  # no status banner


def test_no_result_yet_draws_only_rates():
    out = draw_overlay(blank(640, 480), None, fps=30.0)
    assert (out[:400] == GREY).all()
    assert (out[440:] > 240).all(axis=2).any()
