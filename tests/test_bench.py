"""The bench as a smoke test: it runs on the demo clip and writes a complete JSON report.

Timing figures are the bench's output, not something a test asserts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from tests.conftest import DEFAULT_MODEL, run_cli


def test_bench_quick_writes_valid_json(tmp_path: Path):
    out = tmp_path / "bench.json"
    proc = run_cli("bench", "--quick", "--paced-seconds", "4", "--json", str(out), timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    ((name, model),) = report["models"].items()
    assert name == "emotion_fer_mini_xception_int8"
    for stage in ("detect", "preprocess", "inference"):
        assert set(model["stage_ms"][stage]) == {"p50", "p95", "n"}
    assert set(model["serial"]["stage_ms"]) == {"decode", "analyze", "draw", "sinks"}
    assert model["serial"]["frames"] == model["pipeline"]["frames"] == report["source"]["frames"]
    assert model["pipeline_vs_serial_x"] > 0
    paced = model["paced_30fps"]
    assert paced["captured"] == paced["processed"] + paced["dropped"]
    assert set(model["inference_ms_by_threads"]) == {"1", "2", "4"}
    assert model["startup"]["peak_rss_mb"] > 0
    assert model["startup"]["first_result_after_start_s"] > 0
    for scene in ("sample", "still_scene"):
        reuse = report["reuse"][scene]
        assert reuse["classifier_calls_with_reuse"] <= reuse["classifier_calls_every_frame"]
        assert 0.0 <= reuse["emotion_agreement"] <= 1.0
    pair = report["model_pair"]  # TensorFlow is in the dev set-up, so the float twin is built
    assert pair["faces"] > 0 and 0.0 <= pair["top1_agreement"] <= 1.0
    assert "pipeline" in proc.stdout and "reuse on sample" in proc.stdout


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
