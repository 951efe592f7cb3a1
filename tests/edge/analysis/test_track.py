"""Classify only when needed: identity by overlap, reuse while unchanged."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from edge.analysis.geometry import box_iou
from edge.analysis.track import FaceTracks, thumbnail
from edge.config.analysis import ReuseConfig
from edge.types import Frame


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
        ((0, 0, 10, 10), (5, 0, 10, 10), 50 / 150),
        ((0, 0, 10, 10), (20, 20, 5, 5), 0.0),
    ],
)
def test_iou(a, b, expected):  # what a track is matched by
    assert box_iou(a, b) == pytest.approx(expected)


PROBS = np.array([0.1, 0.9])
BOX = (100, 100, 80, 80)


@pytest.fixture()
def tracks_with_one_face():
    tracks = FaceTracks(ReuseConfig(enabled=True, max_age_s=1.0, max_move=0.1, max_change=6.0))
    thumb = np.full((16, 16), 100, np.int16)
    tracks.update(None, BOX, PROBS, now_s=0.0, classified=((92, 92, 188, 188), thumb))
    return tracks, thumb


@pytest.mark.parametrize(
    ("box", "thumb_delta", "now_s", "reused"),
    [
        (BOX, 0, 0.5, True),  # same place, same pixels, fresh
        ((104, 102, 80, 80), 3, 0.5, True),  # jitter below the thresholds
        ((120, 100, 80, 80), 0, 0.5, False),  # moved 25% of its size
        ((100, 100, 100, 100), 0, 0.5, False),  # grew 25%
        # resized about the same centre, so only the size rule can tell
        ((90, 100, 100, 80), 0, 0.5, False),  # 25% wider, same height
        ((100, 90, 80, 100), 0, 0.5, False),  # 25% taller, same width
        ((100, 97, 80, 86), 0, 0.5, True),  # 7.5% taller: below max_move (10%)
        (BOX, 20, 0.5, False),  # expression changed
        (BOX, 0, 1.5, False),  # too old
    ],
)
def test_reuse_only_while_unchanged(tracks_with_one_face, box, thumb_delta, now_s, reused):
    tracks, thumb = tracks_with_one_face
    track = tracks.match(box)
    assert track is not None
    result = tracks.reusable(track, box, thumb + thumb_delta, now_s)
    assert (result is not None) is reused


def test_new_face_elsewhere_gets_no_scores_and_stale_tracks_go(tracks_with_one_face):
    tracks, _ = tracks_with_one_face
    assert tracks.match((400, 100, 80, 80)) is None
    tracks.forget_stale(now_s=5.0)
    assert tracks.tracks == []


def test_disabled_never_reuses(tracks_with_one_face):
    tracks, thumb = tracks_with_one_face
    tracks.cfg = ReuseConfig(enabled=False)
    assert tracks.reusable(tracks.match(BOX), BOX, thumb, 0.1) is None


def test_still_scene_calls_the_classifier_once_per_max_age(analyzer_for, astronaut_bgr):
    analyzer = analyzer_for(reuse={"enabled": True, "max_age_s": 1.0})
    start = time.monotonic()
    results = []
    for i in range(30):  # 30 frames of one still face over 1.5 s of capture time
        frame = Frame(i, astronaut_bgr, start + i * 0.05, time.time())
        results.append(analyzer.analyze(frame))
    assert analyzer.classifier_calls == 2  # at 0 s and once the scores were 1 s old
    assert all(r.faces[0].label == "happy" for r in results)
    assert sum(r.faces[0].reused for r in results) == 28
    assert results[1].timings.inference_ms == 0.0


def test_thumbnail_is_small_and_signed(astronaut_bgr):
    thumb = thumbnail(astronaut_bgr[80:180, 170:280])
    assert thumb.shape == (16, 16) and thumb.dtype == np.int16
    darker = thumbnail(cv2.convertScaleAbs(astronaut_bgr[80:180, 170:280], alpha=0.5))
    assert float(np.mean(np.abs(thumb - darker))) > 6.0


@pytest.mark.parametrize(
    ("setting", "multiply_adds", "wanted"),
    [
        ("auto", 140_000_000, False),  # the bundled compact VGG, mirror average on
        ("auto", 999_999_999, False),
        ("auto", 1_000_000_000, True),
        ("auto", 16_800_000_000, True),  # a VGG19 at 150 px, mirror average on
        ("auto", None, False),  # cost unknown: classify every face
        (True, 10, True),
        (False, 16_800_000_000, False),
    ],
)
def test_reuse_auto_is_decided_by_the_models_cost_alone(setting, multiply_adds, wanted):
    from edge.analysis.track import reuse_wanted

    assert reuse_wanted(setting, multiply_adds) is wanted


def test_the_multiply_adds_are_counted_from_the_graph(tmp_path):
    """A conv, a depthwise conv and a dense layer of known sizes, counted by hand."""
    import tensorflow as tf

    from convert.int8 import convert_float
    from edge.analysis.interpreter import load_interpreter
    from edge.analysis.model_cost import multiply_adds

    keras = tf.keras
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(8, 3, padding="same"),  # 16*16*8 outputs x 3*3*3
            keras.layers.DepthwiseConv2D(3, padding="valid"),  # 14*14*8 outputs x 3*3
            keras.layers.Flatten(),
            keras.layers.Dense(5),  # 5 outputs x 14*14*8
        ]
    )
    path = tmp_path / "m.tflite"
    path.write_bytes(convert_float(model))
    interpreter, _ = load_interpreter(path, 1)
    assert multiply_adds(interpreter) == 16 * 16 * 8 * 27 + 14 * 14 * 8 * 9 + 5 * 14 * 14 * 8


def test_reuse_auto_in_the_analyzer_is_off_for_the_default_model(analyzer_for, astronaut_bgr):
    analyzer = analyzer_for(reuse={"enabled": "auto"})
    for i in range(20):  # a still face at 15 fps: reuse would apply if it were on
        analyzer.analyze(Frame(i, astronaut_bgr, i / 15, 0.0))
    assert analyzer.classifier_calls == 20 and not analyzer.tracks.active


@pytest.mark.parametrize(
    ("setting", "multiply_adds", "said"),
    [
        (True, None, "on"),
        (False, 10**10, "off"),
        (
            "auto",
            140_000_000,
            "auto: off (the model needs 0.14 G multiply-adds a face; on from 1.0 G)",
        ),
        (
            "auto",
            16_760_000_000,
            "auto: on (the model needs 16.76 G multiply-adds a face; on from 1.0 G)",
        ),
        ("auto", None, "auto: off (the model's cost could not be counted)"),
    ],
)
def test_the_summary_says_what_reuse_does_and_why(setting, multiply_adds, said):
    from edge.analysis.track import reuse_state

    assert reuse_state(setting, multiply_adds) == said
