"""What quantisation changed: float vs int8 on labelled images, as JSON, Markdown and a picture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from convert.report_files import ReportFile, confusion_picture, write_report
from edge.pipeline.stats import percentiles


def confusion(y_true: list[int], y_pred: list[int], classes: int) -> np.ndarray:
    matrix = np.zeros((classes, classes), np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        matrix[t, p] += 1
    return matrix


def metrics(y_true: list[int], y_pred: list[int], labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class recall (rows of the confusion matrix are the truth)."""
    matrix = confusion(y_true, y_pred, len(labels))
    true_pos = np.diag(matrix).astype(float)
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    recall = np.divide(true_pos, support, out=np.zeros_like(true_pos), where=support > 0)
    precision = np.divide(true_pos, predicted, out=np.zeros_like(true_pos), where=predicted > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(true_pos), where=denom > 0)
    present = support > 0
    return {
        "accuracy": round(float(true_pos.sum() / max(1, matrix.sum())), 4),
        "macro_f1": round(float(f1[present].mean()) if present.any() else 0.0, 4),
        "recall": {label: round(float(r), 4) for label, r in zip(labels, recall, strict=True)},
        "confusion": matrix.tolist(),
    }


# A float top-2 gap under this is a near-tie: the float model itself is torn between two
# classes there, and a rounding step may tip it either way; above it, int8 must agree.
NEAR_TIE_GAP = 0.2


def agreement(float_probs: np.ndarray, int8_probs: np.ndarray) -> dict[str, Any]:
    """How often int8's top-1 is float's, overall and on faces the float model is clear about."""
    same = np.argmax(float_probs, axis=1) == np.argmax(int8_probs, axis=1)
    ordered = np.sort(float_probs, axis=1)
    clear = ordered[:, -1] - ordered[:, -2] >= NEAR_TIE_GAP
    return {
        "images": len(same),
        "top1_agreement": round(float(same.mean()), 4) if len(same) else 0.0,
        "clear_images": int(clear.sum()),
        "top1_agreement_clear": round(float(same[clear].mean()), 4) if clear.any() else 0.0,
        "disagreements_clear": int((~same & clear).sum()),
        "mean_abs_probability_change": round(float(np.abs(float_probs - int8_probs).mean()), 5)
        if len(same)
        else 0.0,
    }


def compare(
    labels: list[str],
    y_true: list[int],
    float_probs: np.ndarray,
    int8_probs: np.ndarray,
    float_ms: list[float],
    int8_ms: list[float],
    held_out: np.ndarray,
) -> dict[str, Any]:
    """Accuracy of both on every image; their agreement on the `held_out` ones only
    (images that calibrated the int8 model flatter it), or on all when none is held out."""
    float_pred = [int(i) for i in np.argmax(float_probs, axis=1)]
    int8_pred = [int(i) for i in np.argmax(int8_probs, axis=1)]
    measured = held_out if held_out.any() else np.ones_like(held_out)
    agree = agreement(float_probs[measured], int8_probs[measured])
    return {
        "images": len(y_true),
        "labels": labels,
        "used_for_calibration": int((~held_out).sum()),
        "top1_agreement": agree["top1_agreement"],
        "agreement": agree,
        "float": {**metrics(y_true, float_pred, labels), "latency_ms": percentiles(float_ms)},
        "int8": {**metrics(y_true, int8_pred, labels), "latency_ms": percentiles(int8_ms)},
    }


def _agreement_line(q: dict[str, Any]) -> str:
    a = q["agreement"]
    line = (
        f"Top-1 agreement float vs int8: **{a['top1_agreement']:.1%}** of {a['images']}; "
        f"{a['top1_agreement_clear']:.1%} of the {a['clear_images']} where float's top two "
        f"differ by {NEAR_TIE_GAP} or more (the rest are near-ties)."
    )
    if q["used_for_calibration"] == 0:
        return line + " None of these images calibrated the model."
    if q["used_for_calibration"] == q["images"]:
        return line + (
            " All of them also calibrated the model, which flatters int8: "
            "pass --report a folder of other faces."
        )
    return line + f" Measured without the {q['used_for_calibration']} that calibrated it."


def write_quantisation_report(report: dict[str, Any], model_path: Path) -> list[Path]:
    """NAME.report.json, .report.md and .report.png (confusion matrices: rows are the truth)."""
    json_path, md_path, png_path = (
        model_path.with_name(f"{model_path.stem}.report{ext}") for ext in (".json", ".md", ".png")
    )
    q = report["quality"]
    pictures = [
        confusion_picture(np.array(q[k]["confusion"]), q["labels"], f"{k} (rows: truth)")
        for k in ("float", "int8")
    ]
    files: dict[Path, ReportFile] = {
        json_path: report,
        md_path: _markdown(report, png_path.name),
        png_path: np.concatenate(pictures, axis=1),
    }
    return write_report(files, fix="a writable --out")


def _markdown(report: dict[str, Any], picture_name: str) -> str:
    labels = report["quality"]["labels"]
    q = report["quality"]
    lines = [
        f"# Quantisation report: {report['model']['name']}",
        "",
        f"- source: `{report['model']['source']}` (sha256 `{report['model']['source_sha256']}`)",
        f"- int8 file: `{report['model']['tflite']}`, {report['model']['tflite_bytes']:,} bytes "
        f"(float TFLite {report['model']['float_tflite_bytes']:,} bytes)",
        f"- calibration: {report['calibration']['images']} images, "
        f"{report['calibration']['skipped']} skipped",
        "",
        f"Evaluated on {q['images']} labelled images. {_agreement_line(q)}",
        "",
        "| | float | int8 |",
        "| --- | --- | --- |",
        f"| accuracy | {q['float']['accuracy']:.1%} | {q['int8']['accuracy']:.1%} |",
        f"| macro-F1 | {q['float']['macro_f1']:.3f} | {q['int8']['macro_f1']:.3f} |",
        f"| latency p50 / p95 (ms, this machine) | {q['float']['latency_ms']['p50']} / "
        f"{q['float']['latency_ms']['p95']} | {q['int8']['latency_ms']['p50']} / "
        f"{q['int8']['latency_ms']['p95']} |",
    ]
    lines += [
        f"| recall {label} | {q['float']['recall'][label]:.1%} | {q['int8']['recall'][label]:.1%} |"
        for label in labels
    ]
    lines += ["", f"![confusion matrices]({picture_name})", ""]
    return "\n".join(lines)
