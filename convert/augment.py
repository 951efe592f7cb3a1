"""Training-time augmentation, stateless: a batch's changes follow from (seed, step) alone.

What a camera adds that FER's crops lack: a mirror image, a tilted head, a face framed a
little larger, smaller or off-centre, other light. Each batch's random draws come from its
global step number, so a run is the same however tf.data schedules its parallel calls, and
a resumed run draws what the uninterrupted one would have.
"""

from __future__ import annotations

import math
from typing import Any

MAX_TURN_RAD = math.radians(15)
MAX_ZOOM = 0.12  # +-12 % of the face's size
MAX_SHIFT = 0.08  # of the image's side
MAX_BRIGHTNESS = 0.2  # added to 0..1 pixels
MAX_CONTRAST = 0.25  # the spread around the image's mean scaled by 1 +- this


def augment_batch(tf: Any, images: Any, seed: Any) -> Any:
    """images: (B, H, W, C) float 0..1; seed: a (2,) int tensor, one per batch."""
    count = tf.shape(images)[0]
    height = tf.cast(tf.shape(images)[1], tf.float32)
    width = tf.cast(tf.shape(images)[2], tf.float32)
    seeds = tf.random.experimental.stateless_split(seed, num=6)

    def uniform(shape: Any, k: int, low: float, high: float) -> Any:
        return tf.random.stateless_uniform(shape, seeds[k], low, high)

    mirrored = uniform([count], 0, 0.0, 1.0) < 0.5
    images = tf.where(mirrored[:, None, None, None], tf.reverse(images, axis=[2]), images)
    turn = uniform([count], 1, -MAX_TURN_RAD, MAX_TURN_RAD)
    zoom = uniform([count], 2, 1.0 - MAX_ZOOM, 1.0 + MAX_ZOOM)
    shift = uniform([count, 2], 3, -MAX_SHIFT, MAX_SHIFT) * tf.stack([width, height])
    # output pixel -> input pixel: turned and scaled about the centre, then shifted
    cos, sin = tf.cos(turn) / zoom, tf.sin(turn) / zoom
    cx, cy = (width - 1) / 2, (height - 1) / 2
    transforms = tf.stack(
        [
            cos,
            -sin,
            cx - cos * cx + sin * cy + shift[:, 0],
            sin,
            cos,
            cy - sin * cx - cos * cy + shift[:, 1],
            tf.zeros_like(cos),
            tf.zeros_like(cos),
        ],
        axis=1,
    )
    images = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    contrast = uniform([count, 1, 1, 1], 4, 1.0 - MAX_CONTRAST, 1.0 + MAX_CONTRAST)
    brightness = uniform([count, 1, 1, 1], 5, -MAX_BRIGHTNESS, MAX_BRIGHTNESS)
    return tf.clip_by_value((images - mean) * contrast + mean + brightness, 0.0, 1.0)
