"""The emotion classifier: a TFLite model and its sidecar, fed one face crop at a time."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edge.analysis.interpreter import load_interpreter, require_model_file
from edge.analysis.model_cost import multiply_adds
from edge.analysis.model_meta import Framing, ModelMeta, load_model_meta
from edge.analysis.preprocess import dequantize, normalize, quantize, softmax, to_model_pixels
from edge.errors import ModelError

SUPPORTED_INPUT_TYPES = (np.int8, np.uint8, np.float32)


@dataclass(frozen=True)
class Classification:
    """Class probabilities (in the model's label order) and where the time went."""

    probabilities: np.ndarray
    preprocess_ms: float
    inference_ms: float


class Classifier(Protocol):
    labels: list[str]
    name: str
    framing: Framing | None  # how its training faces were framed; None: faces.margin's box
    input_size_hw: tuple[int, int]  # the face size it sees, for the crop's resolution

    def classify(self, face_bgr: np.ndarray) -> Classification: ...


def _quant_params(detail: dict[str, Any]) -> tuple[float, int]:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return float(scale), int(zero_point)


class TFLiteClassifier:
    """int8 (or uint8, or float) TFLite classifier; shapes checked against the sidecar once."""

    def __init__(
        self, model_path: Path, threads: int | None = None, *, mirror_average: bool = False
    ) -> None:
        require_model_file(model_path)
        self.mirror_average = mirror_average
        self.meta: ModelMeta = load_model_meta(model_path)
        self.threads = threads or os.cpu_count() or 1
        self.interpreter, self.backend = load_interpreter(model_path, self.threads)
        self.model_path = model_path
        self.labels = list(self.meta.labels)
        self.name = self.meta.name
        self.framing = self.meta.framing
        self.input_size_hw = self.meta.input_size_hw
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(
                f"{model_path}: expected 1 input and 1 output tensor, "
                f"found {len(inputs)} and {len(outputs)}"
            )
        self._input, self._output = inputs[0], outputs[0]
        self._check_shapes()
        self._in_scale, self._in_zero = _quant_params(self._input)
        self._out_scale, self._out_zero = _quant_params(self._output)
        self._in_dtype = np.dtype(self._input["dtype"])
        per_pass = multiply_adds(self.interpreter)
        self.multiply_adds_per_face = (
            None if per_pass is None else per_pass * (2 if mirror_average else 1)
        )

    def _check_shapes(self) -> None:
        path, meta = self.model_path, self.meta
        shape = tuple(int(d) for d in self._input["shape"])
        expected = (1, *meta.input_size_hw, meta.channels)
        if shape != expected:
            raise ModelError(
                f"{path}: input tensor is {list(shape)} but the sidecar says "
                f"{list(expected)} (input_size_hw {list(meta.input_size_hw)}, "
                f"color_mode {meta.color_mode}); fix the .json or rebuild the model"
            )
        if self._input["dtype"] not in SUPPORTED_INPUT_TYPES:
            raise ModelError(
                f"{path}: input type {np.dtype(self._input['dtype']).name} is not "
                "supported (int8, uint8 or float32)"
            )
        out_shape = tuple(int(d) for d in self._output["shape"])
        if len(out_shape) != 2 or out_shape[1] != len(meta.labels):
            raise ModelError(
                f"{path}: output tensor is {list(out_shape)} but the sidecar lists "
                f"{len(meta.labels)} labels; the label list must match the model's classes"
            )

    def classify(self, face_bgr: np.ndarray) -> Classification:
        t0 = time.perf_counter()
        values = normalize(to_model_pixels(face_bgr, self.meta), self.meta)
        out = self.infer(values)
        probabilities, inference_ms = out.probabilities, out.inference_ms
        if self.mirror_average:
            # an expression reads the same in a mirror, but a network's scores for an unsure
            # face swing with a pixel's shift or a small turn; the mean of the face and its
            # mirror image swings much less (README, "Models": measured on turned faces)
            mirrored = self.infer(np.ascontiguousarray(values[:, ::-1]))
            probabilities = (probabilities + mirrored.probabilities) / 2
            inference_ms += mirrored.inference_ms
        return Classification(
            probabilities=probabilities,
            preprocess_ms=(time.perf_counter() - t0) * 1000.0 - inference_ms,
            inference_ms=inference_ms,
        )

    def infer(self, values: np.ndarray) -> Classification:
        """Run an already normalised HxWxC float input (quantised here when the model wants)."""
        t0 = time.perf_counter()
        if self._in_dtype != np.float32:
            values = quantize(values, self._in_scale, self._in_zero, self._in_dtype)
        t1 = time.perf_counter()
        self.interpreter.set_tensor(self._input["index"], values[np.newaxis])
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self._output["index"])[0]
        t2 = time.perf_counter()
        if raw.dtype != np.float32:
            raw = dequantize(raw, self._out_scale, self._out_zero)
        probabilities = softmax(raw) if self.meta.output == "logits" else raw.astype(np.float32)
        return Classification(
            probabilities=probabilities,
            preprocess_ms=(t1 - t0) * 1000.0,
            inference_ms=(t2 - t1) * 1000.0,
        )
