"""The JSON sidecar that travels next to every classifier `.tflite` file.

The sidecar is the only place the runtime learns a model's label order, input
size, colour mode and normalisation: nothing about a model is hard-coded, so a
FER2013-ordered model and an alphabetically ordered VGG19 both work.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from edge.errors import ModelError

# the face margin, per side as a fraction of the box, where nothing else sets one: the
# config's faces.margin, a sidecar framing's margin and convert's crops all start from it
DEFAULT_MARGIN = 0.15

MAX_SIDECAR_BYTES = 200_000  # a sidecar is a few hundred bytes; its calibration figures a few kB
MAX_LABELS = 1000
MAX_LABEL_CHARS = 64
# what the outputs say for themselves beside a label (edge.types.UNCERTAIN, MQTT's
# no-face state, the frame statuses): a model label of the same name would be ambiguous
RESERVED_LABELS = frozenset({"uncertain", "none", "no_face", "multiple_faces", "several faces"})

SchemaTag = Literal["emotion-edge.model/1"]
SCHEMA: SchemaTag = get_args(SchemaTag)[0]


class Normalization(BaseModel):
    """model_input = pixel * scale + offset, with pixel in 0..255 (per channel when lists)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scale: float | list[float] = Field(description="multiplier applied to 0..255 pixels")
    offset: float | list[float] = Field(description="added after scaling")

    @field_validator("scale", "offset")
    @classmethod
    def _finite(cls, value: float | list[float]) -> float | list[float]:
        # NaN or infinity would make every input the same (every face one label)
        if not all(math.isfinite(v) for v in (value if isinstance(value, list) else [value])):
            raise ValueError(f"{value} is not finite: give finite numbers")
        return value


FramingAlign = Literal["eyes", "none"]


class Framing(BaseModel):
    """How the model's training faces were cut out of their photos; the device cuts the same.

    A sidecar without `framing` keeps the device's older rule: the detector's box grown by
    `faces.margin` (config.yaml), axis-aligned, cut off at the frame's edge.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    margin: float = Field(
        default=DEFAULT_MARGIN,
        ge=0.0,
        le=1.0,
        description="added to the face box on every side, as a fraction of the box's size",
    )
    square: bool = Field(
        default=False, description="a square crop around the face (else the box's aspect)"
    )
    align: FramingAlign = Field(
        default="none",
        description="eyes: rotate the face upright (eyes level) before cutting; none: as seen",
    )


# FER-style datasets (FER2013 among them) hold square, upright, roughly centred faces: the
# default model's framing, and what `convert build` writes unless told otherwise
FER_STYLE_FRAMING = Framing(margin=DEFAULT_MARGIN, square=True, align="eyes")


class ModelMeta(BaseModel):
    """What the runtime needs to feed a classifier and read its output."""

    model_config = ConfigDict(extra="allow", frozen=True)

    schema_: SchemaTag = Field(alias="schema", description="sidecar format")
    name: str = Field(min_length=1, description="short model name, published with results")
    labels: list[str] = Field(min_length=2, description="class names in output order")
    input_size_hw: tuple[int, int] = Field(description="model input height and width in pixels")
    color_mode: Literal["rgb", "bgr", "grayscale"] = Field(description="channel layout of input")
    normalization: Normalization
    output: Literal["probabilities", "logits"] = Field(
        default="probabilities", description="whether the output is already a softmax"
    )
    framing: Framing | None = Field(
        default=None,
        description="how training faces were framed; absent: faces.margin, axis-aligned",
    )

    @field_validator("labels")
    @classmethod
    def _usable_labels(cls, labels: list[str]) -> list[str]:
        if len(labels) > MAX_LABELS:
            raise ValueError(f"{len(labels)} labels; at most {MAX_LABELS}")
        if len(set(labels)) != len(labels):
            raise ValueError(f"labels repeat a name: {labels}")
        for label in labels:
            # a label is published, logged and offered to Home Assistant as an option
            if not label.strip() or len(label) > MAX_LABEL_CHARS or not label.isprintable():
                raise ValueError(
                    f"label {label[:MAX_LABEL_CHARS]!r}: give 1 to {MAX_LABEL_CHARS} printable "
                    "characters"
                )
            if label.strip().lower() in RESERVED_LABELS:
                raise ValueError(
                    f"label {label!r} is a word the outputs use for themselves "
                    f"({', '.join(sorted(RESERVED_LABELS))}): rename it"
                )
        return labels

    @field_validator("input_size_hw")
    @classmethod
    def _positive_size(cls, size: tuple[int, int]) -> tuple[int, int]:
        if min(size) < 8:
            raise ValueError(f"input_size_hw {list(size)} is too small (at least 8x8)")
        return size

    @model_validator(mode="after")
    def _normalization_fits_the_channels(self) -> ModelMeta:
        # a list gives one value per input channel; any other length cannot be applied
        channels = 1 if self.color_mode == "grayscale" else 3
        for field, value in (
            ("scale", self.normalization.scale),
            ("offset", self.normalization.offset),
        ):
            if isinstance(value, list) and len(value) not in (1, channels):
                raise ValueError(
                    f"normalization.{field} has {len(value)} values, but a {self.color_mode} "
                    f"input has {channels} channel(s): give one number, or one per channel"
                )
        return self

    @property
    def channels(self) -> int:
        return 1 if self.color_mode == "grayscale" else 3


def sidecar_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def load_model_meta(model_path: Path) -> ModelMeta:
    """Read and validate the sidecar of `model_path`; raise ModelError naming the file."""
    path = sidecar_path(model_path)
    if not path.is_file():
        raise ModelError(
            f"{path}: sidecar not found (every .tflite needs a .json beside it; "
            "rebuild the model with `python -m convert`)"
        )
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            raise ModelError(
                f"{path}: larger than {MAX_SIDECAR_BYTES // 1000} kB; a sidecar is a few "
                "hundred bytes (is this the right file?)"
            )
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not readable JSON ({exc})") from exc
    try:
        return ModelMeta.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        raise ModelError(f"{path}: {where}: {message}") from exc
