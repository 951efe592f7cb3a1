"""The bench as a smoke test: it runs on the demo clip and writes a complete JSON report.

Timing figures are the bench's output, not something a test asserts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from edge.config import DEMO_SAMPLE as DEMO_CLIP
from tests.conftest import DEFAULT_MODEL, run_cli


def test_bench_quick_writes_valid_json(tmp_path: Path):
    cap = cv2.VideoCapture(str(DEMO_CLIP))  # the clip's frames, counted here
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    assert frames > 30
    out = tmp_path / "bench.json"
    proc = run_cli("bench", "--quick", "--paced-seconds", "4", "--json", str(out), timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    ((name, model),) = report["models"].items()
    assert name == DEFAULT_MODEL.stem
    # every frame went through each run: none lost, none counted twice
    assert report["source"]["frames"] == frames
    assert model["serial"]["frames"] == model["pipeline"]["frames"] == frames
    assert {p["n"] for p in model["serial"]["stage_ms"].values()} == {frames}
    stages = model["stage_ms"]
    assert stages["detect"]["n"] == frames
    with_face = stages["inference"]["n"]  # frames where a face was classified
    assert 0 < with_face == stages["preprocess"]["n"] <= frames
    for p in [*stages.values(), *model["serial"]["stage_ms"].values()]:
        assert 0 < p["p50"] <= p["p95"], p
    assert {p["n"] for p in model["inference_ms_by_threads"].values()} == {6}  # --quick: 8 - 2
    paced = model["paced_30fps"]  # 4 s of frames offered at 30 fps
    assert abs(paced["captured"] - 120) <= 3, paced
    assert paced["captured"] == paced["processed"] + paced["dropped"]
    assert model["startup"]["peak_rss_mb"] > 0
    assert 0 < model["startup"]["first_result_after_start_s"] < 60
    sample, still = report["reuse"]["sample"], report["reuse"]["still_scene"]
    # without reuse the classifier runs once per face, as in the stage timings above
    assert sample["frames"] == frames and sample["classifier_calls_every_frame"] == with_face
    # one face that does not move: classified on the first frame, then mostly reused
    assert still["frames"] == 60 and still["classifier_calls_every_frame"] == 60
    assert still["classifier_calls_with_reuse"] <= 60 // 4, still
    assert still["emotion_agreement"] == 1.0  # the same picture keeps its emotion
    pair = report["model_pair"]  # TensorFlow is in the dev set-up, so the float twin is built
    assert pair["faces"] > 0 and pair["top1_agreement"] >= 0.8, pair
    assert f"({frames} frames at" in proc.stdout and "reuse on still_scene: 60 ->" in proc.stdout


def test_bench_missing_source_is_one_line(tmp_path: Path):
    proc = run_cli("bench", "--source", str(tmp_path / "none.mp4"))
    assert proc.returncode == 2
    assert "none.mp4: bench source not found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bench_on_a_file_that_is_no_video_is_one_line(tmp_path: Path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(100_000))
    proc = run_cli("bench", "--quick", "--source", str(junk))
    assert proc.returncode == 2
    assert "junk.mp4: no video frame could be decoded" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bench_with_a_sidecar_that_does_not_fit_is_one_line(tmp_path: Path):
    model = tmp_path / "m.tflite"
    shutil.copy(DEFAULT_MODEL, model)
    sidecar = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    sidecar["normalization"]["scale"] = [1, 2, 3]  # three values for a grayscale input
    model.with_suffix(".json").write_text(json.dumps(sidecar))
    proc = run_cli("bench", "--quick", "--model", str(model))
    assert proc.returncode == 1
    assert "m.json" in proc.stderr and "normalization.scale has 3 values" in proc.stderr
    assert "Traceback" not in proc.stderr
