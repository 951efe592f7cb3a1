"""Display backends and the Pi camera's DRM preview.

Faked only at a boundary: the framebuffer is a file plus a sysfs folder (see
test_framebuffer.py); the camera library (picamera2) and the DRM library it draws with
(kms++'s pykms) are stand-ins that record what they are asked, since the camera and the
display hardware are not here.
"""

from __future__ import annotations

import dataclasses
import enum
import errno
import sys
import threading
import time
import types
import weakref
from typing import ClassVar

import cv2
import numpy as np
import pytest

from edge.config import SourceConfig
from edge.config.view import DisplayConfig
from edge.display import DisplayViewer, camera_preview, open_screen, open_viewer
from edge.display.common import DisplayUnavailable
from edge.display.drm import CameraPreview, DrmViewer, probe_screen
from edge.display.framebuffer import FramebufferDisplay
from edge.pipeline.stats import PipelineStats
from edge.pipeline.threads import Pipeline
from edge.sources import SourceUnavailable, make_source, resolve_source
from edge.types import Decision, Frame, Result
from tests.conftest import run_cli, wait_until, write_video
from tests.edge.display.test_framebuffer import Geometry, fake_framebuffer


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
        "run", "--config", str(config), "--source", "edge/app/assets/demo.mp4", "--max-frames", "1"
    )
    assert proc.returncode == 1
    assert f"emotion-edge: {missing}: no framebuffer device here" in proc.stderr
    assert "Traceback" not in proc.stderr


class SlowSink:
    """Analysis that takes ~0.3 s a frame, as a VGG19 does on a small CPU."""

    def emit(self, result: Result) -> None:
        threading.Event().wait(0.3)  # the behaviour under test: a slow model

    def close(self) -> None:
        pass


def test_display_keeps_the_camera_rate_while_the_model_is_slow(tmp_path, astronaut_bgr, analyzer):
    clip = write_video(tmp_path / "c.avi", [cv2.resize(astronaut_bgr, (640, 480))] * 45, fps=15)
    device, sysfs = fake_framebuffer(tmp_path, Geometry((800, 480), (800, 960), (0, 480), 32, 3200))
    stats = PipelineStats()
    viewer = DisplayViewer(FramebufferDisplay(device, sysfs), stats)
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
        viewer.close()
    shown, captured = viewer.screen.frames_shown, stats.frames_captured
    assert captured == 45
    assert stats.frames_processed < 20  # the model kept up with a fraction of the frames
    assert shown >= 0.9 * captured, (shown, captured)


def test_rgba_overlay_is_transparent_except_the_drawing():
    from edge.display.overlay import EMOTION_COLORS, draw_overlay_rgba
    from edge.types import Detection, FaceResult, Timings

    detection = Detection(box_xywh=(100, 100, 120, 120), score=0.9)
    face = FaceResult(detection, "happy", 0.9, {"happy": 0.9, "sad": 0.1})
    result = Result(
        frame_index=3,
        captured_at_s=time.monotonic(),
        wall_time_s=time.time(),
        status="ok",
        detections=(detection,),
        faces=(face,),
        timings=Timings(),
        latency_ms=1.0,
    )
    rgba = draw_overlay_rgba((640, 480), result)
    assert rgba.shape == (480, 640, 4)
    assert rgba[300:, :, 3].max() == 0  # below the face: nothing drawn, fully transparent
    assert rgba[160, 160, 3] == 0  # the face itself stays visible
    b, g, r = EMOTION_COLORS["happy"]
    edge = rgba[150:170, 98:103]
    assert (edge[..., 3] == 255).any() and ((edge[..., :3] == (r, g, b)).all(axis=2)).any()


# -- the Pi camera's DRM preview, with stand-ins for picamera2 and pykms ----------------


class FakePreviewKind(enum.Enum):  # picamera2.Preview: the value is the preview's class
    NULL = "NullPreview"
    DRM = "DrmPreview"


class FakeCamera:
    """picamera2.Picamera2 as emotion-edge uses it; records each call with its arguments."""

    instances: ClassVar[list[FakeCamera]] = []
    frame_bgr: ClassVar[np.ndarray | None] = None
    preview_error: ClassVar[Exception | None] = None  # what start_preview raises, if any
    stalled: ClassVar[bool] = False  # no frame comes any more (the DRM preview died)

    def __init__(self) -> None:
        FakeCamera.instances.append(self)
        self.calls: list[tuple[str, object]] = []
        self.size = (640, 480)
        self.previewing = self.stopped = False
        self.overlays_while_stopping = 0
        self.overlay_begun = threading.Event()  # a set_overlay call is under way

    def create_video_configuration(self, main: dict, controls: dict, buffer_count: int) -> dict:
        self.size = main["size"]
        return {"main": main, "buffer_count": buffer_count}

    def configure(self, config: dict) -> None:
        self.calls.append(("configure", config["main"]["size"]))

    def start_preview(self, preview: FakePreviewKind, **window: int) -> None:
        self.calls.append(("start_preview", (preview, window)))
        if FakeCamera.preview_error is not None:
            raise FakeCamera.preview_error
        self.previewing = True

    def start(self) -> None:
        self.calls.append(("start", None))

    def capture_array(self, name: str, wait: bool | None = None) -> object:
        assert wait is False  # a job, then wait(job, timeout): a stall cannot block for ever
        return ("capture_array", name)

    def wait(self, job: object, timeout: float | None = None) -> np.ndarray:
        if FakeCamera.stalled:  # frames stopped coming (picamera2 raises when the time is up)
            threading.Event().wait(timeout)  # a stalled camera answers only at its timeout
            raise TimeoutError
        threading.Event().wait(1 / 30)  # the camera's own rate, 30 fps
        assert FakeCamera.frame_bgr is not None
        return cv2.resize(FakeCamera.frame_bgr, self.size)

    def set_overlay(self, overlay: np.ndarray) -> None:
        if not self.previewing:  # what picamera2 says once the preview has gone
            raise RuntimeError("No preview specified.")
        self.calls.append(("set_overlay", overlay.shape))
        self.overlay_begun.set()
        threading.Event().wait(0.02)  # the buffer copy and the synchronous commit (~1 refresh)
        if self.stopped:
            self.overlays_while_stopping += 1

    def stop(self) -> None:
        self.stopped = True
        self.calls.append(("stop", None))

    def close(self) -> None:
        self.previewing = False
        self.calls.append(("close", None))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@dataclasses.dataclass
class FakeMode:
    hdisplay: int
    vdisplay: int


@dataclasses.dataclass
class KmsState:
    """What the stand-in DRM library finds: a screen, its mode, who holds it."""

    crtc_mode: tuple[int, int] = (1920, 1080)  # (0, 0): the CRTC is idle
    default_mode: tuple[int, int] = (1920, 1080)
    connected: bool = True
    master: bool | None = True  # None: the library does not say (kms++)
    card_error: Exception | None = None
    cards: list[weakref.ref] = dataclasses.field(default_factory=list)


def fake_pykms(state: KmsState, fd_file) -> types.ModuleType:
    module = types.ModuleType("pykms")

    class Crtc:
        def __init__(self, card: Card) -> None:
            self.card = card  # the library's objects refer to each other, as kms's do
            self.mode = FakeMode(*state.crtc_mode)

    class Connector:
        def get_default_mode(self) -> FakeMode:
            return FakeMode(*state.default_mode)

    class Card:
        def __init__(self) -> None:
            if state.card_error is not None:
                raise state.card_error
            self.fd = fd_file.fileno()
            if state.master is not None:
                self.is_master = state.master
            self.crtcs = [Crtc(self)]
            state.cards.append(weakref.ref(self))

    class ResourceManager:
        def __init__(self, card: Card) -> None:
            self.card = card

        def reserve_connector(self) -> Connector | None:
            return Connector() if state.connected else None

        def reserve_crtc(self, connector: Connector) -> Crtc:
            return self.card.crtcs[0]

    module.Card, module.ResourceManager = Card, ResourceManager  # type: ignore[attr-defined]
    return module


@pytest.fixture()
def pi(monkeypatch, tmp_path, astronaut_bgr):
    """picamera2 and pykms stand-ins importable in this process, for one test."""
    camera_module = types.ModuleType("picamera2")
    camera_module.Picamera2 = FakeCamera  # type: ignore[attr-defined]
    camera_module.Preview = FakePreviewKind  # type: ignore[attr-defined]
    # on a Raspberry Pi the real libraries may be imported already: these replace them
    # for this test, and whatever was there before is put back afterwards
    monkeypatch.setitem(sys.modules, "picamera2", camera_module)
    monkeypatch.setitem(sys.modules, "kms", None)  # Picamera2 tries it first: not here
    state = KmsState()
    with open(tmp_path / "card1", "wb") as fd_file:  # a file: DRM ioctls on it fail (ENOTTY)
        monkeypatch.setitem(sys.modules, "pykms", fake_pykms(state, fd_file))
        monkeypatch.setattr(FakeCamera, "instances", [])
        monkeypatch.setattr(FakeCamera, "frame_bgr", cv2.resize(astronaut_bgr, (640, 480)))
        monkeypatch.setattr(FakeCamera, "preview_error", None)
        monkeypatch.setattr(FakeCamera, "stalled", False)
        monkeypatch.delenv("DISPLAY", raising=False)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        yield state


def pi_camera_source(preview: CameraPreview | None):
    from edge.sources.picamera import Picamera2Source

    cfg = SourceConfig(uri="picamera2")
    return Picamera2Source(resolve_source(cfg), cfg, preview=preview)


@pytest.mark.parametrize(
    ("crtc_mode", "default_mode", "window"),
    [  # the preview window is the screen mode, whatever the camera's size (640x480)
        ((1920, 1080), (3840, 2160), (1920, 1080)),  # the mode the console runs
        ((1280, 720), (1920, 1080), (1280, 720)),
        ((0, 0), (1024, 600), (1024, 600)),  # idle CRTC: the screen's preferred mode
    ],
)
def test_the_camera_preview_fills_the_screen(pi, analyzer, crtc_mode, default_mode, window):
    pi.crtc_mode, pi.default_mode = crtc_mode, default_mode
    display = DisplayConfig(backend="drm")
    preview = camera_preview(display, "picamera2")
    source = pi_camera_source(preview)
    viewer = open_viewer(display, PipelineStats(), lambda: None, preview)
    assert isinstance(viewer, DrmViewer)
    assert viewer.description == "drm preview (picamera2) {}x{} with overlay".format(*window)
    Pipeline(source, analyzer, [], stop=threading.Event(), max_frames=10, viewers=[viewer]).run()
    (camera,) = FakeCamera.instances
    width, height = window
    assert ("start_preview", (FakePreviewKind.DRM, dict(x=0, y=0, width=width, height=height))) in (
        camera.calls
    )
    names = camera.names()
    assert names.index("configure") < names.index("start_preview") < names.index("start")
    overlays = [shape for name, shape in camera.calls if name == "set_overlay"]
    assert overlays and all(shape == (480, 640, 4) for shape in overlays)  # camera-sized
    assert viewer.overlays_set == len(overlays)
    assert names[-2:] == ["stop", "close"]
    assert all(card() is None for card in pi.cards)  # our probe let go of the card


def face_result(analyzer, image_bgr) -> Result:
    """One real result on a photo, to vary: the overlay draws what the analyzer gives."""
    frame = Frame(0, image_bgr, time.monotonic(), time.time())
    result = analyzer.analyze(frame)
    assert result.faces
    return result


def with_confidence(result: Result, index: int, confidence: float) -> Result:
    """`result` as frame `index`, its face's reported score set to `confidence` (drawn as a
    percent beside the reported label)."""
    face = result.faces[0]
    scores = {**face.scores, face.label: confidence}
    face = dataclasses.replace(face, confidence=confidence, scores=scores)
    return dataclasses.replace(
        result,
        frame_index=index,
        faces=(face,),
        decision=Decision(face.label, confidence),
        smoothed_scores=scores,
    )


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def attached_viewer(interval_s: float = 0.1) -> tuple[DrmViewer, FakeCamera, Clock]:
    preview = CameraPreview(probe=lambda: (1920, 1080))
    preview.open()
    camera = FakeCamera()
    preview.attach(camera)
    clock = Clock()
    return DrmViewer(preview, interval_s=interval_s, clock=clock), camera, clock


def test_overlay_follows_the_drawing_at_most_ten_times_a_second(pi, analyzer, astronaut_bgr):
    viewer, camera, clock = attached_viewer(interval_s=0.1)
    base = face_result(analyzer, cv2.resize(astronaut_bgr, (640, 480)))
    frame = Frame(0, cv2.resize(astronaut_bgr, (640, 480)), 0.0, 0.0)
    tick = 1 / 32  # a 32 fps camera (exact in binary, so the arithmetic is too)
    # 1 s with a new result, drawn differently, on every frame: one overlay every 4 frames
    for i in range(32):
        viewer.show(frame, with_confidence(base, i, 0.40 + i / 100))
        clock.now_s += tick
    assert viewer.overlays_set == 8
    # the same drawing again and again (new results, nothing visible changes): one commit
    steady = with_confidence(base, 100, 0.99)
    for i in range(100, 132):
        viewer.show(frame, dataclasses.replace(steady, frame_index=i))
        clock.now_s += tick
    assert viewer.overlays_set == 9
    # a result that arrives too soon is drawn on a later frame, not lost
    clock.now_s += 16 * tick
    viewer.show(frame, with_confidence(base, 200, 0.50))
    clock.now_s += tick
    viewer.show(frame, with_confidence(base, 201, 0.60))  # 31 ms after the last: waits
    assert viewer.overlays_set == 10
    clock.now_s += 3 * tick
    viewer.show(frame, with_confidence(base, 201, 0.60))  # the same result, 4 frames on
    assert viewer.overlays_set == 11
    assert [name for name in camera.names() if name == "set_overlay"] == ["set_overlay"] * 11


def test_no_overlay_reaches_a_camera_that_is_closing(pi, analyzer, astronaut_bgr):
    preview = CameraPreview(probe=lambda: (1920, 1080))
    preview.open()
    source = pi_camera_source(preview)
    source.open()
    (camera,) = FakeCamera.instances
    viewer = DrmViewer(preview, interval_s=0.0)  # as often as it can: a busy overlay
    base = face_result(analyzer, cv2.resize(astronaut_bgr, (640, 480)))
    frame = Frame(0, cv2.resize(astronaut_bgr, (640, 480)), 0.0, 0.0)
    stop, shown_after_close = threading.Event(), threading.Event()
    closed = threading.Event()

    def show_forever() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            viewer.show(frame, with_confidence(base, i, 0.5 + (i % 2) / 10))
            if closed.is_set():
                shown_after_close.set()

    thread = threading.Thread(target=show_forever, daemon=True)
    thread.start()
    assert wait_until(lambda: viewer.overlays_set >= 5, 10, step_s=0.005), viewer.overlays_set
    camera.overlay_begun.clear()
    assert camera.overlay_begun.wait(10)
    source.close()  # while an overlay is being set
    closed.set()
    assert shown_after_close.wait(10)  # the viewer kept going after the camera closed
    stop.set()
    thread.join(10)
    assert camera.overlays_while_stopping == 0
    after_stop = camera.names()[camera.names().index("stop") :]
    assert "set_overlay" not in after_stop
    assert viewer.overlays_failed == 0  # skipped, not tried and failed


def test_preview_failures_are_display_errors_not_a_lost_camera(pi, analyzer):
    preview = camera_preview(DisplayConfig(backend="drm"), "picamera2")
    source = pi_camera_source(preview)
    open_viewer(DisplayConfig(backend="drm"), PipelineStats(), lambda: None, preview)
    FakeCamera.preview_error = RuntimeError("Failed to reserve DRM plane")
    stop = threading.Event()
    pipeline = Pipeline(source, analyzer, [], stop=stop, max_frames=10)
    give_up = threading.Timer(10, stop.set)  # a retrying source would keep it running
    give_up.start()
    try:
        with pytest.raises(DisplayUnavailable) as failure:
            pipeline.run()  # reported once, not retried as a camera that comes and goes
    finally:
        give_up.cancel()
    assert str(failure.value) == (
        "drm: the camera preview cannot start (Failed to reserve DRM plane): stop the desktop "
        "(sudo systemctl stop display-manager) or use display.backend: window"
    )
    (camera,) = FakeCamera.instances  # one try
    assert camera.names()[-2:] == ["stop", "close"]  # and the camera was let go


DESKTOP = (
    "drm: another program (a desktop?) holds the screen: stop the desktop (sudo systemctl "
    "stop display-manager) or use display.backend: window"
)


def test_a_camera_that_stops_delivering_is_lost_after_the_read_timeout(pi, monkeypatch):
    # the DRM preview gone mid-run stops picamera2's frames: a read must not wait for ever
    from edge.sources import picamera

    monkeypatch.setattr(picamera, "READ_TIMEOUT_S", 0.3)
    source = pi_camera_source(None)
    source.open()
    try:
        assert source.read().shape == (480, 640, 3)
        FakeCamera.stalled = True
        with pytest.raises(SourceUnavailable, match=r"picamera2: no frame for 0\.3 s"):
            source.read()
    finally:
        source.close()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, (1920, 1080)),
        ({"crtc_mode": (0, 0), "default_mode": (1280, 720)}, (1280, 720)),
        ({"master": None}, (1920, 1080)),  # kms++ does not say; the file answers ENOTTY
        ({"master": False}, DESKTOP),
        ({"connected": False}, "drm: no screen connected (HDMI unplugged?): connect one"),
        (
            {"card_error": RuntimeError("failed to find DRM cards")},
            "drm: no display device (failed to find DRM cards); turn on the KMS driver "
            "(dtoverlay=vc4-kms-v3d in config.txt) or use display.backend: framebuffer",
        ),
        (
            {"card_error": PermissionError(13, "Permission denied")},
            "drm: permission denied on /dev/dri (add the user to the video group: sudo "
            "usermod -aG video $USER, log in again)",
        ),
    ],
)
def test_the_screen_probe_gives_the_mode_or_the_fix(pi, change, expected):
    for name, value in change.items():
        setattr(pi, name, value)
    if isinstance(expected, tuple):
        assert probe_screen() == expected
    else:
        with pytest.raises(DisplayUnavailable) as failure:
            probe_screen()
        assert str(failure.value).startswith(expected)
    assert all(card() is None for card in pi.cards)


def test_a_desktop_seen_by_the_master_ioctl(pi, monkeypatch):
    """kms++ does not say whether it became master: the ioctl's EBUSY does."""
    import fcntl

    pi.master = None

    def busy(fd, request, *args):
        raise OSError(errno.EBUSY, "Device or resource busy")

    monkeypatch.setattr(fcntl, "ioctl", busy)
    with pytest.raises(DisplayUnavailable, match=r"holds the screen: stop the desktop"):
        probe_screen()


def test_a_missing_drm_library_says_what_to_install(pi, monkeypatch):
    monkeypatch.setitem(sys.modules, "pykms", None)
    with pytest.raises(DisplayUnavailable, match=r"missing \(sudo apt install python3-kms\+\+"):
        probe_screen()


@pytest.mark.parametrize(
    ("backend", "source_kind", "desktop", "master", "outcome"),
    [
        ("auto", "picamera2", False, True, "drm"),  # a Pi console with the Pi camera
        ("auto", "picamera2", False, False, "headless"),  # a desktop holds the screen
        ("auto", "picamera2", True, True, "no preview"),  # a desktop session: a window
        ("auto", "camera", False, True, "no preview"),  # a USB camera: the framebuffer
        ("drm", "picamera2", False, True, "drm"),
        ("drm", "picamera2", False, False, DESKTOP),
        ("drm", "camera", False, True, "drm: the DRM preview needs the Raspberry Pi camera"),
        ("none", "picamera2", False, True, "no preview"),
    ],
)
def test_which_display_auto_and_drm_pick(
    pi, monkeypatch, tmp_path, backend, source_kind, desktop, master, outcome
):
    pi.master = master
    if desktop:
        monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-1")
    cfg = DisplayConfig(backend=backend, framebuffer_device=str(tmp_path / "fb0"))
    try:
        preview = camera_preview(cfg, source_kind)
        viewer = open_viewer(cfg, PipelineStats(), lambda: None, preview) if not desktop else None
    except DisplayUnavailable as exc:
        assert str(exc).startswith(outcome)
        return
    if outcome == "no preview":
        assert preview is None
        return
    assert preview is not None
    if outcome == "drm":
        assert isinstance(viewer, DrmViewer)
        return
    assert viewer is None  # headless here: no window, no framebuffer device
    camera = FakeCamera()
    preview.attach(camera)  # the source still calls it: the camera runs without a preview
    assert "start_preview" not in camera.names()


@pytest.mark.usefixtures("without_picamera2")  # the real one imports on a Raspberry Pi
def test_drm_needs_the_pi_camera():
    proc = run_cli(
        "run", "--source", "edge/app/assets/demo.mp4", "--display", "drm", "--max-frames", "1"
    )
    assert proc.returncode == 1
    assert "drm: the DRM preview needs the Raspberry Pi camera" in proc.stderr
    proc = run_cli("run", "--source", "picamera2", "--display", "drm", "--max-frames", "1")
    assert proc.returncode == 1 and "picamera2 is not importable" in proc.stderr


def test_paused_the_camera_preview_is_covered_by_an_opaque_card(pi, analyzer, astronaut_bgr):
    # the camera's own preview goes on while paused: only an opaque overlay can hide it
    viewer, camera, clock = attached_viewer(interval_s=0.1)
    frame = Frame(0, cv2.resize(astronaut_bgr, (640, 480)), 0.0, 0.0)
    viewer.show(frame, face_result(analyzer, frame.image_bgr))
    viewer.show_paused()  # paused_card_rgba: opaque (tests/edge/display/test_paused_screen.py)
    overlays = [shape for name, shape in camera.calls if name == "set_overlay"]
    assert overlays == [(480, 640, 4), (480, 640, 4)]
    viewer.show(frame, face_result(analyzer, frame.image_bgr))  # resumed: too soon, waits
    clock.now_s += 1
    viewer.show(frame, dataclasses.replace(face_result(analyzer, frame.image_bgr), frame_index=9))
    assert len([name for name, _ in camera.calls if name == "set_overlay"]) == 3
