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
from edge.app.memory import memory_hint
from edge.errors import DependencyError, ModelError, first_line

log = logging.getLogger(__name__)

BACKENDS = (
    ("ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite_runtime.interpreter", "tflite-runtime"),
    ("tensorflow.lite", "tensorflow"),
)


def _not_installed(exc: ImportError, module_name: str) -> bool:
    """The package itself is absent, as opposed to present and failing to load (a library
    that cannot be mapped for lack of memory, a damaged or foreign-architecture file)."""
    missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
    return missing is not None and module_name.startswith(missing)


def interpreter_class() -> tuple[Any, str]:
    """The first importable Interpreter class and the name of its package."""
    failures: list[str] = []
    for module_name, package in BACKENDS:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            if not _not_installed(exc, module_name):
                failures.append(f"{package} is installed but does not load ({first_line(exc)})")
            continue
        except (MemoryError, OSError) as exc:
            failures.append(f"{package} does not load ({type(exc).__name__}: {first_line(exc)})")
            continue
        cls = getattr(module, "Interpreter", None)  # tensorflow.lite can come without it
        if cls is None:
            failures.append(f"{package} has no TFLite Interpreter")
            continue
        if failures:
            log.warning("%s; using %s", failures[0], package)
        return cls, package
    if failures:  # the real reason, not "not found": memory, a damaged install
        raise DependencyError(f"{failures[0]}: {memory_hint()}, or reinstall it with ./setup.sh")
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
    except (ValueError, RuntimeError) as exc:
        reason = first_line(exc)
        raise ModelError(f"{model_path}: not a valid TFLite model ({reason})") from exc
    try:
        with quiet_native_stderr():
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError, MemoryError) as exc:
        # the file parsed as a model: what fails now is preparing its graph, which an
        # operation LiteRT lacks or a shortage of memory (XNNPack "failed to prepare") causes
        raise ModelError(
            f"{model_path}: the model cannot be prepared ({first_line(exc)}): "
            f"if it runs elsewhere, memory is short here: {memory_hint()}"
        ) from exc
    log.debug("loaded %s with %s, %s threads", model_path, package, threads)
    return interpreter, package
