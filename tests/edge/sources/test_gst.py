"""GStreamer pipelines through a real gst-launch-1.0 child process (Debian's gstreamer1.0-tools)."""

from __future__ import annotations

import json
import logging

import pytest

from edge.config import SourceConfig
from edge.config.source import launch_args
from edge.sources import FeedPolicy, ReconnectingSource, SourceUnavailable, make_source
from edge.sources.gstreamer import GstLaunchSource
from tests.conftest import run_cli

TAIL = [
    "!",
    "videoconvert",
    "!",
    "videoscale",
    "!",
    "video/x-raw,format=BGR,width=64,height=48",
    "!",
    "fdsink",
    "fd=1",
    "sync=false",
]


@pytest.mark.parametrize(
    ("pipeline", "head"),
    [
        ("videotestsrc", ["videotestsrc"]),
        (
            "nvarguscamerasrc ! nvvidconv ! appsink drop=true max-buffers=1",
            ["nvarguscamerasrc", "!", "nvvidconv"],
        ),
        ("v4l2src device=/dev/video0 !", ["v4l2src", "device=/dev/video0"]),
    ],
)
def test_pipeline_is_ended_with_raw_bgr_on_stdout(pipeline, head):
    assert launch_args(pipeline, 64, 48) == ["gst-launch-1.0", "-q", *head, *TAIL]


def source(pipeline: str) -> GstLaunchSource:
    made = make_source(SourceConfig(uri=pipeline, width=64, height=48))
    assert isinstance(made, GstLaunchSource) and made.live
    return made


def test_frames_then_the_end_of_the_pipeline():
    src = source("videotestsrc num-buffers=5 pattern=ball ! videoconvert")
    src.open()
    try:
        frames = [src.read() for _ in range(5)]
        assert all(f.shape == (48, 64, 3) for f in frames)
        assert len({f.tobytes() for f in frames}) > 1  # the ball moves: real frames
        with pytest.raises(SourceUnavailable, match="the pipeline ended"):
            src.read()
    finally:
        src.close()


def test_a_stalled_pipeline_times_out_instead_of_hanging():
    # the identity element holds every buffer for 30 s: a camera that stopped delivering
    src = source("videotestsrc num-buffers=3 ! identity sleep-time=30000000")
    src.open()
    try:
        with pytest.raises(SourceUnavailable, match="no frame for 5 s"):
            src.read()
    finally:
        src.close()


def test_a_broken_pipeline_says_what_gstreamer_said():
    src = source("nosuchelementsrc ! videoconvert")
    src.open()
    try:
        with pytest.raises(SourceUnavailable, match="nosuchelementsrc"):
            src.read()
    finally:
        src.close()


def test_the_program_runs_a_pipeline():
    proc = run_cli(
        "run", "--source", "videotestsrc num-buffers=30 ! videoconvert", "--max-frames", "10"
    )
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == 10 and {r["status"] for r in results} == {"no_face"}


def test_a_pipeline_that_fails_at_once_backs_off_instead_of_flapping(caplog):
    # launching gst-launch-1.0 works; the pipeline then dies at once: that is no recovery
    cfg = SourceConfig(
        uri="nosuchelementsrc ! videoconvert", reconnect_initial_s=0.1, reconnect_max_s=0.8
    )
    source = make_source(cfg)
    waits: list[float] = []

    def wait(seconds: float) -> bool:  # the backoff's waits, recorded instead of slept
        waits.append(seconds)
        return len(waits) >= 6  # then a stop

    caplog.set_level(logging.INFO, logger="edge.sources.feed")
    feed = ReconnectingSource(source, FeedPolicy.from_config(cfg), wait=wait)
    assert feed.read() is None  # no frame ever came: stopped while waiting
    feed.close()
    assert waits == [0.1, 0.2, 0.4, 0.8, 0.8, 0.8]  # not every 0.1 s
    messages = [r.getMessage() for r in caplog.records]
    assert not any("is back after" in m for m in messages), messages
    assert sum("reopening with backoff" in m for m in messages) == 1
