"""The runtime runs a VGG19-style 150x150 RGB int8 model too, built here by our own converter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf  # ./setup.sh --dev installs it: tests build models with it

from edge.analysis.classify import TFLiteClassifier
from edge.analysis.preprocess import normalize, to_model_pixels

LABELS = sorted(["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"])


@pytest.fixture(scope="module")
def vgg_style_model(tmp_path_factory) -> tuple[Path, object]:
    from convert.int8 import check_classifier, convert_int8, write_model

    keras = tf.keras
    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [
            keras.Input((150, 150, 3)),
            keras.layers.Conv2D(8, 3, activation="relu", padding="same"),
            keras.layers.Conv2D(8, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(4),
            keras.layers.Conv2D(16, 3, activation="relu", padding="same"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(7, activation="softmax"),
        ]
    )
    assert check_classifier(model, LABELS, "test model") == (150, 150, 3)
    rng = np.random.default_rng(0)

    def calibration():
        for _ in range(32):
            yield rng.uniform(0, 1, (1, 150, 150, 3)).astype(np.float32)

    path = tmp_path_factory.mktemp("vgg") / "vgg_style_int8.tflite"
    write_model(
        path,
        convert_int8(model, calibration, "int8"),
        {
            "schema": "emotion-edge.model/1",
            "name": "vgg-style-test",
            "labels": LABELS,
            "input_size_hw": [150, 150],
            "color_mode": "rgb",
            "normalization": {"scale": 1 / 255, "offset": 0.0},
            "output": "probabilities",
        },
    )
    return path, model


def test_vgg_style_int8_runs_and_matches_keras(vgg_style_model, astronaut_bgr):
    path, model = vgg_style_model
    classifier = TFLiteClassifier(path, threads=2)
    assert classifier.labels == LABELS
    assert classifier.interpreter.get_input_details()[0]["shape"].tolist() == [1, 150, 150, 3]
    crop = astronaut_bgr[60:200, 160:300]
    out = classifier.classify(crop)
    keras_in = normalize(to_model_pixels(crop, classifier.meta), classifier.meta)[np.newaxis]
    expected = model.predict(keras_in, verbose=0)[0]
    assert np.abs(out.probabilities - expected).max() < 0.05


def test_channel_order_reaches_the_model_as_rgb(vgg_style_model):
    path, model = vgg_style_model
    classifier = TFLiteClassifier(path, threads=2)
    red_bgr = np.zeros((120, 120, 3), np.uint8)
    red_bgr[..., 2] = 255
    keras_red = model.predict(
        np.tile([1.0, 0.0, 0.0], (1, 150, 150, 1)).astype(np.float32), verbose=0
    )[0]
    keras_blue = model.predict(
        np.tile([0.0, 0.0, 1.0], (1, 150, 150, 1)).astype(np.float32), verbose=0
    )[0]
    assert np.abs(keras_red - keras_blue).max() > 0.02  # the model can tell them apart
    got = classifier.classify(red_bgr).probabilities
    assert np.abs(got - keras_red).max() < np.abs(got - keras_blue).max()
