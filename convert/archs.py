"""The networks `convert train --arch` can build, by name.

`vgg-compact`: the VGG recipe (blocks of 3x3 convolutions, each followed by batch norm and
ReLU, a 2x2 max pool and dropout per block) at the small widths a Pi 4 runs in a few
milliseconds and two CPU cores train in under an hour on FER+. `vgg19`: the original design,
150x150 RGB (convert/vgg19.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convert.common import ConvertError, tensorflow
from convert.vgg19 import build_vgg19


@dataclass(frozen=True)
class Arch:
    size: int
    color: str  # rgb | grayscale
    learning_rate: float  # VGG19 has no batch norm: from scratch it needs a gentler rate
    what: str


ARCHS = {
    "vgg-compact": Arch(
        48, "grayscale", 1e-3, "VGG-style, 4 blocks of two 3x3 convs (24-48-96-192)"
    ),
    "vgg19": Arch(150, "rgb", 1e-4, "Keras VGG19 with a 7-class head (the original design)"),
}
COMPACT_BLOCKS = ((24, 2), (48, 2), (96, 2), (192, 2))  # (width, convolutions) per block


def build(
    arch: str,
    size: int,
    channels: int,
    classes: int,
    imagenet_weights: Path | None = None,
) -> Any:
    if arch == "vgg19":
        return build_vgg19(size, channels, classes, imagenet_weights)
    if arch != "vgg-compact":
        raise ConvertError(f"--arch {arch}: unknown (choose from {', '.join(ARCHS)})")
    return build_vgg_compact(size, channels, classes)


def build_vgg_compact(
    size: int, channels: int, classes: int, blocks: tuple[tuple[int, int], ...] = COMPACT_BLOCKS
) -> Any:
    keras = tensorflow().keras
    layers = keras.layers
    if size < 2 ** len(blocks):
        raise ConvertError(f"--size {size}: too small for {len(blocks)} pooling blocks")
    inputs = keras.Input((size, size, channels))
    x = inputs
    for index, (width, convolutions) in enumerate(blocks):
        for _ in range(convolutions):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(0.1 + 0.05 * index)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(0.4)(x)
    # float32 even under mixed precision, so the softmax is computed exactly
    outputs = layers.Dense(classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="vgg_compact")
