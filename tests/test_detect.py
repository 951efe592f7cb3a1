"""The real MediaPipe BlazeFace on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.config import DetectorConfig
from edge.detect import MediaPipeFaceDetector, clamp_box, detector_model_path
from edge.errors import ModelError
from tests.conftest import ASTRONAUT_FACE_XYWH


@pytest.fixture(scope="module", params=["short_range", "full_range"])
def detector(request):
    det = MediaPipeFaceDetector(DetectorConfig(model=request.param))
    yield det
    det.close()


def test_one_face_found_where_it_is(detector, astronaut_bgr):
    faces = detector.detect(astronaut_bgr, 1000)
    assert len(faces) == 1
    x, y, w, h = faces[0].box_xywh
    ex, ey, ew, eh = ASTRONAUT_FACE_XYWH
    assert abs(x + w / 2 - (ex + ew / 2)) < 20 and abs(y + h / 2 - (ey + eh / 2)) < 25
    assert 0.5 < faces[0].score <= 1.0


def test_two_faces_and_no_face(detector, two_faces_bgr, no_face_bgr):
    two = detector.detect(two_faces_bgr, 2000)
    assert len(two) == 2
    assert sorted(f.box_xywh[0] < 320 for f in two) == [False, True]  # one in each half
    assert detector.detect(no_face_bgr, 3000) == []


def test_timestamps_that_do_not_rise_are_accepted(detector, astronaut_bgr):
    # VIDEO mode rejects a timestamp that does not increase; clocks and tests repeat them.
    for ts in (5000, 5000, 4000):
        assert len(detector.detect(astronaut_bgr, ts)) == 1


def test_box_is_clamped_to_frame():
    assert clamp_box(-10, -5, 50, 40, (100, 100)) == (0, 0, 40, 35)
    assert clamp_box(90, 90, 50, 50, (100, 100)) == (90, 90, 10, 10)
    assert clamp_box(200, 0, 10, 10, (100, 100))[2] == 0


def test_missing_detector_model_names_the_fix(tmp_path: Path):
    with pytest.raises(ModelError, match=r"absent.tflite: face detector model not found \(run"):
        detector_model_path(DetectorConfig(model_path=str(tmp_path / "absent.tflite")))


def test_corrupt_detector_model_is_a_model_error(tmp_path: Path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelError, match=r"bad.tflite: not a usable BlazeFace model"):
        MediaPipeFaceDetector(DetectorConfig(model_path=str(bad)))


def test_downscaled_detection_reports_boxes_in_full_frame_pixels(astronaut_bgr):
    import cv2

    big = cv2.resize(astronaut_bgr, (1920, 1080))
    boxes = {}
    for max_width in (None, 640):
        det = MediaPipeFaceDetector(DetectorConfig(max_width_px=max_width))
        try:
            found = det.detect(big, 1000)
        finally:
            det.close()
        assert len(found) == 1
        boxes[max_width] = found[0].box_xywh
    full, small = boxes[None], boxes[640]
    assert all(abs(a - b) <= 0.1 * full[2] for a, b in zip(full, small, strict=True)), boxes
