#!/usr/bin/env python3
"""Compare two `python -m edge run --output FILE` JSON Lines runs (reference and candidate).

Equal: the frame list, each frame's status, emotion and face count, each face's
emotion. Within tolerance: face boxes (--box-px, default 2), every emotion score and confidence
(--score, default 2/256: two steps of an int8 output quantised to [0, 1]; the aligned face
crop is one bilinear warp, whose last bit differs between OpenCV's x86 and ARM builds, and
that moves 3 of the demo's 735 scores by two steps) and detection scores
(--detection-score, default 0.02: BlazeFace is a float model, and float sums on ARM and x86
differ in their last bits).
Timings are printed for information only. Exit 0 when the runs agree, 1 with one line naming
the first difference otherwise, 2 when a file cannot be read.

    compare_runs.py [--label NAME] REFERENCE.jsonl CANDIDATE.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

STAGES = ("detect", "preprocess", "inference", "total")


class Mismatch(Exception):
    pass


def load(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{number}: not JSON ({exc})") from None
    return rows


def close(a: float | None, b: float | None, tol: float) -> bool:
    if a is None or b is None:
        return a is b
    return abs(float(a) - float(b)) <= tol


def compare_scores(where: str, a: dict[str, float], b: dict[str, float], tol: float) -> float:
    if set(a) != set(b):
        raise Mismatch(f"{where}: score labels differ: {sorted(a)} vs {sorted(b)}")
    worst = 0.0
    for label in a:
        diff = abs(float(a[label]) - float(b[label]))
        worst = max(worst, diff)
        if diff > tol:
            raise Mismatch(
                f"{where}: score {label!r} {a[label]:.4f} vs {b[label]:.4f} "
                f"(differs by {diff:.4f} > {tol:.4f})"
            )
    return worst


def compare(
    ref: list[dict[str, Any]],
    new: list[dict[str, Any]],
    box_px: float,
    score_tol: float,
    detection_tol: float,
) -> dict[str, float]:
    if len(ref) != len(new):
        raise Mismatch(f"{len(ref)} frames in the reference, {len(new)} in the candidate")
    worst = {"box_px": 0.0, "score": 0.0}
    for a, b in zip(ref, new, strict=True):
        where = f"frame {a.get('frame')}"
        # emotion is the reported one: decided on the file's own time, so it must agree
        for key in ("frame", "status", "emotion", "faces_detected"):
            if a.get(key) != b.get(key):
                raise Mismatch(f"{where}: {key} {a.get(key)!r} vs {b.get(key)!r}")
        faces_a, faces_b = a.get("faces", []), b.get("faces", [])
        if len(faces_a) != len(faces_b):
            raise Mismatch(f"{where}: {len(faces_a)} faces vs {len(faces_b)}")
        for key in ("confidence",):
            if not close(a.get(key), b.get(key), score_tol):
                raise Mismatch(f"{where}: {key} {a.get(key)} vs {b.get(key)}")
        worst["score"] = max(
            worst["score"],
            compare_scores(where, a.get("scores", {}), b.get("scores", {}), score_tol),
        )
        for i, (fa, fb) in enumerate(zip(faces_a, faces_b, strict=True)):
            fwhere = f"{where} face {i}"
            if fa.get("emotion") != fb.get("emotion"):
                raise Mismatch(f"{fwhere}: emotion {fa.get('emotion')!r} vs {fb.get('emotion')!r}")
            box_a, box_b = fa.get("box_xywh", []), fb.get("box_xywh", [])
            if len(box_a) != len(box_b):
                raise Mismatch(f"{fwhere}: box {box_a} vs {box_b}")
            for va, vb in zip(box_a, box_b, strict=True):
                diff = abs(float(va) - float(vb))
                worst["box_px"] = max(worst["box_px"], diff)
                if diff > box_px:
                    raise Mismatch(
                        f"{fwhere}: box {box_a} vs {box_b} (more than {box_px:g} px apart)"
                    )
            if not close(fa.get("confidence"), fb.get("confidence"), score_tol):
                raise Mismatch(
                    f"{fwhere}: confidence {fa.get('confidence')} vs {fb.get('confidence')}"
                )
            if not close(fa.get("detection_score"), fb.get("detection_score"), detection_tol):
                raise Mismatch(
                    f"{fwhere}: detection_score {fa.get('detection_score')} vs "
                    f"{fb.get('detection_score')} (more than {detection_tol:g} apart)"
                )
            worst["score"] = max(
                worst["score"],
                compare_scores(fwhere, fa.get("scores", {}), fb.get("scores", {}), score_tol),
            )
    return worst


def timing_line(rows: list[dict[str, Any]]) -> str:
    parts = []
    for stage in STAGES:
        values = [r["timings_ms"][stage] for r in rows if stage in r.get("timings_ms", {})]
        if values:
            parts.append(f"{stage} {statistics.median(values):.1f}")
    return "median ms: " + ", ".join(parts) if parts else "no timings"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("candidate", type=Path)
    parser.add_argument(
        "--label", default="candidate", help="name of the candidate run in messages"
    )
    parser.add_argument("--box-px", type=float, default=2.0)
    parser.add_argument("--score", type=float, default=2 / 256)
    parser.add_argument("--detection-score", type=float, default=0.02)
    args = parser.parse_args(argv)
    try:
        ref, new = load(args.reference), load(args.candidate)
    except OSError as exc:
        print(f"compare_runs: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    if not ref:
        print(f"compare_runs: {args.reference} has no frames", file=sys.stderr)
        return 1
    # a float tolerance of exactly one step must accept a difference of exactly one step
    tol = args.score * (1 + 1e-6)
    try:
        worst = compare(ref, new, args.box_px, tol, args.detection_score)
    except Mismatch as exc:
        print(f"compare_runs: {args.label} differs from the reference at {exc}", file=sys.stderr)
        return 1
    faces = sum(len(r.get("faces", [])) for r in ref)
    print(
        f"   {args.label}: {len(ref)} frames, {faces} faces agree "
        f"(largest box difference {worst['box_px']:g} px, score {worst['score']:.4f})"
    )
    print(f"   host      {timing_line(ref)}")
    print(f"   {args.label:<9} {timing_line(new)} (emulated, information only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
