"""Face detection with MediaPipe Tasks' BlazeFace, converted to our `Detection` once."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from edge.config import DetectorConfig, resolve_app_path
from edge.errors import DependencyError, ModelError
from edge.logs import quiet_native_stderr
from edge.types import Detection

log = logging.getLogger(__name__)

BUNDLED_MODELS = {
    "short_range": "models/face_detection_short_range.tflite",
    "full_range": "models/face_detection_full_range_sparse.tflite",
}


class FaceDetector(Protocol):
    def detect(self, image_bgr: np.ndarray, timestamp_ms: int) -> list[Detection]: ...

    def close(self) -> None: ...


def detector_model_path(cfg: DetectorConfig) -> Path:
    path = resolve_app_path(cfg.model_path or BUNDLED_MODELS[cfg.model])
    if not path.is_file():
        raise ModelError(
            f"{path}: face detector model not found (run ./setup.sh from the "
            "project folder, or set detector.model_path)"
        )
    return path


def clamp_box(
    x: int, y: int, w: int, h: int, size_wh: tuple[int, int]
) -> tuple[int, int, int, int]:
    """Clip a box to the frame; the result may have zero size if it lay outside."""
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(size_wh[0], x + w), min(size_wh[1], y + h)
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


def _import_mediapipe() -> tuple[Any, Any, Any]:
    """Import MediaPipe Tasks without dragging in TensorFlow.

    mediapipe's tasks package tries `from tensorflow.tools.docs import doc_controls` (for its
    API docs only). On a PC where TensorFlow is installed for `convert`, that imports all of
    TensorFlow: about 2 s and hundreds of MB for nothing. Hiding TensorFlow during this one
    import makes mediapipe use its own no-op; TensorFlow stays importable afterwards.
    """
    hide_tf = "tensorflow" not in sys.modules
    if hide_tf:
        sys.modules["tensorflow"] = None  # type: ignore[assignment]
    try:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision
    except ImportError as exc:
        raise DependencyError(f"mediapipe is not importable ({exc}): run ./setup.sh") from exc
    finally:
        if hide_tf:
            del sys.modules["tensorflow"]
    return mp, BaseOptions, vision


class MediaPipeFaceDetector:
    """BlazeFace in VIDEO mode: timestamps must rise strictly, so we enforce it here."""

    def __init__(self, cfg: DetectorConfig) -> None:
        path = detector_model_path(cfg)
        mp, BaseOptions, vision = _import_mediapipe()
        self._mp = mp
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.VIDEO,
            min_detection_confidence=cfg.min_score,
            min_suppression_threshold=cfg.min_suppression,
        )
        try:
            with quiet_native_stderr():
                self._detector = vision.FaceDetector.create_from_options(options)
                # warm-up: the first inference allocates buffers and logs about them on fd 2
                blank = mp.Image(
                    image_format=mp.ImageFormat.SRGB, data=np.zeros((64, 64, 3), np.uint8)
                )
                self._detector.detect_for_video(blank, 0)
        except Exception as exc:  # MediaPipe raises RuntimeError/ValueError variants
            raise ModelError(f"{path}: not a usable BlazeFace model ({exc})") from exc
        self.model_path = path
        self.max_width_px = cfg.max_width_px
        self._last_ts_ms = 0
        self._small: np.ndarray | None = None
        self._rgb: np.ndarray | None = None

    def detect(self, image_bgr: np.ndarray, timestamp_ms: int) -> list[Detection]:
        ts = max(int(timestamp_ms), self._last_ts_ms + 1)
        self._last_ts_ms = ts
        height, width = image_bgr.shape[:2]
        scale = 1.0
        source = image_bgr
        if self.max_width_px and width > self.max_width_px:
            scale = width / self.max_width_px
            small_hw = (round(height / scale), self.max_width_px)
            if self._small is None or self._small.shape[:2] != small_hw:
                self._small = np.empty((*small_hw, 3), np.uint8)
            cv2.resize(image_bgr, small_hw[::-1], dst=self._small, interpolation=cv2.INTER_LINEAR)
            source = self._small
        if self._rgb is None or self._rgb.shape != source.shape:
            self._rgb = np.empty_like(source)  # reused: no per-frame allocation
        cv2.cvtColor(source, cv2.COLOR_BGR2RGB, dst=self._rgb)
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=self._rgb)
        result = self._detector.detect_for_video(image, ts)
        faces = []
        for det in result.detections:
            bb = det.bounding_box
            x, y, w, h = clamp_box(
                round(bb.origin_x * scale),
                round(bb.origin_y * scale),
                round(bb.width * scale),
                round(bb.height * scale),
                (width, height),
            )
            if w > 0 and h > 0:
                score = float(det.categories[0].score) if det.categories else 0.0
                faces.append(Detection(box_xywh=(x, y, w, h), score=score))
        return faces

    def close(self) -> None:
        detector, self._detector = self._detector, None
        if detector is not None:
            with quiet_native_stderr():
                detector.close()
