"""Sidecars validated as strictly as the config (issue 25, case 11 and the smaller ones):
finite normalisation, labels that are unique, printable, short and not words the outputs
use themselves, and a bounded size; each refused with one line naming the file and field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edge.analysis.classify import TFLiteClassifier
from edge.analysis.model_meta import MAX_SIDECAR_BYTES, RESERVED_LABELS
from edge.errors import ModelError
from edge.sinks.mqtt.const import NO_FACE_STATE, SEVERAL_FACES_STATE
from edge.types import STATUSES, UNCERTAIN
from tests.conftest import DEFAULT_MODEL


def model_with(tmp_path: Path, change) -> Path:
    model = tmp_path / "m.tflite"
    shutil.copy(DEFAULT_MODEL, model)
    sidecar = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    change(sidecar)
    model.with_suffix(".json").write_text(json.dumps(sidecar))
    return model


def relabel(index: int, label: str):
    def change(sidecar: dict) -> None:
        sidecar["labels"][index] = label

    return change


def normalise(field: str, value):
    def change(sidecar: dict) -> None:
        sidecar["normalization"][field] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (normalise("scale", float("nan")), r"normalization.scale.*finite"),
        (normalise("offset", float("inf")), r"normalization.offset.*finite"),
        (normalise("scale", [1.0, float("nan"), 1.0]), r"normalization.scale.*finite"),
        (relabel(0, "uncertain"), r"labels: .*'uncertain' is a word the outputs use"),
        (relabel(1, "None"), r"labels: .*'None' is a word the outputs use"),
        (relabel(2, "sad\nsummary: 0 frames"), r"labels: label 'sad\\nsummary.*printable"),
        (relabel(3, "x" * 65), r"labels: .*1 to 64 printable"),
        (relabel(4, " "), r"labels: .*1 to 64 printable"),
        (relabel(5, "angry"), r"labels: labels repeat a name"),
    ],
)
def test_a_sidecar_that_cannot_be_used_is_one_line(tmp_path, change, message):
    model = model_with(tmp_path, change)
    with pytest.raises(ModelError, match=message) as caught:
        TFLiteClassifier(model, 1)
    assert str(caught.value).startswith(str(model.with_suffix(".json")))
    assert "\n" not in str(caught.value).replace("\\n", "")


def test_an_oversized_sidecar_is_refused_before_it_is_read(tmp_path):
    model = model_with(tmp_path, lambda s: s.update(padding="x" * MAX_SIDECAR_BYTES))
    with pytest.raises(ModelError, match=r"larger than 200 kB; a sidecar is a few hundred"):
        TFLiteClassifier(model, 1)


def test_the_reserved_words_are_the_outputs_own():
    outputs_own = {UNCERTAIN, NO_FACE_STATE, SEVERAL_FACES_STATE, *STATUSES} - {"ok"}
    assert outputs_own <= RESERVED_LABELS
