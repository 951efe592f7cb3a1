"""Display backends, faked only at the OS boundary: a framebuffer is a file plus a sysfs folder."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.analyze import FrameAnalyzer
from edge.classify import TFLiteClassifier
from edge.config import DetectorConfig, FacesConfig, SmoothingConfig, SourceConfig
from edge.config_view import DisplayConfig
from edge.detect import BlazeFaceDetector
from edge.display import DisplayViewer, open_screen
from edge.display.common import DisplayUnavailable
from edge.display.framebuffer import FramebufferDisplay
from edge.pipeline import Pipeline
from edge.sources import make_source
from edge.stats import PipelineStats
from edge.types import Result
from tests.conftest import DEFAULT_MODEL, run_cli, write_video


def fake_framebuffer(tmp_path: Path, width: int, height: int, bpp: int, stride: int) -> Path:
    sysfs = tmp_path / "sys" / "fb7"
    sysfs.mkdir(parents=True)
    (sysfs / "virtual_size").write_text(f"{width},{height}\n")
    (sysfs / "bits_per_pixel").write_text(f"{bpp}\n")
    (sysfs / "stride").write_text(f"{stride}\n")
    device = tmp_path / "fb7"
    device.write_bytes(b"\0" * stride * height)
    return device


def decode(raw: bytes, width: int, height: int, bpp: int, stride: int) -> np.ndarray:
    rows = np.frombuffer(raw, np.uint8).reshape(height, stride)[:, : width * bpp // 8]
    if bpp == 32:
        return rows.reshape(height, width, 4)[:, :, :3].copy()  # B, G, R, X
    value = rows.copy().view("<u2").astype(np.uint32)
    r, g, b = (value >> 11) & 31, (value >> 5) & 63, value & 31
    return np.dstack([b * 255 // 31, g * 255 // 63, r * 255 // 31]).astype(np.uint8)


@pytest.mark.parametrize(
    ("bpp", "width", "height", "stride", "picture_xywh", "interpolation"),
    [  # where a 640x480 (4:3) frame lands, worked out by hand, and how it must be scaled
        (32, 800, 480, 3200, (80, 0, 640, 480), None),  # same height: not scaled
        (16, 800, 480, 1600, (80, 0, 640, 480), None),
        (16, 720, 400, 1536, (93, 0, 533, 400), cv2.INTER_AREA),  # shrunk by 5/6
        (32, 1920, 1080, 7680, (240, 0, 1440, 1080), cv2.INTER_LINEAR),  # grown by 9/4
    ],
)
def test_framebuffer_writes_the_scaled_frame_in_its_format(
    tmp_path, astronaut_bgr, bpp, width, height, stride, picture_xywh, interpolation
):
    device = fake_framebuffer(tmp_path, width, height, bpp, stride)
    screen = FramebufferDisplay(device, device.parent / "sys" / "fb7")
    frame = cv2.resize(astronaut_bgr, (640, 480))
    screen.show_image(frame)
    screen.close()
    shown = decode(device.read_bytes(), width, height, bpp, stride)
    x, y, w, h = picture_xywh
    picture = (
        frame if interpolation is None else cv2.resize(frame, (w, h), None, 0, 0, interpolation)
    )
    tolerance = 0 if bpp == 32 else 9  # RGB565 keeps 5-6 bits per channel
    inside = shown[y : y + h, x : x + w].astype(int)
    assert np.abs(inside - picture.astype(int)).max() <= tolerance
    assert not shown[:, :x].any() and not shown[:, x + w :].any()  # letterboxed on black
    assert screen.frames_shown == 1


def test_framebuffer_problems_say_what_is_wrong(tmp_path):
    with pytest.raises(DisplayUnavailable, match="no framebuffer device here"):
        FramebufferDisplay(tmp_path / "fb9")
    device = fake_framebuffer(tmp_path, 640, 480, 24, 1920)
    with pytest.raises(DisplayUnavailable, match="24 bits per pixel is not supported"):
        FramebufferDisplay(device, device.parent / "sys" / "fb7")


def test_auto_falls_back_to_headless_and_explicit_backend_fails(tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    missing = str(tmp_path / "fb0")
    assert (
        open_screen(DisplayConfig(backend="auto", framebuffer_device=missing), lambda: None) is None
    )
    with pytest.raises(DisplayUnavailable, match="no desktop here"):
        open_screen(DisplayConfig(backend="window"), lambda: None)
    config = tmp_path / "c.yaml"
    config.write_text(f"display:\n  backend: framebuffer\n  framebuffer_device: {missing}\n")
    proc = run_cli(
        "run", "--config", str(config), "--source", "edge/assets/demo.mp4", "--max-frames", "1"
    )
    assert proc.returncode == 1
    assert f"emotion-edge: {missing}: no framebuffer device here" in proc.stderr
    assert "Traceback" not in proc.stderr


class SlowSink:
    """Analysis that takes ~0.3 s a frame, as a VGG19 does on a small CPU."""

    def emit(self, result: Result) -> None:
        threading.Event().wait(0.3)

    def close(self) -> None:
        pass


def test_display_keeps_the_camera_rate_while_the_model_is_slow(tmp_path, astronaut_bgr):
    clip = write_video(tmp_path / "c.avi", [cv2.resize(astronaut_bgr, (640, 480))] * 45, fps=15)
    device = fake_framebuffer(tmp_path, 800, 480, 32, 3200)
    stats = PipelineStats()
    viewer = DisplayViewer(FramebufferDisplay(device, device.parent / "sys" / "fb7"), stats)
    detector = BlazeFaceDetector(DetectorConfig())
    analyzer = FrameAnalyzer(
        detector, TFLiteClassifier(DEFAULT_MODEL, 2), FacesConfig(), SmoothingConfig()
    )
    cfg = SourceConfig(uri=str(clip), realtime=True)
    try:
        Pipeline(
            make_source(cfg),
            analyzer,
            [SlowSink()],
            stop=threading.Event(),
            stats=stats,
            viewers=[viewer],
        ).run()
    finally:
        detector.close()
        viewer.close()
    shown, captured = viewer.screen.frames_shown, stats.frames_captured
    assert captured == 45
    assert stats.frames_processed < 20  # the model kept up with a fraction of the frames
    assert shown >= 0.9 * captured, (shown, captured)


def test_rgba_overlay_is_transparent_except_the_drawing():
    import time

    from edge.overlay import EMOTION_COLORS, draw_overlay_rgba
    from edge.types import Detection, FaceResult, Timings

    scores = {"happy": 0.9, "sad": 0.1}
    face = FaceResult(Detection((100, 100, 120, 120), 0.9), "happy", 0.9, scores)
    result = Result(
        3, time.monotonic(), time.time(), "ok", (face.detection,), (face,), Timings(), 1.0
    )
    rgba = draw_overlay_rgba((640, 480), result)
    assert rgba.shape == (480, 640, 4)
    assert rgba[300:, :, 3].max() == 0  # below the face: nothing drawn, fully transparent
    assert rgba[160, 160, 3] == 0  # the face itself stays visible
    b, g, r = EMOTION_COLORS["happy"]
    edge = rgba[150:170, 98:103]
    assert (edge[..., 3] == 255).any() and ((edge[..., :3] == (r, g, b)).all(axis=2)).any()


def test_drm_preview_with_a_stand_in_camera_library(monkeypatch, request, astronaut_bgr):
    """The Pi camera library is faked (the camera is hardware we do not have here)."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "fake_picamera2"))
    # on a Raspberry Pi the real picamera2 may be imported already: the stand-in replaces it
    # for this test, and whatever was there before is put back afterwards
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    request.addfinalizer(lambda: sys.modules.pop("picamera2", None))
    import picamera2

    assert Path(picamera2.__file__).parent.parent.name == "fake_picamera2"

    from edge.display.drm import DrmOverlay

    picamera2.CALLS.clear()
    picamera2.FRAME_BGR = astronaut_bgr
    cfg = SourceConfig(uri="picamera2")
    source = make_source(cfg)
    overlay = DrmOverlay(source)
    detector = BlazeFaceDetector(DetectorConfig())
    analyzer = FrameAnalyzer(
        detector, TFLiteClassifier(DEFAULT_MODEL, 2), FacesConfig(), SmoothingConfig()
    )
    try:
        Pipeline(
            source,
            analyzer,
            [],
            stop=threading.Event(),
            max_frames=10,
            viewers=[overlay],
        ).run()
    finally:
        detector.close()
    names = [name for name, _ in picamera2.CALLS]
    assert names.index("start_preview") < names.index("start")  # DRM preview set up first
    assert ("start_preview", picamera2.Preview.DRM) in picamera2.CALLS
    overlays = [shape for name, shape in picamera2.CALLS if name == "set_overlay"]
    assert overlays and all(shape == (480, 640, 4) for shape in overlays)
    assert overlay.overlays_set == len(overlays) <= 10  # once per new result, not per frame
    assert names[-2:] == ["stop", "close"]


@pytest.mark.usefixtures("without_picamera2")  # the real one imports on a Raspberry Pi
def test_drm_needs_the_pi_camera():
    proc = run_cli(
        "run", "--source", "edge/assets/demo.mp4", "--display", "drm", "--max-frames", "1"
    )
    assert proc.returncode == 1
    assert "drm: the DRM preview needs the Raspberry Pi camera" in proc.stderr
    proc = run_cli("run", "--source", "picamera2", "--display", "drm", "--max-frames", "1")
    assert proc.returncode == 1 and "picamera2 is not importable" in proc.stderr


@pytest.fixture()
def xvfb():
    """A real X server in memory (Xvfb) on a free display number, stopped by its pid."""
    import os
    import subprocess

    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=[write_fd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as reader:
        number = reader.readline().strip()  # Xvfb writes the display it took once it is ready
    yield f":{number}"
    proc.terminate()
    proc.wait(10)


def test_window_backend_shows_frames_and_q_stops(xvfb, monkeypatch, astronaut_bgr):
    import subprocess

    from edge.display.window import WindowDisplay

    monkeypatch.setenv("DISPLAY", xvfb)
    stopped = threading.Event()
    window = WindowDisplay(fullscreen=False, on_quit=stopped.set)
    try:
        for _ in range(3):
            window.show_image(astronaut_bgr)
        found = subprocess.run(
            ["xdotool", "search", "--name", "emotion-edge"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        ids = found.stdout.split()
        assert ids, "no emotion-edge window on the X server"
        # a real key press (XTEST) into the focused window, as a person's keyboard gives
        subprocess.run(["xdotool", "windowfocus", "--sync", ids[0]], check=True, timeout=30)
        subprocess.run(["xdotool", "key", "q"], check=True, timeout=30)
        for _ in range(20):
            if stopped.is_set():
                break
            window.show_image(astronaut_bgr)  # keys are read while frames are shown
        assert stopped.is_set()
        assert window.frames_shown >= 4
    finally:
        window.close()
