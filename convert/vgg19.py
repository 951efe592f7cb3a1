"""The original design's classifier: VGG19 at 150x150 with a 7-class head.

`build_vgg19` makes the Keras model (ImageNet weights only from a local file: nothing
is downloaded). `random_vgg19_int8` converts one with random weights, for measuring
what the original design costs on a device; its outputs mean nothing and its sidecar
says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from convert.common import ConvertError, tensorflow
from convert.int8 import convert_float, convert_int8, write_model
from edge.analysis.model_meta import SCHEMA

ALPHABETICAL_LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def build_vgg19(
    size: int = 150, channels: int = 3, classes: int = 7, imagenet_weights: Path | None = None
) -> Any:
    tf = tensorflow()
    keras = tf.keras
    if imagenet_weights is not None and not imagenet_weights.is_file():
        raise ConvertError(f"{imagenet_weights}: ImageNet weights file not found")
    if imagenet_weights is not None and channels != 3:
        raise ConvertError("ImageNet weights need 3 input channels; use --color rgb")
    base = keras.applications.VGG19(
        include_top=False,
        weights=str(imagenet_weights) if imagenet_weights else None,
        input_shape=(size, size, channels),
    )
    inputs = keras.Input((size, size, channels))
    features = keras.layers.GlobalAveragePooling2D()(base(inputs))
    features = keras.layers.Dropout(0.3)(features)
    outputs = keras.layers.Dense(classes, activation="softmax")(features)
    return keras.Model(inputs, outputs, name="vgg19_emotion")


def random_vgg19_int8(out: Path, size: int = 150, seed: int = 0) -> Path:
    """A VGG19-150 with random weights as int8 (and its float twin), for speed figures only."""
    tf = tensorflow()
    tf.keras.utils.set_random_seed(seed)
    model = build_vgg19(size)
    rng = np.random.default_rng(seed)

    def calibration() -> Iterator[np.ndarray]:
        for _ in range(16):
            yield rng.uniform(0.0, 1.0, (1, size, size, 3)).astype(np.float32)

    sidecar = {
        "schema": SCHEMA,
        "name": f"vgg19-{size}-random-int8",
        "labels": ALPHABETICAL_LABELS,
        "input_size_hw": [size, size],
        "color_mode": "rgb",
        "normalization": {"scale": 1 / 255, "offset": 0.0},
        "output": "probabilities",
        "note": "RANDOM WEIGHTS: for speed measurements only; its emotions mean nothing",
    }
    write_model(out, convert_int8(model, calibration, "int8"), sidecar)
    float_out = out.with_name(out.stem.replace("int8", "float32") + ".tflite")
    write_model(float_out, convert_float(model), {**sidecar, "name": f"vgg19-{size}-random-f32"})
    return out
