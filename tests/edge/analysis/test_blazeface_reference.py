"""Our BlazeFace against what MediaPipe 1.2.3 itself finds on the same images.

The reference (tests/reference/blazeface_mediapipe.json) is rebuilt by
tests/reference/make_blazeface_reference.py in a throwaway venv with mediapipe installed; this
test needs neither mediapipe nor the network. MediaPipe gives integer boxes (truncated, as ours
are), so boxes are compared by IoU.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.analysis.blazeface import BlazeFaceDetector
from edge.config import DetectorConfig
from edge.types import Detection
from tests.reference.make_blazeface_reference import reference_images

REFERENCE = Path(__file__).resolve().parents[2] / "reference" / "blazeface_mediapipe.json"
MIN_IOU = 0.9
MAX_KEYPOINT_PX = 2.0
MAX_SCORE_DIFF = 0.02


def box_iou(a: tuple[int, ...] | list[int], b: tuple[int, ...] | list[int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def differences(
    ours: list[Detection], theirs: list[dict[str, Any]]
) -> list[tuple[float, float, float]]:
    """Per MediaPipe face: (IoU, worst keypoint distance px, |score diff|) to its best match."""
    left = list(ours)
    rows = []
    for face in sorted(theirs, key=lambda f: -f["score"]):
        match = max(left, key=lambda d: box_iou(d.box_xywh, face["box"]))
        left.remove(match)
        kp = np.linalg.norm(np.array(match.keypoints_xy) - np.array(face["keypoints"]), axis=1)
        rows.append(
            (
                box_iou(match.box_xywh, face["box"]),
                float(kp.max()),
                abs(match.score - face["score"]),
            )
        )
    return rows


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return json.loads(REFERENCE.read_text())


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    return {name: cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) for name, rgb in reference_images()}


def test_reference_covers_every_image(reference, images):
    assert reference["mediapipe"] == "1.2.3"
    for per_image in reference["models"].values():
        assert list(per_image) == list(images)
        assert len(images) == 3 + 105  # three photos and every frame of the demo clip


@pytest.mark.parametrize("model", ["short_range", "full_range"])
def test_same_detections_as_mediapipe(model, reference, images):
    cfg = DetectorConfig(
        model=model,
        min_score=reference["min_score"],
        min_suppression=reference["min_suppression"],
    )
    detector = BlazeFaceDetector(cfg, threads=2)
    worst = [1.0, 0.0, 0.0]
    problems = []
    for name, expected in reference["models"][model].items():
        found = detector.detect(images[name])
        if len(found) != len(expected):
            problems.append(f"{name}: {len(found)} faces, MediaPipe {len(expected)}")
            continue
        for iou, kp_px, score_diff in differences(found, expected):
            worst = [min(worst[0], iou), max(worst[1], kp_px), max(worst[2], score_diff)]
            if iou < MIN_IOU or kp_px > MAX_KEYPOINT_PX or score_diff > MAX_SCORE_DIFF:
                problems.append(
                    f"{name}: IoU {iou:.3f}, keypoints {kp_px:.2f} px, score {score_diff:.4f}"
                )
    detector.close()
    print(f"{model}: worst IoU {worst[0]:.4f}, keypoint {worst[1]:.3f} px, score {worst[2]:.4f}")
    assert problems == []
