"""Keras classifier → full-integer int8 TFLite, and the sidecar the runtime reads."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from convert.common import ConvertError, tensorflow, write_output
from convert.report import agreement
from edge.analysis.preprocess import dequantize, quantize
from edge.errors import first_line

IoType = Literal["int8", "uint8"]


def check_classifier(model: Any, labels: list[str], source: str) -> tuple[int, int, int]:
    """(height, width, channels) of a single-input classifier whose classes match `labels`."""
    inputs, outputs = model.inputs, model.outputs
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConvertError(
            f"{source}: expected 1 input and 1 output, found {len(inputs)} and {len(outputs)}"
        )
    in_shape, out_shape = tuple(inputs[0].shape), tuple(outputs[0].shape)
    if len(out_shape) != 2:
        raise ConvertError(
            f"{source}: output shape {out_shape} is not (batch, classes): not a classifier"
        )
    if len(in_shape) != 4 or None in in_shape[1:]:
        raise ConvertError(
            f"{source}: input shape {in_shape} is not (batch, height, width, "
            "channels) with a fixed size"
        )
    if out_shape[1] != len(labels):
        raise ConvertError(
            f"{source}: the model has {out_shape[1]} classes but {len(labels)} "
            f"labels were given ({', '.join(labels)})"
        )
    return int(in_shape[1]), int(in_shape[2]), int(in_shape[3])


def convert_int8(
    model: Any,
    calibration: Callable[[], Iterable[np.ndarray]],
    io_type: IoType = "int8",
) -> bytes:
    """Full-integer quantisation: int8 kernels only, `io_type` input and output tensors.

    `calibration` yields single float32 input batches (1, H, W, C), already normalised the
    way the model expects; their activation ranges fix the quantisation parameters.
    """
    tf = tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (
        [batch.astype(np.float32)] for batch in calibration()
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8 if io_type == "int8" else tf.uint8
    converter.inference_output_type = tf.int8 if io_type == "int8" else tf.uint8
    try:
        return bytes(converter.convert())
    except Exception as exc:  # the converter raises many types, all meaning "cannot convert"
        first = first_line(exc)
        raise ConvertError(f"int8 conversion failed: {first}") from exc


def convert_float(model: Any) -> bytes:
    """The float32 TFLite twin of a model, for latency and agreement comparisons."""
    tf = tensorflow()
    return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def write_model(path: Path, tflite: bytes, sidecar: dict[str, Any]) -> None:
    """The .tflite and its .json side by side; key order kept so rebuilds diff cleanly."""
    write_output(path, tflite)
    write_output(
        path.with_suffix(".json"), (json.dumps(sidecar, indent=2, sort_keys=False) + "\n").encode()
    )


def int8_predictions(tflite: bytes, inputs: np.ndarray) -> np.ndarray:
    """The int8 model's dequantised outputs for normalised inputs, quantised as on the device."""
    interpreter = tensorflow().lite.Interpreter(model_content=tflite)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    (scale, zero), (out_scale, out_zero) = inp["quantization"], out["quantization"]
    rows = []
    for x in inputs:
        interpreter.set_tensor(inp["index"], quantize(x, scale, zero, np.dtype(np.int8))[None])
        interpreter.invoke()
        rows.append(dequantize(interpreter.get_tensor(out["index"])[0], out_scale, out_zero))
    return np.stack(rows)


def mirror_passes(
    model: Any, tflite: bytes, inputs: np.ndarray, batch_size: int | None = None
) -> dict[str, np.ndarray]:
    """Float and int8 probabilities of each face and of its mirror image."""
    mirrored = np.ascontiguousarray(inputs[:, :, ::-1])
    return {
        "float": model.predict(inputs, verbose=0, batch_size=batch_size),
        "float_mirror": model.predict(mirrored, verbose=0, batch_size=batch_size),
        "int8": int8_predictions(tflite, inputs),
        "int8_mirror": int8_predictions(tflite, mirrored),
    }


def mirror_averaged(passes: dict[str, np.ndarray], kind: str) -> np.ndarray:
    """What the device reports with `classifier.mirror_average` (the default)."""
    return (passes[kind] + passes[f"{kind}_mirror"]) / 2


def passes_agreement(passes: dict[str, np.ndarray]) -> dict[str, Any]:
    """Agreement of one pass, and of the mirror average."""
    return {
        "one_pass": agreement(passes["float"], passes["int8"]),
        "mirror_averaged": agreement(
            mirror_averaged(passes, "float"), mirror_averaged(passes, "int8")
        ),
    }


def float_vs_int8(model: Any, tflite: bytes, inputs: np.ndarray) -> dict[str, Any]:
    return passes_agreement(mirror_passes(model, tflite, inputs))
