"""The analysis sections of the config: which faces, when to classify again, what to report."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, PrivateAttr

from edge.analysis.model_meta import DEFAULT_MARGIN
from edge.config.base import Section
from edge.config.paths import resolve_app_path
from edge.errors import ModelError

FacePolicy = Literal["multiple_faces", "largest", "all"]
FACE_POLICIES: tuple[FacePolicy, ...] = get_args(FacePolicy)


class FacesConfig(Section):
    policy: FacePolicy = Field(
        default="multiple_faces",
        description="several faces: report multiple_faces and classify none, classify the "
        "largest, or classify all",
    )
    margin: float = Field(
        default=DEFAULT_MARGIN,
        ge=0.0,
        le=1.0,
        description="crop margin around the face box, per side, as a fraction of the box size; "
        "only for models whose sidecar has no `framing` (a sidecar's framing, the default "
        "model's included, sets its own margin, shape and alignment)",
    )
    min_size_px: int = Field(
        default=20, ge=1, le=4096, description="ignore faces whose box is smaller than this"
    )


class ReuseConfig(Section):
    enabled: bool | Literal["auto"] = Field(
        default="auto",
        description="reuse a face's last scores while it has not moved or changed, instead "
        "of running the classifier on every frame; auto: only for a model that needs at least "
        "1 G multiply-adds a face, counted from its graph (a VGG19-150: yes; the bundled "
        "models: no, reuse would save little and cost agreement), never from how busy the "
        "machine is",
    )
    max_age_s: float = Field(
        default=1.0, ge=0.0, le=60.0, description="classify a face again after this long anyway"
    )
    max_move: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="classify again when the box moved or resized "
        "by more than this fraction of its size",
    )
    max_change: float = Field(
        default=6.0,
        ge=0.0,
        le=255.0,
        description="classify again when the face's pixels "
        "changed by more than this (mean absolute difference of a 16x16 grayscale thumbnail, "
        "0-255)",
    )
    min_iou: float = Field(
        default=0.3, gt=0.0, le=1.0, description="box overlap needed to call it the same face"
    )
    forget_after_s: float = Field(
        default=1.0, ge=0.0, le=60.0, description="forget a face not seen for this long"
    )


class SmoothingConfig(Section):
    alpha: float = Field(
        default=0.3,
        gt=0.0,
        le=1.0,
        description="weight of the newest scores in the moving average (1 = no smoothing)",
    )
    reset_after_s: float = Field(
        default=2.0,
        ge=0.0,
        le=3600,
        description="forget the face's emotion after this long without a classified face",
    )
    switch_margin: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="the reported emotion changes only to one whose smoothed score leads "
        "the reported one's by at least this much",
    )
    hold_s: float = Field(
        default=0.5,
        ge=0.0,
        le=60.0,
        description="... and only once that lead (or an uncertain spell) has lasted this long",
    )
    min_confidence: float = Field(
        default=0.45,
        ge=0.0,
        le=1.0,
        description="below this smoothed top score the reported emotion is 'uncertain' "
        "(0.45: where the default model's labels stop being more often wrong than right, "
        "chosen on FER+'s validation split)",
    )


DETECTOR_MODELS = {  # bundled in models/, by detector.model
    "short_range": "models/face_detection_short_range.tflite",
    "full_range": "models/face_detection_full_range_sparse.tflite",
}


class DetectorConfig(Section):
    model: Literal["short_range", "full_range"] = Field(
        default="short_range",
        description="BlazeFace short range (faces within ~2 m, 128x128, fastest) or full range "
        "(faces up to ~5 m, 192x192, sparse model)",
    )
    model_path: str | None = Field(
        default=None, description="use this BlazeFace .tflite instead of the bundled one"
    )
    min_score: float = Field(default=0.5, ge=0.0, le=1.0, description="minimum face score")
    max_width_px: int | None = Field(
        default=None,
        ge=128,
        le=7680,
        description="detect on a copy scaled down to this width (BlazeFace itself sees 128 "
        "or 192 pixels); null = letterbox the full frame straight into the model's input",
    )
    min_suppression: float = Field(
        default=0.3, ge=0.0, le=1.0, description="overlap above which boxes are merged"
    )

    @property
    def model_file(self) -> Path:
        """The BlazeFace file to load: `model_path`, or the bundled model named by `model`."""
        return resolve_app_path(self.model_path or DETECTOR_MODELS[self.model])

    def existing_model_file(self) -> Path:
        """`model_file`, or ModelError saying how to get it (what `run` and `check-config`
        both say when it is missing)."""
        path = self.model_file
        if not path.is_file():
            raise ModelError(
                f"{path}: face detector model not found (run ./setup.sh from the "
                "project folder, or set detector.model_path)"
            )
        return path


class ClassifierConfig(Section):
    model: str = Field(
        default="models/emotion_ferplus_vgg_compact_int8.tflite",
        min_length=1,
        description="int8 TFLite emotion model; its .json sidecar must sit beside it. Relative "
        "paths are tried from the working directory, then from the install folder",
    )
    threads: int | None = Field(
        default=None, ge=1, le=64, description="interpreter threads (default: number of cores)"
    )
    mirror_average: bool = Field(
        default=True,
        description="classify each face and its mirror image and average the two: labels "
        "hold better on turned and moving faces, for twice the classifier's time (set "
        "false for a slow model on a small CPU, e.g. a VGG19 at 150x150 on a Pi 4)",
    )
    _model_path: Path = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        # resolved once, against the working directory the config was loaded from
        self._model_path = resolve_app_path(self.model)

    @property
    def model_path(self) -> Path:
        """`model` as a path: as given if it exists there, else below the install folder."""
        return self._model_path
