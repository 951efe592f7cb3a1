"""Find a TFLite interpreter: LiteRT first, then tflite-runtime, then TensorFlow.

ai-edge-litert is preferred: it ships wheels for Python 3.10 to 3.13 on aarch64
and applies XNNPACK to int8 graphs. tflite-runtime stops at Python 3.11 and
numpy 1; TensorFlow is a PC-side package but works when it is all there is.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from edge.app.logs import quiet_native_stderr
from edge.errors import DependencyError, ModelError, first_line

log = logging.getLogger(__name__)

BACKENDS = (
    ("ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite_runtime.interpreter", "tflite-runtime"),
    ("tensorflow.lite", "tensorflow"),
)


def interpreter_class() -> tuple[Any, str]:
    """The first importable Interpreter class and the name of its package."""
    for module_name, package in BACKENDS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        return module.Interpreter, package
    raise DependencyError(
        "no TFLite interpreter found: run ./setup.sh (installs ai-edge-litert), "
        "or pip install ai-edge-litert"
    )


def require_model_file(model_path: Path) -> None:
    if not model_path.is_file():
        raise ModelError(
            f"{model_path}: model not found (run ./setup.sh from the project "
            "folder, or set classifier.model / --model)"
        )


def load_interpreter(model_path: Path, threads: int | None) -> tuple[Any, str]:
    """Load and allocate a model; every failure becomes a ModelError naming the file."""
    require_model_file(model_path)
    cls, package = interpreter_class()
    try:
        with quiet_native_stderr():
            interpreter = cls(model_path=str(model_path), num_threads=threads)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        reason = first_line(exc)
        raise ModelError(f"{model_path}: not a valid TFLite model ({reason})") from exc
    log.debug("loaded %s with %s, %s threads", model_path, package, threads)
    return interpreter, package
