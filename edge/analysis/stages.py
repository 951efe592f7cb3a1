"""The analysis stages a config describes, opened once for `run`, `snapshot` and `bench`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from edge.analysis.analyzer import FrameAnalyzer
from edge.analysis.blazeface import BlazeFaceDetector
from edge.analysis.classify import TFLiteClassifier
from edge.analysis.track import reuse_state, reuse_wanted
from edge.config import Config

log = logging.getLogger(__name__)


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
    setting = config.reuse.enabled if reuse is None else reuse
    wanted = reuse_wanted(setting, classifier.multiply_adds_per_face)
    if setting == "auto":  # the run's summary says it too
        log.debug("reuse %s", reuse_state(setting, classifier.multiply_adds_per_face))
    reuse_cfg = config.reuse.model_copy(update={"enabled": wanted})
    detector = BlazeFaceDetector(config.detector)
    try:
        analyzer = FrameAnalyzer(detector, classifier, config.faces, config.smoothing, reuse_cfg)
        yield Stages(analyzer, classifier, detector)
    finally:
        detector.close()
