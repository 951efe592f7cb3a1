"""The real LiteRT interpreter with the bundled int8 model, and every way a model can be wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.analysis.classify import TFLiteClassifier
from edge.analysis.preprocess import crop_with_margin
from edge.errors import ModelError
from tests.conftest import ASTRONAUT_FACE_XYWH, DEFAULT_MODEL, FER_MODEL

FER_ORDER = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
ALPHABETICAL = sorted(FER_ORDER)


@pytest.fixture(scope="module")
def classifier() -> TFLiteClassifier:
    return TFLiteClassifier(DEFAULT_MODEL, threads=2)


def test_default_model_is_int8_grayscale_48(classifier):
    assert classifier.backend == "ai-edge-litert"
    assert classifier.labels == ALPHABETICAL
    assert classifier.meta.input_size_hw == (48, 48)
    assert classifier.meta.color_mode == "grayscale"
    assert classifier.interpreter.get_input_details()[0]["dtype"] == np.int8


def test_the_label_order_comes_from_the_sidecar():
    earlier = TFLiteClassifier(FER_MODEL, threads=1)  # FER2013's order, not alphabetical
    assert earlier.labels == FER_ORDER and earlier.meta.input_size_hw == (64, 64)


def test_smiling_face_is_happy(classifier, astronaut_bgr):
    x0, y0, x1, y1 = crop_with_margin(ASTRONAUT_FACE_XYWH, 0.15, (512, 512))
    out = classifier.classify(astronaut_bgr[y0:y1, x0:x1])
    assert out.probabilities.shape == (7,)
    assert out.probabilities.sum() == pytest.approx(1.0, abs=0.05)
    assert classifier.labels[int(np.argmax(out.probabilities))] == "happy"
    assert out.inference_ms > 0 and out.preprocess_ms > 0


def test_any_crop_size_is_accepted(classifier):
    rng = np.random.default_rng(1)
    for shape in ((10, 13, 3), (300, 200, 3), (64, 64, 3)):
        out = classifier.classify(rng.integers(0, 255, shape, dtype=np.uint8))
        assert out.probabilities.shape == (7,)


def test_mirror_average_is_the_mean_of_the_face_and_its_mirror_image(astronaut_bgr):
    # a face turned a little, so that the mirror image really differs from the face
    face = astronaut_bgr[60:220, 150:310]
    single = TFLiteClassifier(DEFAULT_MODEL, threads=2)
    both = TFLiteClassifier(DEFAULT_MODEL, threads=2, mirror_average=True)
    one, mirrored = single.classify(face), single.classify(face[:, ::-1])
    assert not np.allclose(one.probabilities, mirrored.probabilities)
    averaged = both.classify(face)
    assert np.allclose(averaged.probabilities, (one.probabilities + mirrored.probabilities) / 2)
    assert averaged.inference_ms > 0


def _edit_sidecar(model: Path, **changes) -> None:
    sidecar = model.with_suffix(".json")
    data = json.loads(sidecar.read_text())
    data.update(changes)
    sidecar.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": FER_ORDER[:6]}, r"output tensor is \[1, 7\] but the sidecar lists 6 labels"),
        (
            {"input_size_hw": [64, 64]},
            r"input tensor is \[1, 48, 48, 1\] but the sidecar says \[1, 64, 64, 1\]",
        ),
        (
            {"color_mode": "rgb"},
            r"input tensor is \[1, 48, 48, 1\] but the sidecar says \[1, 48, 48, 3\]",
        ),
        (
            {"color_mode": "infrared"},
            r"m.json: color_mode: Input should be 'rgb', 'bgr' or 'grayscale'",
        ),
        ({"schema": "other/2"}, r"m.json: schema: Input should be 'emotion-edge.model/1'"),
        ({"labels": ["a", "a", "b", "c", "d", "e", "f"]}, r"m.json: labels: labels repeat a name"),
        (
            {"normalization": {"scale": [1, 2, 3], "offset": 0}},
            r"m.json: \(top level\): normalization.scale has 3 values, but a grayscale input "
            r"has 1 channel\(s\)",
        ),
    ],
)
def test_mismatched_sidecar_is_one_line_naming_the_file(model_copy: Path, change, message):
    _edit_sidecar(model_copy, **change)
    with pytest.raises(ModelError, match=message) as info:
        TFLiteClassifier(model_copy)
    assert "\n" not in str(info.value)


def test_missing_model(tmp_path: Path):
    with pytest.raises(ModelError, match=r"nope.tflite: model not found \(run ./setup.sh"):
        missing = tmp_path / "nope.tflite"
        shutil.copy(DEFAULT_MODEL.with_suffix(".json"), missing.with_suffix(".json"))
        TFLiteClassifier(missing)


def test_missing_sidecar(model_copy: Path):
    model_copy.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match=r"m.json: sidecar not found"):
        TFLiteClassifier(model_copy)


def test_sidecar_not_json(model_copy: Path):
    model_copy.with_suffix(".json").write_text("{labels: oops")
    with pytest.raises(ModelError, match=r"m.json: not readable JSON"):
        TFLiteClassifier(model_copy)


@pytest.mark.parametrize("corruption", ["random", "truncated", "empty"])
def test_corrupt_model(model_copy: Path, corruption: str):
    data = model_copy.read_bytes()
    if corruption == "random":
        model_copy.write_bytes(np.random.default_rng(0).bytes(len(data)))
    elif corruption == "truncated":
        model_copy.write_bytes(data[: len(data) // 3])
    else:
        model_copy.write_bytes(b"")
    with pytest.raises(ModelError, match=r"m.tflite: not a valid TFLite model"):
        TFLiteClassifier(model_copy)
