"""What every source hands on (edge.sources.base.as_bgr): three-channel BGR, whatever it read."""

from __future__ import annotations

import numpy as np

from edge.sources.base import as_bgr


def test_grey_becomes_three_equal_channels():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    bgr = as_bgr(grey)
    assert bgr.shape == (3, 4, 3)
    assert all(np.array_equal(bgr[:, :, c], grey) for c in range(3))


def test_bgra_loses_its_alpha_and_keeps_its_colours():
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[...] = (10, 20, 30, 0)  # fully transparent: the colour is kept all the same
    assert as_bgr(bgra).tolist() == [[[10, 20, 30]] * 2] * 2


def test_bgr_is_passed_on_untouched():
    bgr = np.full((2, 2, 3), 7, np.uint8)
    assert as_bgr(bgr) is bgr
