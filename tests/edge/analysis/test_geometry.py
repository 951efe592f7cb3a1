"""Box geometry (edge/analysis/geometry.py): the one clipping rule and the one overlap measure."""

import numpy as np
import pytest

from edge.analysis.geometry import box_iou, clamp_box, clip_xyxy, iou, region_in_frame


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ((10, 20, 30, 40), (10, 20, 30, 40)),  # inside: unchanged
        ((-5, -5, 20, 20), (0, 0, 15, 15)),  # over the top-left corner
        ((90, 70, 30, 40), (90, 70, 10, 10)),  # over the bottom-right corner
        ((150, 10, 20, 20), (150, 10, 0, 20)),  # right of the frame: no width left
        ((10, -50, 20, 20), (10, 0, 20, 0)),  # above the frame: no height left
    ],
)
def test_clamp_box_clips_to_a_100x80_frame(box, expected):
    assert clamp_box(box, (100, 80)) == expected


def test_clip_never_gives_a_negative_size():
    x0, y0, x1, y1 = clip_xyxy((200, 200, 250, 260), (100, 80))
    assert x1 >= x0 and y1 >= y0 and (x1 - x0) * (y1 - y0) == 0


def test_a_region_outside_the_frame_is_refused_naming_the_face():
    with pytest.raises(ValueError, match=r"face box \(150, 10, 20, 20\) lies outside the 100x80"):
        region_in_frame((150, 10, 170, 30), (100, 80), (150, 10, 20, 20))
    assert region_in_frame((-3, 5, 40, 90), (100, 80), (0, 5, 37, 75)) == (0, 5, 40, 80)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
        ((0, 0, 10, 10), (5, 0, 10, 10), 50 / 150),
        ((0, 0, 10, 10), (20, 20, 5, 5), 0.0),
        ((0, 0, 0, 0), (0, 0, 0, 0), 0.0),  # empty boxes: no overlap, no division by zero
    ],
)
def test_box_iou(a, b, expected):
    assert box_iou(a, b) == pytest.approx(expected)
    assert box_iou(b, a) == pytest.approx(expected)


def test_the_vectorised_iou_agrees_with_the_pairwise_one():
    rng = np.random.default_rng(3)
    for _ in range(50):
        a, b = (tuple(int(v) for v in rng.integers(0, 50, 2)) for _ in range(2))
        wa, wb = (tuple(int(v) for v in rng.integers(1, 30, 2)) for _ in range(2))
        box_a, box_b = (*a, *wa), (*b, *wb)
        corners = np.array([b[0], b[1], b[0] + wb[0], b[1] + wb[1]])
        many = iou(np.array([a[0], a[1], a[0] + wa[0], a[1] + wa[1]]), corners[None])
        assert many[0] == pytest.approx(box_iou(box_a, box_b))
