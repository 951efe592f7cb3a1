"""What `convert evaluate` writes: report.json, report.md and confusion.png."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from convert.confidence import confidence_figures
from convert.evaluate_sample import Sample
from convert.report import metrics
from convert.report_files import ReportFile, confusion_picture, write_report

if TYPE_CHECKING:
    from edge.analysis.model_meta import ModelMeta

SCHEMA = "emotion-edge.evaluate/1"
OUT_FIX = "another folder with --out"
MD_SKIPPED_SHOWN = 20  # report.md lists this many skipped images; report.json lists them all


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
        "rule": _rule(crop_max_px),
        "counts": _counts(samples, done),
        "labels": labels,
        **_scores(done, labels),
        "confidence": confidence_figures(
            [s.confidence for s in done if s.confidence is not None],
            [s.predicted == s.truth for s in done if s.confidence is not None],
        ),
        "images": [_image_row(s, labels) for s in samples],
    }


def _rule(crop_max_px: int) -> dict[str, Any]:
    return {
        "face": "the largest face the device's detector finds, cut and classified as on "
        "the device (face policy largest, reuse off, the per-frame label)",
        "whole_image": f"no face found and both sides at most {crop_max_px} px: the image "
        "is a face crop and is classified whole",
        "crop_max_px": crop_max_px,
    }


def _counts(samples: Sequence[Sample], done: list[Sample]) -> dict[str, int]:
    taken = [s.path for s in samples]
    return {
        "files": len(samples),
        "classified": len(done),
        "face": taken.count("face"),
        "whole_image": taken.count("whole_image"),
        "no_face": taken.count("no_face"),
        "unreadable": taken.count("unreadable"),
        "several_faces": sum(s.faces > 1 for s in samples),
    }


def _scores(done: list[Sample], labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 (as build and train give them), per-class figures, the matrix."""
    truth = [s.truth for s in done]
    predicted = [s.predicted for s in done if s.predicted is not None]
    base = metrics(truth, predicted, labels)
    matrix = np.array(base["confusion"])
    hits, support, chosen = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
    return {
        "accuracy": base["accuracy"],
        "macro_f1": base["macro_f1"],
        "classes_evaluated": int((support > 0).sum()),
        "support": {label: int(n) for label, n in zip(labels, support, strict=True)},
        "recall": {label: _ratio(int(hits[i]), int(support[i])) for i, label in enumerate(labels)},
        "precision": {
            label: _ratio(int(hits[i]), int(chosen[i])) for i, label in enumerate(labels)
        },
        "confusion": base["confusion"],  # rows: truth, columns: predicted, in `labels` order
    }


def _image_row(s: Sample, labels: list[str]) -> dict[str, Any]:
    return {
        "file": s.file,
        "truth": labels[s.truth],
        "path": s.path,
        "predicted": labels[s.predicted] if s.predicted is not None else None,
        "confidence": round(s.confidence, 4) if s.confidence is not None else None,
        "faces": s.faces,
        **({"reason": s.reason} if s.reason else {}),
    }


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def write_evaluation_report(report: dict[str, Any], out: Path) -> list[Path]:
    """report.json, report.md and confusion.png in `out`."""
    title = (
        f"{report['model']['name']} on {Path(report['data']['folder']).name}: accuracy "
        f"{report['accuracy']:.1%}, macro-F1 {report['macro_f1']:.3f}"
    )
    picture = confusion_picture(np.array(report["confusion"]), report["labels"], title)
    files: dict[Path, ReportFile] = {
        out / "report.json": report,
        out / "report.md": markdown(report),
        out / "confusion.png": picture,
    }
    return write_report(files, fix=OUT_FIX)


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
