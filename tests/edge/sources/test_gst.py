"""GStreamer pipelines through a real gst-launch-1.0 child process (Debian's gstreamer1.0-tools)."""

from __future__ import annotations

import json
import logging
import time

import pytest

from edge.config import SourceConfig
from edge.config.source import launch_args, pipeline_is_live
from edge.errors import SourceError
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


def test_frames_then_the_end_of_a_camera_pipeline():
    src = source("videotestsrc is-live=true num-buffers=5 pattern=ball ! videoconvert")
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
    src = source("videotestsrc is-live=true num-buffers=3 ! identity sleep-time=30000000")
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
        "run",
        *("--source", "videotestsrc is-live=true num-buffers=30 ! videoconvert"),
        *("--max-frames", "10"),
    )
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == 10 and {r["status"] for r in results} == {"no_face"}


@pytest.mark.parametrize(
    ("pipeline", "live"),
    [
        ("v4l2src device=/dev/video0 ! videoconvert", True),
        ("nvarguscamerasrc sensor-id=0 ! nvvidconv", True),
        ("rtspsrc location=rtsp://cam/live ! decodebin", True),
        ("videotestsrc is-live=true ! videoconvert", True),
        ("uridecodebin uri=rtsp://cam/live ! videoconvert", True),
        ("filesrc location=clip.mp4 ! decodebin ! videoconvert", False),
        ("multifilesrc location=img%03d.jpg ! jpegdec", False),
        ("videotestsrc pattern=ball", False),
        ("uridecodebin uri=file:///tmp/clip.mp4 ! videoconvert", False),
    ],
)
def test_a_pipeline_of_a_file_is_told_from_a_camera(pipeline, live):
    assert pipeline_is_live(pipeline) is live


def test_a_file_pipeline_is_paced_by_gstreamer_only_when_realtime():
    pipeline = "filesrc location=clip.mp4 ! decodebin"
    for realtime, sync in ((True, "sync=true"), (False, "sync=false")):
        made = make_source(SourceConfig(uri=pipeline, realtime=realtime))
        assert isinstance(made, GstLaunchSource) and not made.live
        assert made.args[-1] == sync
    camera = make_source(SourceConfig(uri="v4l2src ! videoconvert", realtime=True))
    assert isinstance(camera, GstLaunchSource) and camera.args[-1] == "sync=false"


def test_a_file_pipeline_plays_at_its_rate_every_frame_and_then_ends(tmp_path):
    # it used to be taken for a camera: played unpaced on both cores (240 fps), its frames
    # dropped, and its end "reopened with backoff" for ever
    summary = tmp_path / "summary.json"
    started = time.monotonic()
    proc = run_cli(
        "run",
        *("--source", "videotestsrc num-buffers=20 ! video/x-raw,framerate=10/1 ! videoconvert"),
        *("--summary-json", str(summary)),
        timeout=60,
    )
    took_s = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 20  # every frame, none dropped
    assert json.loads(summary.read_text())["frames_processed"] == 20
    assert took_s >= 1.9  # 20 frames at 10 fps: paced, not read as fast as they come
    assert "reopening" not in proc.stderr


def test_a_file_pipeline_loops_and_a_failing_one_is_an_error():
    looping = make_source(
        SourceConfig(uri="videotestsrc num-buffers=3 ! videoconvert", loop=True, realtime=False)
    )
    looping.open()
    try:
        assert len([looping.read() for _ in range(7)]) == 7  # 3 + 3 + 1: started again twice
    finally:
        looping.close()
    failing = make_source(SourceConfig(uri="filesrc location=/nonexistent.mp4 ! decodebin"))
    failing.open()
    try:
        with pytest.raises(SourceError, match=r"the pipeline failed: .*nonexistent"):
            failing.read()
    finally:
        failing.close()


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
