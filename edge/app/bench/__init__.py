"""`emotion-edge bench`: where the time goes, and what the threaded pipeline wins.

Prints a table and writes JSON. Absolute figures belong to the machine they were
measured on; the ratios (pipeline vs serial, display vs source, fewer classifier
calls) are what carries over to other devices.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.analysis.align import frame_face
from edge.analysis.analyzer import FrameAnalyzer
from edge.analysis.blazeface import BlazeFaceDetector
from edge.analysis.classify import TFLiteClassifier
from edge.analysis.model_meta import load_model_meta
from edge.analysis.stages import open_stages
from edge.app.bench.runs import (
    Draw,
    load_frames,
    paced_run,
    pipeline_run,
    reuse_run,
    serial_run,
)
from edge.app.cache import cache_dir
from edge.config import Config
from edge.pipeline.stats import percentiles
from edge.types import Frame, Result

THREAD_SWEEP = (1, 2, 4)
CACHE = cache_dir() / "models"


def cached_models(vgg19: bool, default_model: Path) -> list[Path]:
    """Build (once, with TensorFlow) what the comparison needs: float twin, VGG19-150 int8."""
    extra = []
    twin = CACHE / default_model.name.replace("int8", "float32")
    if not twin.is_file() and default_model.name.startswith("emotion_fer"):
        from convert.fer_model import build_float_twin

        build_float_twin(twin)
    if vgg19:
        vgg = CACHE / "vgg19_150_random_int8.tflite"
        if not vgg.is_file():
            from convert.vgg19 import random_vgg19_int8

            random_vgg19_int8(vgg)
        extra.append(vgg)
    return extra


def default_draw() -> Draw:
    """The display's own drawing function when it is installed, else boxes and labels."""
    try:
        from edge.display.overlay import draw_overlay

        return lambda image, result: draw_overlay(image, result)
    except ImportError:
        return _boxes_and_labels


def _boxes_and_labels(image: np.ndarray, result: Result | None) -> np.ndarray:
    out = image.copy()
    for face in result.faces if result else ():
        x, y, w, h = face.box_xywh
        cv2.rectangle(out, (x, y), (x + w, y + h), (0, 255, 0), 2)
        cv2.putText(
            out,
            f"{face.label} {face.confidence:.2f}",
            (x, max(12, y - 6)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6,
            (0, 255, 0),
            2,
        )
    return out


class Bench:
    def __init__(self, config: Config, source: Path, quick: bool) -> None:
        self.config = config
        self.source = source
        self.quick = quick
        self.draw = default_draw()

    @contextmanager
    def analyzer(self, model: Path, reuse: bool = False) -> Iterator[FrameAnalyzer]:
        with open_stages(self.config, model=model, reuse=reuse) as stages:
            yield stages.analyzer

    def thread_sweep(self, model: Path, crop: np.ndarray) -> dict[str, Any]:
        sweep: dict[str, Any] = {}
        for threads in THREAD_SWEEP:
            classifier = TFLiteClassifier(model, threads)
            times = [classifier.classify(crop).inference_ms for _ in range(8 if self.quick else 40)]
            sweep[str(threads)] = percentiles(times[2:])  # first calls warm caches up
        return sweep

    def model_section(
        self,
        model: Path,
        frames: list[np.ndarray],
        paced_s: float,
    ) -> dict[str, Any]:
        section: dict[str, Any] = {"model": str(model)}
        crop = cv2.resize(frames[0], (160, 160))
        section["inference_ms_by_threads"] = self.thread_sweep(model, crop)
        for name, runner in (("serial", serial_run), ("pipeline", pipeline_run)):
            with self.analyzer(model) as analyzer:
                section[name] = runner(self.source, analyzer, self.draw)
        section["pipeline_vs_serial_x"] = round(
            section["pipeline"]["fps"] / max(section["serial"]["fps"], 1e-9), 2
        )
        with self.analyzer(model) as analyzer:
            section["paced_30fps"] = paced_run(frames, 30.0, paced_s, analyzer, self.draw)
        paced = section["paced_30fps"]
        section["display_vs_source"] = round(
            paced.get("display_fps", 0) / max(paced.get("capture_fps", 0), 1e-9), 3
        )
        return section

    def stage_times(self, model: Path, frames: list[np.ndarray]) -> dict[str, Any]:
        """Per-stage p50/p95 from the analyzer's own timings, serial, no reuse."""
        stages: dict[str, list[float]] = {"detect": [], "preprocess": [], "inference": []}
        with self.analyzer(model) as analyzer:
            for i, image in enumerate(frames):
                result = analyzer.analyze(_frame(i, image))
                stages["detect"].append(result.timings.detect_ms)
                if result.faces:
                    stages["preprocess"].append(result.timings.preprocess_ms)
                    stages["inference"].append(result.timings.inference_ms)
        return {name: percentiles(v) for name, v in stages.items()}

    def reuse(self, model: Path, frames: list[np.ndarray], fps: float) -> dict[str, Any]:
        still = [frames[0]] * (60 if self.quick else 300)  # one face, not moving
        make = lambda reuse: self.analyzer(model, reuse=reuse)  # noqa: E731
        runs = {"sample": reuse_run(frames, fps, make), "still_scene": reuse_run(still, fps, make)}
        # a still scene cannot show harm: also a real face that moves and changes, when the
        # clip is in the cache (./setup.sh --dev puts it there; nothing is downloaded here)
        changing = cache_dir() / "clips" / "crying_to_laughing.mp4"
        if changing.is_file() and not self.quick:
            clip, clip_fps = load_frames(changing)
            runs["changing_face"] = reuse_run(clip, clip_fps, make)
        return runs

    def startup(self, model: Path) -> dict[str, Any]:
        """A fresh process: time to the first result, and its peak memory."""
        with tempfile.TemporaryDirectory() as tmp:
            summary = Path(tmp) / "s.json"
            cmd = [
                sys.executable,
                "-m",
                "edge",
                "run",
                "--source",
                str(self.source),
                "--model",
                str(model),
                "--max-frames",
                "30",
                "--realtime",
                "false",
                "--output",
                os.devnull,
                "--summary-json",
                str(summary),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            if proc.returncode != 0:
                return {"error": proc.stderr.strip().splitlines()[-1:]}
            data = json.loads(summary.read_text())
        return {
            "first_result_after_start_s": data.get("first_result_after_start_s"),
            "peak_rss_mb": data.get("peak_rss_mb"),
        }


def _frame(index: int, image: np.ndarray) -> Frame:
    return Frame(index, image, time.monotonic(), time.time())


def face_crops(bench: Bench, frames: list[np.ndarray]) -> list[np.ndarray]:
    """The crops the classifier sees on the clip, from the real detector and crop rule."""
    meta = load_model_meta(bench.config.classifier.model_path)
    detector = BlazeFaceDetector(bench.config.detector)
    crops = []
    try:
        for image in frames:
            for det in detector.detect(image):
                face = frame_face(
                    image,
                    det.box_xywh,
                    det.keypoints_xy,
                    meta.framing,
                    margin=bench.config.faces.margin,
                    model_hw=meta.input_size_hw,
                )
                crops.append(face.image_bgr)
    finally:
        detector.close()
    return crops


def model_pair(float_model: Path, int8_model: Path, crops: list[np.ndarray]) -> dict[str, Any]:
    """Latency of each and how often the int8 model's top-1 equals the float model's."""
    float_c, int8_c = TFLiteClassifier(float_model), TFLiteClassifier(int8_model)
    f_ms, q_ms, same = [], [], 0
    for crop in crops:
        f_out, q_out = float_c.classify(crop), int8_c.classify(crop)
        f_ms.append(f_out.inference_ms)
        q_ms.append(q_out.inference_ms)
        same += int(np.argmax(f_out.probabilities) == np.argmax(q_out.probabilities))
    return {
        "float_model": str(float_model),
        "int8_model": str(int8_model),
        "float_ms": percentiles(f_ms),
        "int8_ms": percentiles(q_ms),
        "faces": len(crops),
        "top1_agreement": round(same / max(1, len(crops)), 4),
    }


def float_twin(model: Path) -> Path | None:
    twin = model.with_name(model.name.replace("int8", "float32"))
    cached = CACHE / twin.name
    return next((p for p in (twin, cached) if p != model and p.is_file()), None)


def run_bench(
    config: Config, source: Path, models: list[Path], paced_s: float, quick: bool
) -> dict[str, Any]:
    bench = Bench(config, source, quick)
    frames, fps = load_frames(source)
    report: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
        },
        "source": {"path": str(source), "frames": len(frames), "fps": fps},
        "note": "absolute times are this machine's; ratios carry over",
        "models": {},
    }
    for model in models:
        entry = bench.model_section(model, frames, paced_s)
        entry["stage_ms"] = bench.stage_times(model, frames)
        entry["mirror_average"] = config.classifier.mirror_average  # 2 passes per face
        entry["startup"] = bench.startup(model)
        report["models"][model.stem] = entry
    report["reuse"] = bench.reuse(models[0], frames, fps)
    twin = float_twin(models[0])
    if twin is not None:
        report["model_pair"] = model_pair(twin, models[0], face_crops(bench, frames))
    return report
