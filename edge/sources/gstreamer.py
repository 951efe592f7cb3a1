"""GStreamer pipelines (a Jetson's CSI camera) without a GStreamer-enabled OpenCV.

The OpenCV wheel from PyPI is built without GStreamer, so a pipeline such
as `nvarguscamerasrc ! ... ! nvvidconv` is run by `gst-launch-1.0` in a child process,
converted to raw BGR at the configured size, and read from its stdout, one frame of
width*height*3 bytes at a time, with a timeout.
"""

from __future__ import annotations

import logging
import select
import shutil
import subprocess
import time
from typing import TYPE_CHECKING

import numpy as np

from edge.config.source import SourceSpec, launch_args, pipeline_is_live
from edge.errors import SourceError, redact_credentials
from edge.sources.base import EndOfStream, SourceUnavailable

if TYPE_CHECKING:
    from edge.config import SourceConfig

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 5.0
INSTALL_HINT = "gst-launch-1.0 not found: sudo apt install gstreamer1.0-tools"


def gst_reason(stderr: str) -> str:
    """gst-launch-1.0's first error and its detail, e.g. `filesrc0: Resource not found.
    (No such file "clip.mp4")`, rather than its last line ("Failed to set pipeline...")."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for at, line in enumerate(lines):
        if line.startswith("ERROR: from element"):
            where, _, reason = line.removeprefix("ERROR: from element ").rpartition(": ")
            element = where.rsplit(":", 1)[-1]
            detail = lines[at + 3] if at + 3 < len(lines) else ""
            has_detail = lines[at + 1 : at + 2] == ["Additional debug info:"] and detail
            return f"{element}: {reason}" + (f" ({detail})" if has_detail else "")
    return lines[-1] if lines else ""


class GstLaunchSource:
    """A camera pipeline is live: it is reopened when it fails. One that plays a file or a
    test pattern is not: GStreamer's clock paces it (`realtime`), every frame is taken,
    and its end is the end of the run (or, with `loop`, a new start)."""

    current_file: str | None = None
    skipped = 0
    plays_file = False  # paced by GStreamer itself, not by the feed
    nominal_fps: float | None = None

    def __init__(self, spec: SourceSpec, cfg: SourceConfig) -> None:
        if shutil.which("gst-launch-1.0") is None:
            raise SourceError(INSTALL_HINT)
        self.width, self.height = cfg.width or 640, cfg.height or 480
        self.live = pipeline_is_live(str(spec.target))
        self.loop = cfg.loop and not self.live
        sync = cfg.realtime and not self.live
        self.args = launch_args(str(spec.target), self.width, self.height, sync=sync)
        self.description = f"gstreamer {redact_credentials(str(spec.target))}"
        self._frame_bytes = self.width * self.height * 3
        self._proc: subprocess.Popen[bytes] | None = None
        self._frames_this_start = 0

    def open(self) -> None:
        try:
            self._proc = subprocess.Popen(
                self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
            )
        except OSError as exc:
            raise SourceUnavailable(f"cannot start gst-launch-1.0 ({exc})") from exc
        self._frames_this_start = 0

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
                return self._ended(have)
            chunks.append(chunk)
            have += len(chunk)
        self._frames_this_start += 1
        return np.frombuffer(b"".join(chunks), np.uint8).reshape(self.height, self.width, 3)

    def _ended(self, have: int) -> np.ndarray:
        """The pipeline closed its output: for a file, its end (or a new start)."""
        why = self._stderr_tail()
        proc = self._proc
        if self.live:
            raise SourceUnavailable(f"the pipeline ended: {why}")
        if proc is None or proc.returncode != 0 or have:
            raise SourceError(f"{self.description}: the pipeline failed: {why}")
        if not self.loop or not self._frames_this_start:  # a loop of nothing would spin
            raise EndOfStream
        self.close()
        self.open()
        return self.read()

    def _stderr_tail(self) -> str:
        proc = self._proc
        if proc is None or proc.stderr is None:
            return "no message"
        try:
            proc.wait(1.0)
            text = redact_credentials(proc.stderr.read().decode(errors="replace").strip())
        except (subprocess.TimeoutExpired, OSError):
            return "no message"
        return gst_reason(text) or f"exit code {proc.returncode}"

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
