"""Our BlazeFace: each post-processing step by hand, then the real models on real photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.analysis.blazeface import (
    SPECS,
    BlazeFaceDetector,
    decode,
    letterbox,
    ssd_anchors,
    to_detection,
    weighted_nms,
)
from edge.analysis.geometry import iou
from edge.config import DetectorConfig
from edge.errors import ModelError
from tests.reference.make_blazeface_reference import reference_images

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    """astronaut (one face), two_faces (composite), coffee (none), as BGR."""
    return {n: cv2.cvtColor(im, cv2.COLOR_RGB2BGR) for n, im in reference_images(with_demo=False)}


@pytest.mark.parametrize(
    ("size", "count", "first", "last", "index", "at_index"),
    [
        # short range: 16x16 cells x 2 anchors, then one 8x8 grid x 6 for the three stride-16 layers
        (128, 896, (1 / 32, 1 / 32), (15 / 16, 15 / 16), 512, (1 / 16, 1 / 16)),
        # full range: 48x48 cells x 1 anchor
        (192, 2304, (1 / 96, 1 / 96), (95 / 96, 95 / 96), 49, (3 / 96, 3 / 96)),
    ],
)
def test_anchors(size, count, first, last, index, at_index):
    anchors = ssd_anchors(SPECS[size])
    assert anchors.shape == (count, 2) and SPECS[size].num_anchors == count
    np.testing.assert_allclose(anchors[0], first)
    np.testing.assert_allclose(anchors[-1], last)
    np.testing.assert_allclose(anchors[index], at_index)
    if size == 128:  # the two anchors of a cell share its centre; x runs fastest
        np.testing.assert_allclose(anchors[1], first)
        np.testing.assert_allclose(anchors[2], (3 / 32, 1 / 32))


@pytest.mark.parametrize(
    ("size_wh", "input_size", "scale", "pad"),
    [
        ((640, 480), 128, 0.2, (0, 16)),
        ((480, 640), 192, 0.3, (24, 0)),
        ((512, 512), 128, 0.25, (0, 0)),
        ((1920, 1080), 192, 0.1, (0, 42)),
    ],
)
def test_letterbox_round_trip(size_wh, input_size, scale, pad):
    lb = letterbox(size_wh, input_size)
    assert lb.scale == pytest.approx(scale) and (lb.pad_x, lb.pad_y) == pytest.approx(pad)
    w, h = size_wh
    frame_pts = np.array([[0, 0], [w, h], [w / 2, h / 2], [w * 0.3, h * 0.8]], np.float64)
    input_pts = frame_pts @ lb.affine()[:, :2].T + lb.affine()[:, 2]
    np.testing.assert_allclose(input_pts[2], (input_size / 2, input_size / 2))  # centred
    assert input_pts.min() >= 0 and input_pts.max() == pytest.approx(input_size)
    np.testing.assert_allclose(lb.to_frame(input_pts / input_size), frame_pts, atol=1e-9)


def test_decode_a_hand_made_tensor():
    spec = SPECS[128]
    anchors = ssd_anchors(spec)
    raw = np.zeros((spec.num_anchors, 16), np.float32)
    logits = np.full(spec.num_anchors, -1000.0, np.float32)  # clipped to -100: score 0
    i = 100  # anchor at x = (100 // 2 % 16 + 0.5) / 16, y = (100 // 32 + 0.5) / 16
    ax, ay = anchors[i]
    raw[i, :4] = [12.8, -6.4, 32.0, 64.0]  # dx, dy, w, h in input pixels (x first: reversed)
    raw[i, 4:] = np.arange(12, dtype=np.float32) * 1.28  # keypoint k at (2k, 2k+1) * 0.01
    logits[i] = 2.0
    logits[200] = 1000.0  # clipped to +100, but its box has a negative width: dropped
    raw[200, 2] = -5.0
    logits[300] = 0.0  # score 0.5: kept at min_score 0.5, not at 0.51
    boxes, kps, scores = decode(raw, logits[:, None], anchors, 128, 0.5)
    assert len(boxes) == 2
    np.testing.assert_allclose(boxes[0], [ax + 0.1 - 0.125, ay - 0.05 - 0.25, ax + 0.225, ay + 0.2])
    np.testing.assert_allclose(kps[0, 2], [ax + 0.04, ay + 0.05], atol=1e-6)
    np.testing.assert_allclose(scores, [1 / (1 + np.exp(-2.0)), 0.5], rtol=1e-6)
    assert len(decode(raw, logits[:, None], anchors, 128, 0.51)[0]) == 1


def test_weighted_nms_merges_overlaps_and_keeps_a_separate_box():
    boxes = np.array(
        [[0.10, 0.10, 0.30, 0.30], [0.12, 0.12, 0.32, 0.32], [0.60, 0.60, 0.80, 0.80]],
        np.float32,
    )
    kps = np.stack([np.full((6, 2), v, np.float32) for v in (0.2, 0.3, 0.7)])
    scores = np.array([0.6, 0.9, 0.8], np.float32)
    assert iou(boxes[1], boxes[:2]) == pytest.approx([0.6807, 1.0], abs=1e-4)
    merged = weighted_nms(boxes, kps, scores, 0.3)
    assert [round(m[2], 4) for m in merged] == [0.9, 0.8]  # best first, its own score
    np.testing.assert_allclose(merged[0][0], (0.6 * boxes[0] + 0.9 * boxes[1]) / 1.5, rtol=1e-6)
    np.testing.assert_allclose(merged[0][1], np.full((6, 2), (0.6 * 0.2 + 0.9 * 0.3) / 1.5))
    np.testing.assert_allclose(merged[1][0], boxes[2])
    # above the threshold nothing merges
    assert len(weighted_nms(boxes, kps, scores, 0.7)) == 3


def test_to_detection_truncates_like_mediapipe_and_clamps():
    lb = letterbox((512, 256), 128)  # 0..1 of the input = 0..512 x -128..384 of the frame
    kps = np.zeros((6, 2), np.float32)
    cases = [
        ([0.125, 0.375, 0.25, 0.625], (64, 64, 64, 128)),
        ([0.1, 0.375, 0.2, 0.625], (51, 64, 51, 128)),  # x 51.2, width 51.2: both truncated
        ([0.9375, 0.5, 1.0625, 0.625], (480, 128, 32, 64)),  # clipped on the right
        ([-0.0625, 0.5, 0.0625, 0.625], (0, 128, 32, 64)),  # and on the left
        ([0.0, 0.0, 0.1, 0.2], None),  # above the frame: in the letterbox border
    ]
    for box, expected in cases:
        face = to_detection(np.array(box), kps, 0.9, lb, (512, 256))
        assert (face.box_xywh if face else None) == expected, box
    face = to_detection(np.array(cases[0][0]), kps + 0.5, 0.9, lb, (512, 256))
    assert face is not None and face.score == 0.9
    assert face.keypoints_xy == ((256.0, 128.0),) * 6


@pytest.fixture(scope="module", params=["short_range", "full_range"])
def detector(request):
    det = BlazeFaceDetector(DetectorConfig(model=request.param), threads=2)
    yield det
    det.close()


def test_one_face_with_its_keypoints(detector, photos):
    faces = detector.detect(photos["astronaut"])
    assert len(faces) == 1
    x, y, w, h = faces[0].box_xywh
    assert abs(x + w / 2 - 224) < 12 and abs(y + h / 2 - 124) < 15 and 85 < w < 115
    assert 0.85 < faces[0].score <= 1.0
    right_eye, left_eye, nose, mouth, right_ear, left_ear = faces[0].keypoints_xy
    assert (
        right_ear[0] < right_eye[0] < nose[0] < left_eye[0] < left_ear[0]
    )  # her right: image left
    assert max(right_eye[1], left_eye[1]) < nose[1] < mouth[1]
    assert all(x <= px <= x + w and y <= py <= y + h for px, py in (right_eye, left_eye, mouth))


def test_two_faces_and_no_face(detector, photos):
    two = detector.detect(photos["two_faces"])
    assert len(two) == 2
    assert sorted(f.box_xywh[0] < 320 for f in two) == [False, True]  # one in each half
    assert two[0].score >= two[1].score
    assert detector.detect(photos["coffee"]) == []


def test_input_buffer_is_reused_and_results_repeat(detector, photos):
    buffer = detector._input
    first = detector.detect(photos["two_faces"])
    assert detector.detect(photos["two_faces"]) == first
    assert detector._input is buffer


def test_max_width_scales_the_frame_first(photos):
    big = cv2.resize(photos["astronaut"], (1024, 1024))
    det = BlazeFaceDetector(DetectorConfig(max_width_px=256))
    (face,) = det.detect(big)
    x, y, w, h = face.box_xywh
    assert abs(x + w / 2 - 448) < 24 and abs(y + h / 2 - 248) < 30
    det.close()
    with pytest.raises(RuntimeError, match="after close"):
        det.detect(big)


def test_missing_corrupt_and_wrong_models_are_model_errors(tmp_path: Path):
    with pytest.raises(ModelError, match=r"absent.tflite: face detector model not found"):
        BlazeFaceDetector(DetectorConfig(model_path=str(tmp_path / "absent.tflite")))
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelError, match=r"bad.tflite: not a valid TFLite model"):
        BlazeFaceDetector(DetectorConfig(model_path=str(bad)))
    classifier = ROOT / "models" / "emotion_ferplus_vgg_compact_int8.tflite"
    with pytest.raises(ModelError, match=r"int8.tflite: not a BlazeFace face detector"):
        BlazeFaceDetector(DetectorConfig(model_path=str(classifier)))
