from __future__ import annotations

import numpy as np
import pytest

from edge.analysis.model_meta import ModelMeta
from edge.analysis.preprocess import (
    crop_with_margin,
    dequantize,
    normalize,
    quantize,
    softmax,
    to_model_pixels,
)


def meta(color_mode: str, size=(4, 6), scale=1.0, offset=0.0) -> ModelMeta:
    return ModelMeta.model_validate(
        {
            "schema": "emotion-edge.model/1",
            "name": "t",
            "labels": ["a", "b"],
            "input_size_hw": [max(size[0], 8), max(size[1], 8)],
            "color_mode": color_mode,
            "normalization": {"scale": scale, "offset": offset},
        }
    )


@pytest.mark.parametrize(
    ("box", "margin", "frame_wh", "expected"),
    [
        ((100, 100, 50, 40), 0.0, (640, 480), (100, 100, 150, 140)),
        ((100, 100, 50, 40), 0.2, (640, 480), (90, 92, 160, 148)),
        ((0, 0, 50, 50), 0.5, (640, 480), (0, 0, 75, 75)),  # clamped at the top-left
        ((600, 450, 50, 50), 0.1, (640, 480), (595, 445, 640, 480)),  # and bottom-right
    ],
)
def test_crop_margin_is_clamped_to_frame(box, margin, frame_wh, expected):
    assert crop_with_margin(box, margin, frame_wh) == expected


def test_crop_outside_frame_is_an_error():
    with pytest.raises(ValueError, match=r"lies outside the 640x480 frame"):
        crop_with_margin((700, 10, 20, 20), 0.0, (640, 480))


def test_bgr_to_rgb_channel_order():
    blue_bgr = np.zeros((20, 20, 3), np.uint8)
    blue_bgr[..., 0] = 255
    rgb = to_model_pixels(blue_bgr, meta("rgb"))
    assert rgb.shape == (8, 8, 3)
    assert rgb[..., 2].min() == 255 and rgb[..., 0].max() == 0
    bgr = to_model_pixels(blue_bgr, meta("bgr"))
    assert bgr[..., 0].min() == 255


def test_grayscale_has_one_channel_and_luma_weights():
    green = np.zeros((20, 20, 3), np.uint8)
    green[..., 1] = 200
    gray = to_model_pixels(green, meta("grayscale"))
    assert gray.shape == (8, 8, 1)
    assert gray[0, 0, 0] == pytest.approx(200 * 0.587, abs=1.0)


def test_normalize_scalar_and_per_channel():
    pixels = np.full((2, 2, 3), 255.0, np.float32)
    assert normalize(pixels, meta("rgb", scale=2 / 255, offset=-1.0)).max() == pytest.approx(1.0)
    per_channel = meta("rgb", scale=[1.0, 1.0, 1.0], offset=[-100.0, -110.0, -120.0])
    assert normalize(pixels, per_channel)[0, 0].tolist() == [155.0, 145.0, 135.0]


@pytest.mark.parametrize(
    ("dtype", "scale", "zero"),
    [(np.int8, 2 / 255, 0), (np.int8, 1 / 128, -1), (np.uint8, 1 / 255, 0), (np.uint8, 0.05, 128)],
)
def test_quantize_round_trip_within_half_a_step(dtype, scale, zero):
    info = np.iinfo(dtype)
    values = np.linspace((info.min - zero) * scale, (info.max - zero) * scale, 101)
    q = quantize(values, scale, zero, np.dtype(dtype))
    assert q.dtype == dtype
    assert np.abs(dequantize(q, scale, zero) - values).max() <= scale / 2 + 1e-6


def test_quantize_saturates_instead_of_wrapping():
    q = quantize(np.array([-1000.0, 1000.0]), 0.01, 0, np.dtype(np.int8))
    assert q.tolist() == [-128, 127]


def test_softmax_sums_to_one_and_keeps_order():
    probs = softmax(np.array([1.0, 3.0, 2.0], np.float32))
    assert probs.sum() == pytest.approx(1.0)
    assert int(np.argmax(probs)) == 1
