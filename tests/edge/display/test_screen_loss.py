"""A screen that fails mid-run costs the display, not the run (issue 25, case 8).

The framebuffer is a regular file and a sysfs-like folder (see test_framebuffer.py); its
loss is what unplugging a screen does to the kernel's side: the device's sysfs folder
goes, or its mode changes to one that cannot be drawn.
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

import cv2
import pytest

from edge.config import SourceConfig
from edge.display import DisplayViewer
from edge.display.framebuffer import FramebufferDisplay
from edge.pipeline.stats import PipelineStats
from edge.pipeline.threads import Pipeline
from edge.sources import make_source
from edge.types import Result
from tests.conftest import write_video
from tests.edge.display.test_framebuffer import Geometry, fake_framebuffer

FRAMES = 30
BREAK_AT = 5  # results before the screen fails


def unplugged(sysfs: Path) -> None:
    shutil.rmtree(sysfs)  # the driver is gone: so is /sys/class/graphics/fbN


def grown(sysfs: Path) -> None:
    (sysfs / "virtual_size").write_text("800,4000\n")  # more memory than the device maps


def deeper(sysfs: Path) -> None:
    (sysfs / "bits_per_pixel").write_text("24\n")  # a depth we cannot draw


class BreakScreen:
    """A sink that breaks the screen once BREAK_AT results are out, then records on."""

    def __init__(self, sysfs: Path, how) -> None:
        self.sysfs, self.how = sysfs, how
        self.results: list[int] = []
        self.broken = threading.Event()

    def emit(self, result: Result) -> None:
        self.results.append(result.frame_index)
        if len(self.results) == BREAK_AT:
            self.how(self.sysfs)
            self.broken.set()

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        (unplugged, "cannot read the framebuffer geometry"),
        (grown, "cannot map its memory"),
        (deeper, "24 bits per pixel is not supported"),
    ],
)
def test_a_framebuffer_that_fails_mid_run_leaves_the_run_going(
    tmp_path, astronaut_bgr, analyzer, caplog, how, reason
):
    clip = write_video(tmp_path / "c.avi", [cv2.resize(astronaut_bgr, (320, 240))] * FRAMES)
    device, sysfs = fake_framebuffer(tmp_path, Geometry((800, 480), (800, 960), (0, 480), 32, 3200))
    stats = PipelineStats()
    viewer = DisplayViewer(FramebufferDisplay(device, sysfs), stats)
    sink = BreakScreen(sysfs, how)
    caplog.set_level(logging.WARNING)
    cfg = SourceConfig(uri=str(clip), realtime=False)  # unpaced file: lossless, every frame
    try:
        Pipeline(
            make_source(cfg),
            analyzer,
            [sink],
            stop=threading.Event(),
            stats=stats,
            viewers=[viewer],
        ).run()  # no exception: the display's failure is not the run's
    finally:
        viewer.close()
    assert sink.broken.is_set()
    assert sink.results == list(range(FRAMES))  # every frame processed and emitted
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(messages) == 1, messages
    assert messages[0].startswith(f"framebuffer {device} 800x480 32 bpp: the display failed (")
    assert reason in messages[0] and messages[0].endswith("; going on without a display")
    assert viewer.failed is not None
    assert viewer.screen._fd == -1  # the device was let go at once
