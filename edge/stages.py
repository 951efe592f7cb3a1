"""The analysis stages a config describes, opened once for `run`, `snapshot` and `bench`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from edge.analyze import FrameAnalyzer
from edge.blazeface import BlazeFaceDetector
from edge.classify import TFLiteClassifier
from edge.config import Config


@dataclass(frozen=True)
class Stages:
    """What `open_stages` opened: the analyzer and, for reports, its concrete parts."""

    analyzer: FrameAnalyzer
    classifier: TFLiteClassifier
    detector: BlazeFaceDetector


@contextlib.contextmanager
def open_stages(
    config: Config,
    *,
    model: Path | None = None,
    threads: int | None = None,
    reuse: bool | None = None,
) -> Iterator[Stages]:
    """Detector + classifier + analyzer; the detector is closed on the way out.

    `model`, `threads` and `reuse` override the config for the bench's comparisons.
    """
    classifier = TFLiteClassifier(
        model or config.classifier.model_path,
        threads or config.classifier.threads,
        mirror_average=config.classifier.mirror_average,
    )
    reuse_cfg = (
        config.reuse if reuse is None else config.reuse.model_copy(update={"enabled": reuse})
    )
    detector = BlazeFaceDetector(config.detector)
    try:
        analyzer = FrameAnalyzer(detector, classifier, config.faces, config.smoothing, reuse_cfg)
        yield Stages(analyzer, classifier, detector)
    finally:
        detector.close()
