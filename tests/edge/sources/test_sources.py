from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import SourceConfig
from edge.errors import DependencyError, SourceError
from edge.sources import EndOfStream, SourceUnavailable, images, make_source, resolve_source
from edge.sources.opencv import OpenCVSource
from edge.types import Frame
from tests.conftest import write_video


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    frames = [np.full((48, 64, 3), i * 20, np.uint8) for i in range(5)]
    return write_video(tmp_path / "clip.avi", frames, fps=10)


@pytest.mark.parametrize(
    ("given", "uri", "kind", "target"),
    [
        ("auto", "0", "camera", 0),
        ("auto", "2", "camera", 2),
        ("auto", "/dev/video1", "camera", "/dev/video1"),
        ("auto", "rtsp://10.0.0.2:554/stream", "stream", "rtsp://10.0.0.2:554/stream"),
        ("auto", "http://cam.local/mjpg", "stream", "http://cam.local/mjpg"),
        ("auto", "nvarguscamerasrc ! nvvidconv ! appsink", "gstreamer", None),
        ("auto", "picamera2", "picamera2", "picamera2"),
        ("auto", "/tmp/*.jpg", "images", "/tmp/*.jpg"),
        ("picamera2", "0", "picamera2", "0"),
        ("images", "/data/shots", "images", "/data/shots"),
        # opencv: the text goes to cv2.VideoCapture as written (image sequences, its own
        # GStreamer pipelines); no file look-up, no glob
        ("opencv", "/data/frame_%04d.png", "video", "/data/frame_%04d.png"),
        ("opencv", "/tmp/*.jpg", "video", "/tmp/*.jpg"),
        ("opencv", "v4l2src ! videoconvert ! appsink", "video", "v4l2src ! videoconvert ! appsink"),
        ("opencv", "0", "camera", 0),
        ("opencv", "rtsp://10.0.0.2/s", "stream", "rtsp://10.0.0.2/s"),
    ],
)
def test_source_kind_from_uri(given, uri, kind, target):
    spec = resolve_source(SourceConfig(kind=given, uri=uri))
    assert spec.kind == kind
    if target is not None:
        assert spec.target == target


def test_source_kind_from_files(tmp_path: Path, clip: Path, photo_files):
    assert resolve_source(SourceConfig(uri=str(clip))).kind == "video"
    assert resolve_source(SourceConfig(uri=str(photo_files["one"]))).kind == "images"
    assert resolve_source(SourceConfig(uri=str(tmp_path))).kind == "images"
    with pytest.raises(SourceError, match=r"nothere.mp4: no such file \(source.uri: give"):
        resolve_source(SourceConfig(uri=str(tmp_path / "nothere.mp4")))


def test_video_file_reads_to_end_then_loops(clip: Path):
    source = OpenCVSource(resolve_source(SourceConfig(uri=str(clip))), SourceConfig(uri=str(clip)))
    source.open()
    assert source.nominal_fps == pytest.approx(10.0)
    frames = [source.read() for _ in range(5)]
    assert all(f.shape == (48, 64, 3) for f in frames)
    with pytest.raises(EndOfStream):
        source.read()
    source.close()

    looping = SourceConfig(uri=str(clip), loop=True)
    source = OpenCVSource(resolve_source(looping), looping)
    source.open()
    assert len([source.read() for _ in range(12)]) == 12
    source.close()


def test_file_that_is_not_a_video_fails_with_its_name(tmp_path: Path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("this is not a video")
    cfg = SourceConfig(uri=str(bogus))
    source = make_source(cfg)
    with pytest.raises(SourceError, match=r"notes.mp4: cannot be opened as video"):
        source.open()


def test_missing_camera_is_unavailable_not_fatal():
    cfg = SourceConfig(uri="/dev/video99")
    source = make_source(cfg)
    assert source.live
    with pytest.raises(SourceUnavailable):
        source.open()
    source.close()


def test_images_in_name_order_unreadable_ones_skipped(tmp_path: Path, photo_files):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("b", "a"):
        (folder / f"{name}.png").write_bytes(photo_files["one"].read_bytes())
    (folder / "c.jpg").write_bytes(b"corrupt")
    (folder / "notes.txt").write_text("ignored")
    source = make_source(SourceConfig(uri=str(folder)))
    source.open()
    assert [Path(p).name for p in source._paths] == ["a.png", "b.png", "c.jpg"]
    assert source.read().shape == (512, 512, 3)
    assert Path(source.current_file or "").name == "a.png"
    assert source.read().shape == (512, 512, 3)
    assert Path(source.current_file or "").name == "b.png"
    with pytest.raises(EndOfStream):
        source.read()
    assert source.skipped == 1


def test_empty_image_folder_is_an_error(tmp_path: Path):
    source = make_source(SourceConfig(uri=str(tmp_path)))
    with pytest.raises(SourceError, match=r"no images found"):
        source.open()


def test_a_one_channel_frame_is_widened_to_bgr(tmp_path: Path, monkeypatch, astronaut_bgr):
    """A decoder that keeps a greyscale file's single channel: the source hands on BGR."""
    gray = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    path = tmp_path / "gray.png"
    cv2.imwrite(str(path), gray)
    monkeypatch.setattr(
        images, "read_image", lambda name: (cv2.imread(name, cv2.IMREAD_UNCHANGED), "")
    )
    source = make_source(SourceConfig(uri=str(path)))
    source.open()
    frame = source.read()
    assert frame.shape == (*gray.shape, 3) and frame.dtype == np.uint8
    for channel in range(3):  # grey in B, G and R alike
        assert np.array_equal(frame[:, :, channel], gray)
    Frame(0, frame, 0.0, 0.0)  # which the pipeline accepts (it refuses 2-D images)


@pytest.mark.usefixtures("without_picamera2")  # the real one imports on a Raspberry Pi
def test_picamera2_missing_names_the_fix():
    with pytest.raises(DependencyError, match=r"picamera2 is not importable: on Raspberry Pi OS"):
        make_source(SourceConfig(kind="picamera2"))


def test_a_stream_that_changes_size_is_seen_at_the_next_open(caplog):
    # OpenCV scales a stream to the size it opened with; after a reopen the new size is used
    import logging

    import cv2

    from tests.mjpeg_server import MjpegCamera

    small, big = np.full((240, 320, 3), 90, np.uint8), np.full((480, 640, 3), 200, np.uint8)
    caplog.set_level(logging.INFO, logger="edge.sources.opencv")
    with MjpegCamera(small) as camera:
        source = make_source(SourceConfig(uri=camera.url))
        source.open()
        assert source.read().shape == (240, 320, 3)
        source.close()
        camera.jpeg = cv2.imencode(".jpg", big)[1].tobytes()
        source.open()
        try:
            assert source.read().shape == (480, 640, 3)
        finally:
            source.close()
    changed = [r.getMessage() for r in caplog.records if "picture size" in r.getMessage()]
    assert len(changed) == 1 and "now 640x480 (was 320x240)" in changed[0]


def test_a_lost_stream_is_one_line_not_ffmpegs_every_retry(tmp_path: Path):
    # FFmpeg prints "Connection to tcp://... failed" on every attempt; the journal gets ours
    import contextlib
    import socket
    import subprocess

    from tests.conftest import start_program, stop_program

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port nothing listens on: every open is refused
    port = closed.getsockname()[1]
    config = tmp_path / "c.yaml"
    config.write_text("source:\n  reconnect_initial_s: 0.2\n  reconnect_max_s: 0.4\n")
    proc = start_program(
        "run", "--config", str(config), "--source", f"http://127.0.0.1:{port}/cam.mjpg"
    )
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(3)  # it keeps running: several refused attempts meanwhile
    stderr = stop_program(proc)
    closed.close()
    assert proc.returncode == 0, stderr
    assert "tcp://" not in stderr and "WARN" not in stderr.replace("WARNING", ""), stderr
    lost = [line for line in stderr.splitlines() if "reopening with backoff" in line]
    assert len(lost) == 1, stderr
