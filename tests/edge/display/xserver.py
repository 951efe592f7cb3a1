"""A real X server in memory (Xvfb) for the window's tests, started and stopped by its pid."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

START_TIMEOUT_S = 20.0


@dataclass
class XServer:
    display: str  # ":N", as DISPLAY takes it
    proc: subprocess.Popen[bytes]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """End the server the way a crash (SIGKILL) or a display manager (SIGTERM) does."""
        os.kill(self.proc.pid, sig)
        self.proc.wait(10)


@contextmanager
def xvfb() -> Iterator[XServer]:
    """Xvfb on a free display number (-displayfd: it writes the number once it is ready)."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt install xvfb)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=[write_fd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as reader:
            number = reader.readline().strip()
        assert number.isdigit(), f"Xvfb gave no display number (exit {proc.poll()})"
        yield XServer(f":{number}", proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def window_ids(display: str) -> list[str]:
    """The X ids of emotion-edge's windows on `display` (xdotool), [] while there is none."""
    env = {**os.environ, "DISPLAY": display}
    found = subprocess.run(
        ["xdotool", "search", "--name", "emotion-edge"],
        capture_output=True,
        text=True,
        timeout=10,
        env=env,
    )
    return found.stdout.split()
