"""Shared fixtures: real face photos (scikit-image, public domain) and the bundled models."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from convert.ferplus import SHARED_FERPLUS

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
DEFAULT_MODEL = MODELS / "emotion_ferplus_vgg_compact_int8.tflite"
FER_MODEL = MODELS / "emotion_fer_mini_xception_int8.tflite"  # the earlier default
EMOTION_EDGE = [sys.executable, "-m", "edge"]

# The result JSON's keys, as the README documents them (JSON Lines, MQTT, /api/result).
RESULT_KEYS = {
    "schema",
    "time",
    "frame",
    "status",
    "emotion",
    "emotion_age_s",
    "episode",
    "confidence",
    "scores",
    "faces_detected",
    "faces",
    "latency_ms",
    "timings_ms",
    "model",
    "file",
}

# Where MediaPipe's short-range BlazeFace finds the astronaut's face in the 512x512 photo.
ASTRONAUT_FACE_XYWH = (177, 82, 95, 95)


def wait_until(predicate: Callable[[], object], timeout_s: float, step_s: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout_s` has passed; whether it became true.

    Every test that waits for a state waits with this: on the condition, with a deadline.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)  # the poll interval, not a wait for a state
    return bool(predicate())


def _astronaut_bgr() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    """Eileen Collins smiling (NASA photo, public domain): one face."""
    return _astronaut_bgr()


@pytest.fixture(scope="session")
def two_faces_bgr() -> np.ndarray:
    """Two real faces side by side in a 640x480 frame (one of them mirrored)."""
    face = _astronaut_bgr()[20:340, 60:380]  # a 320x320 head-and-shoulders crop
    left = cv2.resize(face, (320, 320))
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[80:400, 0:320] = left
    frame[80:400, 320:640] = left[:, ::-1]
    return frame


@pytest.fixture(scope="session")
def no_face_bgr() -> np.ndarray:
    """A cup of coffee: a real photo with no face in it."""
    from skimage import data

    return cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)


@pytest.fixture()
def photo_files(tmp_path: Path, astronaut_bgr, two_faces_bgr, no_face_bgr) -> dict[str, Path]:
    files = {}
    for name, image in (("one", astronaut_bgr), ("two", two_faces_bgr), ("none", no_face_bgr)):
        files[name] = tmp_path / f"{name}.png"
        cv2.imwrite(str(files[name]), image)
    return files


def write_video(path: Path, frames: list[np.ndarray], fps: float = 15.0) -> Path:
    """A real video file (MJPG in AVI: decodable by every OpenCV build)."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), f"cannot write {path}"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def start_program(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    """The real `emotion-edge` in the background, as a service would run it."""
    return subprocess.Popen(
        [*EMOTION_EDGE, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )  # type: ignore[call-overload]


def finish_program(proc: subprocess.Popen[str], timeout_s: float = 15) -> str:
    """Wait for it to end (bounded), kill it if it hangs; its stderr."""
    try:
        _, stderr = proc.communicate(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    return stderr


def stop_program(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> str:
    """Signal it, wait (bounded), kill if it hangs; its stderr."""
    proc.send_signal(sig)
    return finish_program(proc)


def run_cli(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None, **kwargs
) -> subprocess.CompletedProcess[str]:
    env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [*EMOTION_EDGE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
        **kwargs,
    )


@pytest.fixture(autouse=True)
def own_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test, and every program it starts, keeps its state here, never in the home folder.

    (The MQTT sink records what it announced in $STATE_DIRECTORY; a client id fixed in the
    environment would make every run the same MQTT session.)
    """
    folder = tmp_path / "state"
    monkeypatch.setenv("STATE_DIRECTORY", str(folder))
    monkeypatch.delenv("EMOTION_EDGE_MQTT_CLIENT_ID", raising=False)
    return folder


@pytest.fixture()
def root_logging_restored() -> Iterator[logging.Logger]:
    """The root logger's handlers and level put back after a test that sets logging up."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture()
def signal_handlers_restored() -> Iterator[None]:
    """SIGTERM's and SIGINT's handlers put back after a test that runs the CLI in-process."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.fixture()
def model_copy(tmp_path: Path) -> Path:
    """The default model and its sidecar copied where a test may change them."""
    target = tmp_path / "m.tflite"
    shutil.copy(DEFAULT_MODEL, target)
    shutil.copy(DEFAULT_MODEL.with_suffix(".json"), target.with_suffix(".json"))
    return target


@pytest.fixture()
def analyzer_for():
    """Opens analyzers on the real detector and default model, as the program does.

    `analyzer_for(faces={"policy": "all"}, reuse={"enabled": True})`: sections of the
    config; reuse is off unless asked for, so a test sees every frame classified.
    """
    from edge.analysis.stages import open_stages
    from edge.config import Config

    with contextlib.ExitStack() as opened:

        def open_one(**sections: Any):
            config = Config(
                **{
                    "classifier": {"model": str(DEFAULT_MODEL), "threads": 2},
                    "reuse": {"enabled": False},
                    **sections,
                }
            )
            return opened.enter_context(open_stages(config)).analyzer

        yield open_one


@pytest.fixture()
def analyzer(analyzer_for):
    """One analyzer with the default config (reuse off), closed after the test."""
    return analyzer_for()


@pytest.fixture()
def without_picamera2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """picamera2 cannot be imported, here and in child processes, even on a Raspberry Pi.

    So a test of the "picamera2 missing" path means the same on a PC and on a Pi, where the
    real library imports (from the system site-packages the Pi's venv includes).
    """
    monkeypatch.setitem(sys.modules, "picamera2", None)  # `import picamera2` raises ImportError
    hidden = tmp_path / "hide_picamera2"
    (hidden / "picamera2").mkdir(parents=True)
    (hidden / "picamera2" / "__init__.py").write_text(
        'raise ImportError("picamera2 is hidden by the tests")\n'
    )
    paths = [str(hidden), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))


FERPLUS = SHARED_FERPLUS  # ../shared/data/ferplus beside the checkout
# A user's clone has no ../shared: those tests say so and skip; CI has it and runs them.
needs_ferplus = pytest.mark.skipif(
    not (FERPLUS / "FER2013Test" / "label.csv").is_file(),
    reason=f"FER+ is not at {FERPLUS} (only the project's CI and developers have it)",
)
