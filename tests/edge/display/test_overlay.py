"""The drawing every display shares: pixels where they should be, at two resolutions, and
never an emotion shown as current without the face it came from."""

from __future__ import annotations

import dataclasses
import time

import cv2
import numpy as np
import pytest

from edge.config import DEMO_SAMPLE, Config
from edge.display.overlay import (
    EMOTION_COLORS,
    HELD_COLOR,
    STATUS_TEXT,
    UNCLASSIFIED_COLOR,
    draw_overlay,
    overlay_texts,
)
from edge.types import Decision, Detection, FaceResult, Frame, Result, Timings
from tests.conftest import DEFAULT_MODEL

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
GREY = 100


def face(box, label, labels=LABELS, others=0.03) -> FaceResult:
    scores = {lab: 0.8 if lab == label else others for lab in labels}
    return FaceResult(Detection(box, 0.9), label, 0.8, scores)


def result(status, faces=(), boxes=None, decision=None, age_s=None) -> Result:
    """`faces` classified; `boxes` every face found (default: just the classified ones)."""
    detections = [f.detection for f in faces]
    classified = {f.box_xywh for f in faces}
    detections += [Detection(b, 0.9) for b in boxes or () if b not in classified]
    return Result(
        1,
        time.monotonic(),
        time.time(),
        status,
        tuple(detections),
        tuple(faces),
        Timings(),
        1.0,
        decision=Decision(decision, 0.9) if decision else Decision(None, None),
        decision_age_s=age_s,
    )


def blank(width, height):
    return np.full((height, width, 3), GREY, np.uint8)


def has_color(image, region, color, tolerance=10) -> bool:
    x0, y0, x1, y1 = region
    patch = image[y0:y1, x0:x1].reshape(-1, 3).astype(int)
    return bool((np.abs(patch - np.array(color)).max(axis=1) <= tolerance).any())


def color_columns(image, color, tolerance=12) -> np.ndarray:
    """The x of every column holding a pixel of `color`."""
    near = np.abs(image.astype(int) - np.array(color)).max(axis=2) <= tolerance
    return np.flatnonzero(near.any(axis=0))


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


# -- what is said: an emotion is current only on a face of this frame -------------------


@pytest.mark.parametrize(
    ("status", "decision", "age_s", "headline", "held", "face_labels"),
    [
        ("ok", "happy", 0.0, None, None, ["happy 90%"]),
        ("ok", None, None, None, None, ["happy 80%"]),  # first frame: its own classification
        ("no_face", "happy", 1.2, "no face", "last seen: happy, 1.2 s ago", []),
        ("no_face", "uncertain", 0.46, "no face", "last seen: uncertain, 0.5 s ago", []),
        ("no_face", None, None, "no face", None, []),
        ("multiple_faces", "sad", 0.4, "several faces", "last seen: sad, 0.4 s ago", []),
        ("multiple_faces", None, None, "several faces", None, []),
    ],
)
def test_overlay_texts(status, decision, age_s, headline, held, face_labels):
    faces = [face((100, 100, 120, 120), "happy")] if status == "ok" else []
    boxes = [(100, 100, 120, 120), (300, 100, 120, 120)] if status == "multiple_faces" else []
    texts = overlay_texts(result(status, faces, boxes, decision, age_s))
    assert (texts.headline, texts.held) == (headline, held)
    assert [f.label for f in texts.faces] == face_labels
    assert len(texts.unclassified) == len(boxes)


def analyse(images) -> list[Result]:
    """The real detector, model and analyzer over `images`, one frame a 15th of a second."""
    config = Config(
        classifier={"model": str(DEFAULT_MODEL), "threads": 2}, reuse={"enabled": False}
    )
    from edge.analysis.stages import open_stages

    with open_stages(config) as stages:
        return [
            stages.analyzer.analyze(Frame(i, image, i / 15, 0.0, media_time_s=i / 15))
            for i, image in enumerate(images)
        ]


@pytest.fixture(scope="module")
def demo_frames() -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(DEMO_SAMPLE))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    assert len(frames) == 105  # edge/app/assets/README.md: 1 face, none, a cat, 2 faces, 1
    return frames


@pytest.fixture(scope="module")
def demo_results(demo_frames) -> list[Result]:
    """The demo clip as it plays, then its one-face part going straight to two faces (so an
    emotion is held while there are several)."""
    return analyse(demo_frames) + analyse(demo_frames[:30] + demo_frames[60:75])


def test_the_demo_never_shows_an_emotion_without_its_face(demo_results):
    held_by_status = {"no_face": 0, "multiple_faces": 0}
    for res in demo_results:
        texts = overlay_texts(res)
        if res.status == "ok":
            assert texts.headline is None and texts.held is None
            assert [f.emotion for f in texts.faces][:1] == [res.decision.label]
            continue
        assert texts.headline == STATUS_TEXT[res.status]
        assert texts.faces == ()  # no label, no bars: nothing reads as this frame's emotion
        assert len(texts.unclassified) == len(res.detections)
        if res.held_label is None:
            assert texts.held is None
        else:
            assert texts.held == f"last seen: {res.held_label}, {res.decision_age_s:.1f} s ago"
            held_by_status[res.status] += 1
    # the clip did put the overlay to the test: emotions held, with no face and with two
    assert held_by_status["no_face"] >= 20 and held_by_status["multiple_faces"] >= 10


def light_rows(image: np.ndarray) -> list[tuple[int, int]]:
    """Runs of rows holding light pixels (text, not the boxes' grey), as (first, last)."""
    rows = np.flatnonzero((image.astype(int).min(axis=2) >= 170).any(axis=1))
    runs: list[tuple[int, int]] = []
    for y in rows:
        if runs and y <= runs[-1][1] + 3:  # a descender's faint rows belong to its line
            runs[-1] = (runs[-1][0], int(y))
        else:
            runs.append((int(y), int(y)))
    return runs


@pytest.mark.parametrize("size", [(640, 480), (1920, 1080)])
@pytest.mark.parametrize("status", ["no_face", "multiple_faces"])
def test_a_held_emotion_is_drawn_small_grey_and_without_bars(demo_results, size, status):
    res = next(r for r in demo_results if r.status == status and r.held_label == "happy")
    width, height = size
    scale_x, scale_y = width / 640, height / 480  # the boxes follow the frame
    boxes = [
        (round(x * scale_x), round(y * scale_y), round(w * scale_x), round(h * scale_y))
        for x, y, w, h in (d.box_xywh for d in res.detections)
    ]
    res = dataclasses.replace(res, detections=tuple(Detection(b, 0.9) for b in boxes))
    out = draw_overlay(blank(width, height), res)
    top = out[: height // 4]
    (head_top, head_bottom), (held_top, held_bottom) = light_rows(top)
    head, held = top[head_top : head_bottom + 1], top[held_top : held_bottom + 1]
    assert head.max() == 255 and held.max() <= max(HELD_COLOR) + 1  # white, then grey
    assert held_bottom - held_top < 0.8 * (head_bottom - head_top)  # smaller
    drawn = (out != GREY).any(axis=2)
    for x, y, w, h in boxes:  # the grey boxes of the faces found
        drawn[max(0, y - 4) : y + h + 5, max(0, x - 4) : x + w + 5] = False
    drawn[: held_bottom + 4] = False
    assert not drawn.any()  # nothing else: no label, no bars
    assert not any(has_color(out, (0, 0, width, height), EMOTION_COLORS[c], 5) for c in LABELS[:6])


# -- the bars: whole words, legible at every size ----------------------------------------


@pytest.mark.parametrize(
    ("size", "min_glyph_px"), [((320, 240), 9), ((640, 480), 9), ((1920, 1080), 18)]
)
def test_bar_labels_are_whole_words(size, min_glyph_px):
    width, height = size
    unit = max(1.0, height / 480)
    box = (round(60 * unit), round(60 * unit), round(100 * unit), round(100 * unit))
    out = draw_overlay(blank(width, height), result("ok", [face(box, "happy", others=0.0)]))
    block = out[:, box[0] + box[2] :]
    widths = {c: np.ptp(color_columns(block, EMOTION_COLORS[c])) for c in ("sad", "surprise")}
    assert widths["surprise"] > 2.2 * widths["sad"]  # "surprise" and "sad", not "sur"/"sad"
    sad = np.abs(block.astype(int) - EMOTION_COLORS["sad"]).max(axis=2) <= 12
    assert np.ptp(np.flatnonzero(sad.any(axis=1))) >= min_glyph_px  # "sad": d's full height


@pytest.mark.parametrize("size", [(640, 480), (1920, 1080)])
def test_bars_fit_the_longest_label_and_move_left_at_the_right_edge(size):
    width, height = size
    unit = height / 480
    labels = ["joy", "anticipation", "sad"]  # another model's labels: the longest decides
    box = (width - round(130 * unit), round(150 * unit), round(110 * unit), round(110 * unit))
    out = draw_overlay(blank(width, height), result("ok", [face(box, "joy", labels, 0.0)]))
    beside = out[box[1] :, : box[0] - round(6 * unit)]  # left of the (white) box
    drawn_x = np.flatnonzero((beside != GREY).any(axis=2).any(axis=0))
    assert drawn_x.size and drawn_x.min() > 0  # the bars, inside the frame
    sad_x = color_columns(beside, EMOTION_COLORS["sad"])
    white_x = color_columns(beside, (255, 255, 255))  # "joy"'s bar, "anticipation" (no colour)
    assert sad_x.size and white_x.max() < beside.shape[1] - 1  # whole, clear of the box
    assert np.ptp(white_x) > 5 * np.ptp(sad_x)  # bar and "anticipation" against "sad"
