"""What `convert evaluate` writes: report.json, report.md and confusion.png."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from convert.common import ConvertError
from convert.confidence import confidence_figures
from convert.report import metrics

if TYPE_CHECKING:
    from convert.evaluate import Sample
    from edge.analysis.model_meta import ModelMeta

SCHEMA = "emotion-edge.evaluate/1"
CELL_PX = 64  # one matrix cell in confusion.png
PAD_PX = 12  # white border right of and below the matrix
MD_SKIPPED_SHOWN = 20  # report.md lists this many skipped images; report.json lists them all
FONT = cv2.FONT_HERSHEY_SIMPLEX
INK = (0, 0, 0)
OUTLINE = (215, 215, 215)  # so that empty cells still read as a grid
DARKEST = np.array((150, 70, 20), np.float64)  # BGR of a cell holding a whole row


def _ratio(numerator: int, denominator: int) -> float | None:
    """None where a figure is undefined (no images of a class, nothing predicted as it)."""
    return round(numerator / denominator, 4) if denominator else None


def build_report(
    *,
    model: Path,
    meta: ModelMeta,
    sha256: str,
    data: Path,
    config: Path | None,
    samples: Sequence[Sample],
    missing: list[str],
    crop_max_px: int,
) -> dict[str, Any]:
    labels = list(meta.labels)
    done = [s for s in samples if s.predicted is not None]
    truth = [s.truth for s in done]
    predicted = [s.predicted for s in done if s.predicted is not None]
    base = metrics(truth, predicted, labels)  # accuracy and macro-F1 as build and train give them
    matrix = np.array(base["confusion"])
    hits, support, chosen = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
    taken = [s.path for s in samples]
    return {
        "schema": SCHEMA,
        "model": {
            "file": str(model.resolve()),
            "name": meta.name,
            "sha256": sha256,
            "input_size_hw": list(meta.input_size_hw),
            "color_mode": meta.color_mode,
        },
        "data": {"folder": str(data.resolve()), "classes_without_images": missing},
        "config": str(config) if config else None,
        "rule": {
            "face": "the largest face the device's detector finds, cut and classified as on "
            "the device (face policy largest, reuse off, the per-frame label)",
            "whole_image": f"no face found and both sides at most {crop_max_px} px: the image "
            "is a face crop and is classified whole",
            "crop_max_px": crop_max_px,
        },
        "counts": {
            "files": len(samples),
            "classified": len(done),
            "face": taken.count("face"),
            "whole_image": taken.count("whole_image"),
            "no_face": taken.count("no_face"),
            "unreadable": taken.count("unreadable"),
            "several_faces": sum(s.faces > 1 for s in samples),
        },
        "labels": labels,
        "accuracy": base["accuracy"],
        "macro_f1": base["macro_f1"],
        "classes_evaluated": int((support > 0).sum()),
        "support": {label: int(n) for label, n in zip(labels, support, strict=True)},
        "recall": {label: _ratio(int(hits[i]), int(support[i])) for i, label in enumerate(labels)},
        "precision": {
            label: _ratio(int(hits[i]), int(chosen[i])) for i, label in enumerate(labels)
        },
        "confusion": base["confusion"],  # rows: truth, columns: predicted, in `labels` order
        "confidence": confidence_figures(
            [s.confidence for s in done if s.confidence is not None],
            [s.predicted == s.truth for s in done if s.confidence is not None],
        ),
        "images": [
            {
                "file": s.file,
                "truth": labels[s.truth],
                "path": s.path,
                "predicted": labels[s.predicted] if s.predicted is not None else None,
                "confidence": round(s.confidence, 4) if s.confidence is not None else None,
                "faces": s.faces,
                **({"reason": s.reason} if s.reason else {}),
            }
            for s in samples
        ],
    }


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def markdown(report: dict[str, Any]) -> str:
    labels, counts, rule = report["labels"], report["counts"], report["rule"]
    model, data = report["model"], report["data"]
    lines = [
        f"# Evaluation: {model['name']}",
        "",
        f"- model: `{model['file']}` (sha256 `{model['sha256']}`)",
        f"- data: `{data['folder']}`, {counts['files']} image files",
        f"- config: `{report['config']}`" if report["config"] else "- config: defaults",
        f"- classified: {counts['face']} by a detected face ({counts['several_faces']} with "
        f"several faces: the largest), {counts['whole_image']} whole as face crops (no face "
        f"found, at most {rule['crop_max_px']} px)",
        f"- skipped: {counts['no_face']} without a face, {counts['unreadable']} unreadable",
        "",
        f"Accuracy **{report['accuracy']:.1%}**, macro-F1 **{report['macro_f1']:.3f}** "
        f"(over the {report['classes_evaluated']} classes with images).",
        "",
        "| class | images | recall | precision |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {label} | {report['support'][label]} | {_percent(report['recall'][label])} | "
        f"{_percent(report['precision'][label])} |"
        for label in labels
    ]
    lines += [
        "",
        "Confusion matrix (rows: truth, columns: predicted):",
        "",
        f"| truth \\ predicted | {' | '.join(labels)} |",
        f"| --- |{' ---: |' * len(labels)}",
    ]
    lines += [
        f"| {label} | {' | '.join(str(n) for n in row)} |"
        for label, row in zip(labels, report["confusion"], strict=True)
    ]
    lines += ["", "![confusion matrix](confusion.png)", ""]
    lines += _confidence_lines(report["confidence"])
    skipped = [image for image in report["images"] if image["path"] in ("no_face", "unreadable")]
    if skipped:
        lines += ["Skipped:", ""]
        lines += [f"- `{i['file']}`: {i['reason']}" for i in skipped[:MD_SKIPPED_SHOWN]]
        if len(skipped) > MD_SKIPPED_SHOWN:
            lines.append(f"- and {len(skipped) - MD_SKIPPED_SHOWN} more (report.json)")
        lines.append("")
    return "\n".join(lines)


def _confidence_lines(figures: dict[str, Any]) -> list[str]:
    if not figures.get("images"):
        return []
    lines = [
        f"Confidence: mean top score {figures['mean_confidence']:.1%} against an accuracy of "
        f"{figures['accuracy']:.1%}; expected calibration error "
        f"{figures['expected_calibration_error']:.3f} (0: a score of 0.7 is right 70 % of "
        "the time).",
        "",
        "| smoothing.min_confidence | faces reported (the rest: uncertain) | their accuracy |",
        "| ---: | ---: | ---: |",
    ]
    lines += [
        f"| {row['min_confidence']:.1f} | {row['reported_share']:.1%} | "
        f"{_percent(row['accuracy_of_reported'])} |"
        for row in figures["thresholds"]
    ]
    return [*lines, ""]


def _text(image: np.ndarray, text: str, xy: tuple[int, int], scale: float, color=INK) -> None:
    cv2.putText(image, text, xy, FONT, scale, color, 1, cv2.LINE_AA)


def _width(text: str, scale: float) -> int:
    return cv2.getTextSize(text, FONT, scale, 1)[0][0]


def _turned(strip: np.ndarray) -> np.ndarray:
    """A strip drawn left to right, turned to read bottom to top (OpenCV draws no angle)."""
    return cv2.rotate(strip, cv2.ROTATE_90_COUNTERCLOCKWISE)


def confusion_picture(matrix: np.ndarray, labels: list[str], title: str) -> np.ndarray:
    """Counts in cells shaded by their share of the row; truth down the left, predicted on top.

    The matrix is the bottom-right square of CELL_PX * len(labels), PAD_PX from the edges.
    """
    grid = CELL_PX * len(labels)
    label_px = max(_width(label, 0.5) for label in labels) + 14
    axis_px, title_px = 24, 34
    width = max(axis_px + label_px + grid + PAD_PX, _width(title, 0.55) + 20)
    height = title_px + axis_px + label_px + grid + PAD_PX
    left, top = width - PAD_PX - grid, height - PAD_PX - grid
    image = np.full((height, width, 3), 255, np.uint8)
    _text(image, title, (10, 24), 0.55)
    _text(image, "predicted", (left + (grid - _width("predicted", 0.5)) // 2, title_px + 16), 0.5)
    columns = np.full((grid, label_px, 3), 255, np.uint8)
    truth = np.full((axis_px, grid, 3), 255, np.uint8)
    _text(truth, "truth", ((grid - _width("truth", 0.5)) // 2, axis_px - 7), 0.5)
    image[top : top + grid, left - label_px - axis_px : left - label_px] = _turned(truth)
    share = matrix / matrix.sum(axis=1, keepdims=True).clip(min=1)
    for i, label in enumerate(labels):
        middle = i * CELL_PX + CELL_PX // 2 + 5
        _text(columns, label, (6, middle), 0.5)
        _text(image, label, (left - 8 - _width(label, 0.5), top + middle), 0.5)
        for j in range(len(labels)):
            x, y, s = left + j * CELL_PX, top + i * CELL_PX, float(share[i, j])
            fill = np.round(255 + s * (DARKEST - 255)).astype(int).tolist()
            cv2.rectangle(image, (x, y), (x + CELL_PX - 3, y + CELL_PX - 3), fill, -1)
            cv2.rectangle(image, (x, y), (x + CELL_PX - 3, y + CELL_PX - 3), OUTLINE, 1)
            ink = (255, 255, 255) if s > 0.55 else INK
            number = str(int(matrix[i, j]))
            _text(image, number, (x + (CELL_PX - _width(number, 0.55)) // 2, y + 30), 0.55, ink)
            if matrix[i, j]:
                part = f"{s:.0%}"
                _text(image, part, (x + (CELL_PX - _width(part, 0.4)) // 2, y + 50), 0.4, ink)
    image[top - label_px : top, left : left + grid] = _turned(columns)
    return image


def write_report(report: dict[str, Any], out: Path) -> list[Path]:
    paths = [out / "report.json", out / "report.md", out / "confusion.png"]
    title = (
        f"{report['model']['name']} on {Path(report['data']['folder']).name}: accuracy "
        f"{report['accuracy']:.1%}, macro-F1 {report['macro_f1']:.3f}"
    )
    picture = confusion_picture(np.array(report["confusion"]), report["labels"], title)
    try:
        paths[0].write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        paths[1].write_text(markdown(report), encoding="utf-8")
        if not cv2.imwrite(str(paths[2]), picture):
            raise OSError(f"OpenCV could not write {paths[2].name}")
    except OSError as exc:
        raise ConvertError(
            f"{out}: cannot write the report ({exc.strerror or exc}); choose another folder "
            "with --out"
        ) from None
    return paths
