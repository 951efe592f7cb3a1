"""`python -m convert build`: any Keras classifier -> int8 TFLite + sidecar + quality report."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from convert.common import ConvertError, sha256_of, tensorflow
from convert.dataset import FaceCropper, LabelledImages, balanced_sample, load_image, scan
from convert.int8 import IoType, check_classifier, convert_float, convert_int8, write_model
from convert.report import compare, write_quantisation_report
from edge.analysis.model_meta import FER_STYLE_FRAMING, SCHEMA, Framing, ModelMeta
from edge.analysis.preprocess import normalize, to_model_pixels
from edge.errors import first_line

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildOptions:
    model: Path
    out: Path
    labels: list[str]
    calibration_dir: Path
    calibration_count: int = 300
    io_type: IoType = "int8"
    color_mode: str | None = None  # rgb | bgr | grayscale; default from the input channels
    scale: float = 1 / 255
    offset: float = 0.0
    report_dir: Path | None = None
    name: str | None = None
    # how the training faces were framed: written to the sidecar, so the device crops the
    # same way, and used here to crop whole photos for calibration and the report
    framing: Framing | None = FER_STYLE_FRAMING


def parse_framing(spec: str) -> Framing | None:
    """`--framing margin=0.15,square=true,align=eyes` (any subset), or `none`."""
    if spec.strip().lower() == "none":
        return None
    values: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ConvertError(f"--framing: {item!r} is not key=value (e.g. margin=0.15)")
        lowered = value.strip().lower()
        values[key.strip()] = {"true": True, "false": False}.get(lowered, value.strip())
    try:
        return Framing.model_validate(values)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise ConvertError(f"--framing: {where}: {problem['msg']}") from None


def load_keras_model(path: Path) -> Any:
    """A `.keras` file, a Keras 2/3 `.h5`/`.hdf5`, or a SavedModel folder."""
    tf = tensorflow()
    if not path.exists():
        raise ConvertError(f"{path}: model not found")
    try:
        if path.is_dir():
            layer = tf.keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")
            signature = tf.saved_model.load(str(path)).signatures["serving_default"]
            spec = next(iter(signature.structured_input_signature[1].values()))
            inputs = tf.keras.Input(tuple(spec.shape[1:]))
            outputs = layer(inputs)
            if isinstance(outputs, dict):
                outputs = next(iter(outputs.values()))
            return tf.keras.Model(inputs, outputs)
        if path.suffix in (".h5", ".hdf5"):
            try:
                return tf.keras.models.load_model(str(path), compile=False)
            except Exception:  # a Keras 2 file Keras 3 cannot read: tf_keras can
                import tf_keras

                return tf_keras.models.load_model(str(path), compile=False)
        return tf.keras.models.load_model(str(path), compile=False)
    except ConvertError:
        raise
    except Exception as exc:
        first = first_line(exc)
        raise ConvertError(f"{path}: cannot load as a Keras model ({first})") from exc


def sidecar_for(
    options: BuildOptions, shape: tuple[int, int, int], source_sha: str, tf_version: str
) -> dict[str, Any]:
    height, width, channels = shape
    color = "grayscale" if channels == 1 else (options.color_mode or "rgb")
    if (color == "grayscale") != (channels == 1):
        raise ConvertError(
            f"{options.model}: color mode {color} does not fit {channels} input channel(s)"
        )
    return {
        "schema": SCHEMA,
        "name": options.name or options.out.stem.replace("_", "-"),
        "labels": options.labels,
        "input_size_hw": [height, width],
        "color_mode": color,
        "normalization": {"scale": options.scale, "offset": options.offset},
        "output": "probabilities",
        **({"framing": options.framing.model_dump()} if options.framing else {}),
        "source": {"file": options.model.name, "sha256": source_sha},
        "conversion": {
            "tool": "python -m convert build",
            "tensorflow": tf_version,
            "input_type": options.io_type,
            "output_type": options.io_type,
        },
    }


def device_inputs(
    images: LabelledImages, meta: ModelMeta, what: str
) -> tuple[np.ndarray, list[int], list[Path]]:
    """Images as the device would feed them (face crop, colour, size, normalisation), their
    labels and the files they came from (unreadable ones are skipped with a warning)."""
    from tqdm import tqdm  # a dependency of ai-edge-litert, so always there

    cropper = FaceCropper(meta.framing)
    rows, labels, kept = [], [], []
    pairs = zip(images.paths, images.labels, strict=True)
    try:
        for path, label in tqdm(pairs, total=len(images.paths), desc=what, unit="image"):
            image = load_image(path)
            if image is None:
                log.warning("%s: unreadable image, skipped", path)
                continue
            face = cropper.crop(image, meta.input_size_hw)
            rows.append(normalize(to_model_pixels(face, meta), meta))
            labels.append(label)
            kept.append(path)
    finally:
        cropper.close()
    if not rows:
        raise ConvertError("no readable images to work with")
    return np.stack(rows).astype(np.float32), labels, kept


def _hash_model(path: Path) -> str:
    if path.is_file():
        return sha256_of(path.read_bytes())
    return sha256_of(b"".join(p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()))


def build(options: BuildOptions) -> dict[str, Any]:
    tf = tensorflow()
    model = load_keras_model(options.model)
    shape = check_classifier(model, options.labels, str(options.model))
    sidecar = sidecar_for(options, shape, _hash_model(options.model), tf.__version__)
    meta = ModelMeta.model_validate(sidecar)
    sample = balanced_sample(
        scan(options.calibration_dir, options.labels), options.calibration_count
    )
    calibration, _, used = device_inputs(sample, meta, "calibration")
    skipped = len(sample.paths) - len(used)

    def batches() -> Iterator[np.ndarray]:
        for row in calibration:
            yield row[np.newaxis]

    tflite = convert_int8(model, batches, options.io_type)
    sidecar["conversion"]["calibration"] = {"images": len(calibration), "skipped": skipped}
    write_model(options.out, tflite, sidecar)
    float_tflite = convert_float(model)
    report: dict[str, Any] = {
        "model": {
            "name": sidecar["name"],
            "source": str(options.model),
            "source_sha256": sidecar["source"]["sha256"],
            "tflite": str(options.out),
            "tflite_bytes": len(tflite),
            "float_tflite_bytes": len(float_tflite),
        },
        "calibration": {"images": len(calibration), "skipped": skipped},
    }
    if options.report_dir is not None:
        report["quality"] = evaluate(model, float_tflite, options, meta, set(_digests(used)))
        report["files"] = [str(p) for p in write_quantisation_report(report, options.out)]
    return report


def _digests(paths: list[Path]) -> list[str]:
    """The files' sha256: a report image that calibrated the model is found by content, so a
    copy, or the same folder under another name, counts as well."""
    return [sha256_of(path.read_bytes()) for path in paths]


def evaluate(
    model: Any,
    float_tflite: bytes,
    options: BuildOptions,
    meta: ModelMeta,
    calibration_sha256: set[str],
) -> dict[str, Any]:
    """Keras float vs the int8 file as the device runtime runs it, on the labelled folder.

    Latency is measured on TFLite for both (float32 and int8), the way a device runs them.
    """
    from edge.analysis.classify import TFLiteClassifier

    assert options.report_dir is not None
    inputs, truth, paths = device_inputs(scan(options.report_dir, options.labels), meta, "report")
    float_probs = model.predict(inputs, verbose=0)
    int8 = TFLiteClassifier(options.out)
    int8_runs = [int8.infer(x) for x in inputs]
    with tempfile.TemporaryDirectory() as tmp:
        float_path = Path(tmp) / "float.tflite"
        write_model(float_path, float_tflite, meta.model_dump(by_alias=True))
        float_c = TFLiteClassifier(float_path)
        float_ms = [float_c.infer(x).inference_ms for x in inputs]
    return compare(
        options.labels,
        truth,
        float_probs,
        np.stack([run.probabilities for run in int8_runs]),
        float_ms,
        [run.inference_ms for run in int8_runs],
        np.array([digest not in calibration_sha256 for digest in _digests(paths)]),
    )
