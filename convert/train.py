"""`python -m convert train`: an emotion classifier from FER+ or class folders, on a PC.

Images are decoded once (convert/trainset.py) and augmented in tf.data on every core;
targets are FER+'s vote distributions (or one-hot for class folders), trained with
cross-entropy, AdamW and a cosine learning rate. Each epoch writes the last state (for
`--resume`) and, when validation accuracy improved, the best model; Ctrl-C stops after
what was written, and the best model is what is evaluated on the test split at the end.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from convert import archs, runstate
from convert.augment import augment_batch
from convert.common import ConvertError, tensorflow, write_output
from convert.curve import write_curve
from convert.report import metrics
from convert.runstate import files_for
from convert.trainset import Dataset, Split, layout_of, load

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    data: Path
    out: Path
    arch: str = "vgg-compact"
    size: int | None = None  # None: the arch's own
    color: str | None = None  # rgb | grayscale; None: the arch's own
    epochs: int = 30
    batch: int = 64
    patience: int = 8
    learning_rate: float | None = None  # None: the arch's own
    imagenet_weights: Path | None = None
    seed: int = 0
    limit: int | None = None  # at most this many faces per split (quick runs, tests)
    resume: bool = False
    cache: Path | None = None

    def input_size(self) -> int:
        return self.size or archs.ARCHS[self.arch].size

    def peak_learning_rate(self) -> float:
        return self.learning_rate or archs.ARCHS[self.arch].learning_rate

    def channels(self) -> int:
        return 1 if (self.color or archs.ARCHS[self.arch].color) == "grayscale" else 3


def limited(split: Split, limit: int | None, seed: int) -> Split:
    if limit is None or limit >= len(split.images):
        return split
    keep = np.sort(np.random.default_rng(seed).permutation(len(split.images))[:limit])
    return Split(split.images[keep], split.targets[keep], split.scored[keep], split.skipped)


def pipelines(
    tf: Any, data: Dataset, options: TrainOptions, first_epoch: int
) -> tuple[Any, Any, int]:
    """The training batches of epochs first_epoch.. (each epoch its own seeded order, each
    batch augmented from its step number), the validation batches, and steps per epoch."""
    train, valid = data.splits["train"], data.splits["valid"]
    count = len(train.images)
    steps = math.ceil(count / options.batch)
    images, targets = tf.constant(train.images), tf.constant(train.targets)
    seed = tf.constant(options.seed, tf.int64)

    def epoch_order(epoch: Any) -> Any:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([seed, epoch])
        )
        return tf.data.Dataset.from_tensor_slices(order).batch(options.batch)

    def batch_of(step: Any, rows: Any) -> tuple[Any, Any]:
        pixels = tf.cast(tf.gather(images, rows), tf.float32) / 255.0
        augmented = augment_batch(tf, pixels, tf.stack([seed + 1, step]))
        return augmented, tf.gather(targets, rows)

    train_data = (
        tf.data.Dataset.range(first_epoch, options.epochs)
        .flat_map(epoch_order)
        .enumerate(start=first_epoch * steps)
        .map(batch_of, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    # validation scores what the figures score: faces with a strict majority, one-hot
    onehot = np.eye(len(data.classes), dtype=np.float32)[valid.scored_labels]
    valid_data = (
        tf.data.Dataset.from_tensor_slices((valid.scored_images, onehot))
        .batch(256)
        .map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y))
        .prefetch(tf.data.AUTOTUNE)
    )
    return train_data, valid_data, steps


def compiled_model(tf: Any, options: TrainOptions, classes: int, steps: int) -> Any:
    keras = tf.keras
    if tf.config.list_physical_devices("GPU"):
        keras.mixed_precision.set_global_policy("mixed_float16")
    model = archs.build(
        options.arch, options.input_size(), options.channels(), classes, options.imagenet_weights
    )
    schedule = keras.optimizers.schedules.CosineDecay(
        options.peak_learning_rate(), decay_steps=max(1, steps * options.epochs), alpha=0.02
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
        loss="categorical_crossentropy",
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    return model


def run_report(
    options: TrainOptions,
    data: Dataset,
    progress: Any,
    files: dict[str, Path],
    interrupted: bool,
) -> dict[str, Any]:
    """What train.json says of a run, less the test figures (added when it ran to its end)."""
    history = progress.state["history"]
    return {
        "model": str(files["best"]),
        "arch": options.arch,
        "layout": data.layout,
        "classes": data.classes,
        "seed": options.seed,
        "faces": {name: len(split.images) for name, split in data.splits.items()},
        "scored_faces": {name: len(split.scored_labels) for name, split in data.splits.items()},
        "skipped_images": {name: split.skipped for name, split in data.splits.items()},
        "epochs_run": len(history),
        "interrupted": interrupted,
        "best_epoch": progress.best_epoch(),
        "best_val_accuracy": round(progress.best_accuracy(), 4),
        "train_seconds": round(sum(row["seconds"] for row in history), 1),
        "input": {
            "size": options.input_size(),
            "color_mode": "grayscale" if options.channels() == 1 else "rgb",
            "normalization": {"scale": 1 / 255, "offset": 0.0},
        },
        "files": {name: str(path) for name, path in files.items()},
    }


def check_options(options: TrainOptions) -> None:
    if options.arch not in archs.ARCHS:
        raise ConvertError(f"--arch {options.arch}: unknown (choose from {', '.join(archs.ARCHS)})")
    if options.out.suffix != ".keras":
        raise ConvertError(f"--out {options.out}: give a .keras file (Keras's own format)")
    if options.arch != "vgg19" and options.imagenet_weights is not None:
        raise ConvertError("--imagenet-weights is for --arch vgg19 only")
    layout_of(options.data)  # a wrong folder is one line before anything is written


def training_data(options: TrainOptions) -> Dataset:
    """The decoded splits at the model's input size, each cut to --limit faces."""
    full = load(options.data, options.input_size(), options.channels(), options.cache)
    data = Dataset(
        full.layout,
        full.classes,
        {
            name: limited(split, options.limit, options.seed + k)
            for k, (name, split) in enumerate(full.splits.items())
        },
    )
    if not len(data.splits["valid"].scored_labels):
        raise ConvertError(f"{options.data}: its validation split has no scored faces")
    return data


def fit(
    model: Any,
    keras: Any,
    options: TrainOptions,
    progress: Any,
    first_epoch: int,
    batches: tuple[Any, Any, int],
) -> bool:
    """Train to --epochs or an early stop; True when Ctrl-C interrupted it."""
    train_data, valid_data, steps = batches
    try:
        if len(progress.state["history"]) < options.epochs and not progress.stop_early():
            model.fit(
                train_data,
                validation_data=valid_data,
                epochs=options.epochs,
                initial_epoch=first_epoch,
                steps_per_epoch=steps,
                callbacks=[progress],
                shuffle=False,  # the dataset orders each epoch itself, from the seed
                verbose=0,
            )
    except KeyboardInterrupt:
        return True
    finally:
        # mixed precision (GPU only) is for training; the files built after it stay float32.
        # Not tried here (no GPU): a GPU-trained model's int8 build is unmeasured.
        keras.mixed_precision.set_global_policy("float32")
    return False


def figures_on_test_split(keras: Any, best_model: Path, data: Dataset) -> dict[str, Any]:
    """The best model's accuracy, macro-F1 and recall on the test split's scored faces."""
    best = keras.models.load_model(str(best_model), compile=False)
    test = data.splits["test"]
    probabilities = best.predict(test.scored_images.astype(np.float32) / 255.0, verbose=0)
    predicted = [int(i) for i in np.argmax(probabilities, axis=1)]
    return metrics([int(t) for t in test.scored_labels], predicted, data.classes)


def train(options: TrainOptions) -> dict[str, Any]:
    check_options(options)
    files = files_for(options.out)
    state = runstate.resumable(asdict(options), files) if options.resume else None
    if state is None:
        runstate.check_fresh_start(files)
        write_output(files["state"], b"{}")  # an unwritable --out fails before any work
    tf = tensorflow()
    keras = tf.keras
    keras.utils.set_random_seed(options.seed)
    tf.config.experimental.enable_op_determinism()  # the same seed, the same run
    data = training_data(options)
    first_epoch = len(state["history"]) if state else 0
    batches = pipelines(tf, data, options, first_epoch)
    if state is None:
        model = compiled_model(tf, options, len(data.classes), batches[2])
        state = {"options": runstate.options_record(asdict(options)), "history": []}
    else:
        model = keras.models.load_model(str(files["last"]))
    from convert.progress import EpochEnd

    progress = EpochEnd(files, state, options.epochs, options.patience)
    if progress.stop_early():
        print(f"the run had stopped early at epoch {len(state['history'])}: nothing to add")
    interrupted = fit(model, keras, options, progress, first_epoch, batches)
    history = state["history"]
    if not history:
        raise ConvertError("stopped before the first epoch ended: nothing was saved")
    write_curve(history, files["curve"], f"{options.arch} on {options.data.name}")
    report = run_report(options, data, progress, files, interrupted)
    if not interrupted:
        report["test"] = figures_on_test_split(keras, files["best"], data)
    write_output(files["report"], (json.dumps(report, indent=2) + "\n").encode())
    return report
