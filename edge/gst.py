"""GStreamer pipelines (a Jetson's CSI camera) without a GStreamer-enabled OpenCV.

The OpenCV wheel from PyPI is built without GStreamer, so a pipeline such
as `nvarguscamerasrc ! ... ! nvvidconv` is run by `gst-launch-1.0` in a child process,
converted to raw BGR at the configured size, and read from its stdout, one frame of
width*height*3 bytes at a time, with a timeout.
"""

from __future__ import annotations

import logging
import re
import select
import shlex
import shutil
import subprocess
import time

import numpy as np

from edge.capture import SourceUnavailable, kind_from_text
from edge.config import SourceConfig
from edge.errors import SourceError

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 5.0
INSTALL_HINT = "gst-launch-1.0 not found: sudo apt install gstreamer1.0-tools"


def launch_args(pipeline: str, width: int, height: int) -> list[str]:
    """gst-launch-1.0 arguments: the user's pipeline, ending in raw BGR frames on stdout."""
    # an OpenCV-style pipeline ends in appsink; ours ends in fdsink instead
    body = re.sub(r"!\s*appsink\b.*$", "", pipeline.strip()).strip().rstrip("!").strip()
    tail = (
        f"! videoconvert ! videoscale ! video/x-raw,format=BGR,width={width},"
        f"height={height} ! fdsink fd=1 sync=false"
    )
    return ["gst-launch-1.0", "-q", *shlex.split(f"{body} {tail}")]


def pipeline_problem(uri: str) -> str | None:
    """Why `uri`, if it is a GStreamer pipeline, cannot become gst-launch-1.0 arguments."""
    if kind_from_text(uri) != "gstreamer":
        return None
    try:
        launch_args(uri, 640, 480)
    except ValueError as exc:  # shlex: an unbalanced quote or a trailing backslash
        return (
            f"the GStreamer pipeline cannot be split into arguments ({exc}): "
            "close the quote, or escape it with a backslash"
        )
    return None


class GstLaunchSource:
    live = True
    plays_file = False
    nominal_fps: float | None = None

    def __init__(self, cfg: SourceConfig) -> None:
        if shutil.which("gst-launch-1.0") is None:
            raise SourceError(INSTALL_HINT)
        self.width, self.height = cfg.width or 640, cfg.height or 480
        self.args = launch_args(cfg.uri, self.width, self.height)
        self.description = f"gstreamer {cfg.uri}"
        self._frame_bytes = self.width * self.height * 3
        self._proc: subprocess.Popen[bytes] | None = None

    def open(self) -> None:
        try:
            self._proc = subprocess.Popen(
                self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
            )
        except OSError as exc:
            raise SourceUnavailable(f"cannot start gst-launch-1.0 ({exc})") from exc

    def read(self) -> np.ndarray:
        proc = self._proc
        if proc is None or proc.stdout is None:
            raise SourceUnavailable("the GStreamer pipeline is not running")
        chunks, have = [], 0
        deadline = time.monotonic() + READ_TIMEOUT_S
        while have < self._frame_bytes:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, remaining))
            if not ready:
                raise SourceUnavailable(f"no frame for {READ_TIMEOUT_S:.0f} s")
            chunk = proc.stdout.read(self._frame_bytes - have)
            if not chunk:
                raise SourceUnavailable(f"the pipeline ended: {self._stderr_tail()}")
            chunks.append(chunk)
            have += len(chunk)
        return np.frombuffer(b"".join(chunks), np.uint8).reshape(self.height, self.width, 3)

    def _stderr_tail(self) -> str:
        proc = self._proc
        if proc is None or proc.stderr is None:
            return "no message"
        try:
            proc.wait(1.0)
            text = proc.stderr.read().decode(errors="replace").strip()
        except (subprocess.TimeoutExpired, OSError):
            return "no message"
        return text.splitlines()[-1] if text else f"exit code {proc.returncode}"

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(2.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(2.0)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
