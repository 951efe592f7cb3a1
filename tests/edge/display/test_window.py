"""The window backend: Tk in a child process, on a real X server (Xvfb), keys sent with
xdotool (XTEST, as a keyboard gives them). Nothing is faked: the child is the real
`python -m edge.display.tkwindow`, and it is stopped, killed or left without its X server
the way a desktop does it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from edge.display.common import DisplayUnavailable
from edge.display.window import CLOSE_TIMEOUT_S, KILL_WAIT_S, WindowDisplay
from tests.conftest import wait_until
from tests.edge.display.xserver import XServer, window_ids, xvfb

LOST = "window: the display went away ("


@pytest.fixture()
def server(monkeypatch) -> Iterator[XServer]:
    with xvfb() as running:
        monkeypatch.setenv("DISPLAY", running.display)
        yield running


@pytest.fixture()
def window(server) -> Iterator[tuple[WindowDisplay, threading.Event]]:
    quit_asked = threading.Event()
    shown = WindowDisplay(fullscreen=False, on_quit=quit_asked.set)
    try:
        yield shown, quit_asked
    finally:
        shown.close()


def child_of(window: WindowDisplay) -> subprocess.Popen[bytes]:
    proc = window._proc
    assert proc is not None, "the window has no process"
    return proc


def show_until(window: WindowDisplay, image: np.ndarray, done, timeout_s: float = 10) -> bool:
    """Show frames (keys and the child's end are read while frames are shown) until done()."""

    def step() -> bool:
        window.show_image(image)
        return bool(done())

    return wait_until(step, timeout_s, step_s=0.02)


@pytest.mark.parametrize("key", ["q", "Q", "Escape"])
def test_frames_are_shown_and_quit_keys_reach_on_quit(window, server, astronaut_bgr, key):
    shown, quit_asked = window
    assert show_until(shown, astronaut_bgr, lambda: shown.frames_shown >= 3)
    assert wait_until(lambda: window_ids(server.display), 10, 0.1), "no emotion-edge window"
    (window_id,) = window_ids(server.display)
    env = {**os.environ, "DISPLAY": server.display}
    subprocess.run(["xdotool", "windowfocus", "--sync", window_id], check=True, timeout=30, env=env)
    subprocess.run(["xdotool", "key", key], check=True, timeout=30, env=env)
    assert show_until(shown, astronaut_bgr, quit_asked.is_set)
    assert shown.lost is None  # a quit is no failure


def test_a_lost_x_server_costs_the_window_only(window, server, astronaut_bgr, caplog):
    shown, quit_asked = window
    assert show_until(shown, astronaut_bgr, lambda: shown.frames_shown >= 3)
    child = child_of(shown)
    caplog.set_level(logging.WARNING, "edge.display.window")
    server.kill(signal.SIGKILL)
    assert show_until(shown, astronaut_bgr, lambda: shown.lost is not None)
    for _ in range(20):
        shown.show_image(astronaut_bgr)  # nothing more, and no error
    (record,) = [r for r in caplog.records if LOST in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "X server" in record.getMessage() and "exit code 1" in record.getMessage()
    assert record.getMessage().endswith("; going on without a display")
    assert child.poll() == 1  # Xlib ended it, and it was reaped
    assert not quit_asked.is_set()  # the run is not stopped for it


def test_a_killed_window_process_is_said_once(window, astronaut_bgr, caplog):
    shown, _ = window
    assert show_until(shown, astronaut_bgr, lambda: shown.frames_shown >= 1)
    child = child_of(shown)
    caplog.set_level(logging.WARNING, "edge.display.window")
    child.kill()
    assert show_until(shown, astronaut_bgr, lambda: shown.lost is not None)
    assert shown.lost == "killed by SIGKILL"
    assert [r.getMessage() for r in caplog.records] == [
        "window: the display went away (killed by SIGKILL); going on without a display"
    ]


def test_a_hung_window_never_blocks_the_run_and_close_kills_it(window, astronaut_bgr):
    shown, _ = window
    assert show_until(shown, astronaut_bgr, lambda: shown.frames_shown >= 1)
    child = child_of(shown)
    os.kill(child.pid, signal.SIGSTOP)  # an X server that stopped answering: the child hangs
    big = np.zeros((1080, 1920, 3), np.uint8)
    started = time.monotonic()
    for _ in range(200):
        shown.show_image(big)
    assert time.monotonic() - started < 1.0  # the frames were dropped, not waited on
    assert shown.frames_dropped >= 199
    started = time.monotonic()
    shown.close()
    assert time.monotonic() - started < CLOSE_TIMEOUT_S + KILL_WAIT_S + 0.5
    assert child.returncode == -signal.SIGKILL  # killed and reaped: no zombie, no orphan


def test_close_ends_the_window_process(window, astronaut_bgr):
    shown, _ = window
    assert show_until(shown, astronaut_bgr, lambda: shown.frames_shown >= 1)
    child = child_of(shown)
    shown.close()
    assert child.returncode == 0  # it closed when asked
    shown.close()  # twice is fine
    shown.show_image(astronaut_bgr)  # and showing after close does nothing


def test_no_x_server_fails_at_start_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("DISPLAY", ":97")  # no server on it
    monkeypatch.setenv("XAUTHORITY", str(tmp_path / "none"))
    started = time.monotonic()
    with pytest.raises(DisplayUnavailable, match=r"^window: cannot open a window \(.*:97"):
        WindowDisplay(fullscreen=False, on_quit=lambda: None)
    assert time.monotonic() - started < 10
