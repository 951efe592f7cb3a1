"""`python -m convert train`: the original design's VGG19 on a train/valid/test folder dataset.

Images are scaled to 0..1 (the sidecar's `scale: 1/255, offset: 0`), augmented with
flips, small rotations and zooms, weighted against class imbalance, trained with early
stopping on valid/, and the best model is evaluated on test/ with the build report.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from convert.common import ConvertError, tensorflow
from convert.dataset import LabelledImages, list_classes, load_image, scan
from convert.report import metrics
from convert.vgg19 import build_vgg19

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    data: Path
    out: Path
    size: int = 150
    color: str = "rgb"  # rgb | grayscale
    epochs: int = 30
    batch: int = 32
    patience: int = 5
    learning_rate: float = 1e-4
    imagenet_weights: Path | None = None
    seed: int = 0


def _folder(options: TrainOptions, split: str) -> Path:
    folder = options.data / split
    if not folder.is_dir():
        raise ConvertError(
            f"{folder}: missing (the dataset needs train/, valid/ and test/, "
            "each with one sub-folder per class)"
        )
    return folder


def readable(images: LabelledImages) -> LabelledImages:
    """Only the images that decode; the others are counted in `skipped`, never fatal."""
    kept = [
        (p, lab)
        for p, lab in zip(images.paths, images.labels, strict=True)
        if load_image(p) is not None
    ]
    for path in sorted(set(images.paths) - {p for p, _ in kept}):
        log.warning("%s: unreadable image, skipped", path)
    return LabelledImages(
        [p for p, _ in kept],
        [lab for _, lab in kept],
        images.classes,
        skipped=len(images.paths) - len(kept),
    )


def model_input(path: Path, size: int, channels: int) -> np.ndarray:
    """An image as training sees it: RGB or gray, size x size, 0..1."""
    image = load_image(path)
    assert image is not None  # checked by readable()
    code = cv2.COLOR_BGR2GRAY if channels == 1 else cv2.COLOR_BGR2RGB
    resized = cv2.resize(cv2.cvtColor(image, code), (size, size), interpolation=cv2.INTER_AREA)
    return (resized.reshape(size, size, channels) / 255.0).astype(np.float32)


def class_weights(counts: dict[int, int]) -> dict[int, float]:
    """Inverse frequency, so rare classes (disgust) weigh as much as common ones (happy)."""
    total, classes = sum(counts.values()), len(counts)
    return {label: total / (classes * n) for label, n in counts.items() if n}


def train(options: TrainOptions) -> dict[str, Any]:
    tf = tensorflow()
    keras = tf.keras
    keras.utils.set_random_seed(options.seed)
    classes = list_classes(_folder(options, "train"))
    for split in ("valid", "test"):
        if list_classes(_folder(options, split)) != classes:
            raise ConvertError(
                f"{options.data / split}: its class folders differ from train/'s {classes}"
            )
    color_mode = "grayscale" if options.color == "grayscale" else "rgb"
    channels = 1 if color_mode == "grayscale" else 3
    splits = {
        split: readable(scan(_folder(options, split), classes))
        for split in ("train", "valid", "test")
    }
    skipped = {split: images.skipped for split, images in splits.items()}

    def dataset(split: str, shuffle: bool) -> Any:
        images = splits[split]

        def frames() -> Iterator[tuple[np.ndarray, int]]:
            order = (
                np.random.default_rng(options.seed).permutation(len(images.paths))
                if shuffle
                else range(len(images.paths))
            )
            for k in order:
                yield model_input(images.paths[k], options.size, channels), images.labels[k]

        spec = (
            tf.TensorSpec((options.size, options.size, channels), tf.float32),
            tf.TensorSpec((), tf.int32),
        )
        return (
            tf.data.Dataset.from_generator(frames, output_signature=spec)
            .batch(options.batch)
            .prefetch(2)
        )

    augment = keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal"),
            keras.layers.RandomRotation(0.05),
            keras.layers.RandomZoom(0.1),
        ]
    )
    train_data = dataset("train", True).map(lambda x, y: (augment(x, training=True), y))
    valid_data, test_data = dataset("valid", False), dataset("test", False)
    counts = Counter(splits["train"].labels)
    weights = class_weights({i: counts.get(i, 0) for i in range(len(classes))})

    model = build_vgg19(options.size, channels, len(classes), options.imagenet_weights)
    model.compile(
        optimizer=keras.optimizers.Adam(options.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    options.out.parent.mkdir(parents=True, exist_ok=True)
    history = model.fit(
        train_data,
        validation_data=valid_data,
        epochs=options.epochs,
        class_weight=weights,
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=options.patience, restore_best_weights=True
            ),
            keras.callbacks.ModelCheckpoint(
                str(options.out), monitor="val_loss", save_best_only=True
            ),
        ],
        verbose=1,
    )
    model.save(str(options.out))  # the best epoch's weights (restored by early stopping)
    truth = [int(y) for _, labels in test_data for y in labels.numpy()]
    predicted = [int(i) for i in np.argmax(model.predict(test_data, verbose=0), axis=1)]
    report = {
        "model": str(options.out),
        "classes": classes,
        "class_weights": {classes[i]: round(w, 4) for i, w in weights.items()},
        "epochs_run": len(history.history["loss"]),
        "skipped_images": skipped,
        "best_val_loss": round(float(min(history.history["val_loss"])), 4),
        "test": metrics(truth, predicted, classes),
        "input": {
            "size": options.size,
            "color_mode": color_mode,
            "normalization": {"scale": 1 / 255, "offset": 0.0},
        },
    }
    report_path = options.out.with_suffix(".train.json")
    report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report
