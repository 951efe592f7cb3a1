"""ReconnectingSource: the capture policy, driven synchronously by a script and a fake clock."""

from __future__ import annotations

import logging
from collections import deque

import numpy as np
import pytest

from edge.sources import EndOfStream, FeedPolicy, ReconnectingSource, SourceUnavailable
from edge.sources.base import shrunk_to
from edge.sources.feed import IMAGE_GAP_S, Backoff, Pacer

IMAGE = np.zeros((4, 4, 3), np.uint8)


class ScriptedSource:
    """Answers open() and read() from a script: "ok", "fail" (SourceUnavailable) or "end"."""

    description = "scripted camera"
    current_file = None
    skipped = 0

    def __init__(self, script: list[str], live: bool = True, fps: float | None = None) -> None:
        self.script = deque(script)
        self.live, self.plays_file, self.nominal_fps = live, not live, fps
        self.calls: list[str] = []

    def _next(self, call: str) -> None:
        self.calls.append(call)
        step = self.script.popleft() if self.script else "end"
        if step == "fail":
            raise SourceUnavailable(f"{call} failed")
        if step == "end":
            raise EndOfStream

    def open(self) -> None:
        self._next("open")

    def read(self) -> np.ndarray:
        self._next("read")
        return IMAGE

    def close(self) -> None:
        self.calls.append("close")


class Clock:
    """Time that moves only when the feed waits; `stop_after` waits, the wait says stop."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.now_s = 100.0
        self.waits: list[float] = []
        self.stop_after = stop_after

    def wait(self, seconds: float) -> bool:
        self.waits.append(round(seconds, 6))
        self.now_s += seconds
        return self.stop_after is not None and len(self.waits) >= self.stop_after

    def __call__(self) -> float:
        return self.now_s


class Watch:
    def __init__(self) -> None:
        self.states: list[str] = []
        self.active: list[bool] = []

    def camera_call(self, active: bool) -> None:
        self.active.append(active)

    def set_source_state(self, state: str) -> None:
        self.states.append(state)


CAMERA_POLICY = FeedPolicy(reconnect_initial_s=1.0, reconnect_max_s=8.0)


def feed_for(source, clock, policy=CAMERA_POLICY):
    watch = Watch()
    return ReconnectingSource(source, policy, wait=clock.wait, watch=watch, clock=clock), watch


def frames_until_end(feed: ReconnectingSource) -> int:
    count = 0
    with pytest.raises(EndOfStream):
        while feed.read() is not None:
            count += 1
    return count


def test_backoff_doubles_to_cap_and_resets():
    backoff = Backoff(1.0, 30.0)
    assert [backoff.next_delay_s() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    backoff.reset()
    assert backoff.next_delay_s() == 1.0


def test_pacer_spaces_frames_and_never_bursts_after_a_stall():
    pacer = Pacer(10.0)
    assert pacer.delay_s(100.0) == 0.0
    assert pacer.delay_s(100.0) == pytest.approx(0.1)
    assert pacer.delay_s(100.15) == pytest.approx(0.05)
    assert pacer.delay_s(105.0) == 0.0  # 5 s stall: restart, no catch-up burst
    assert pacer.delay_s(105.0) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("script", "waits", "frames"),
    [
        # healthy camera: no wait at all
        (["ok", "ok", "ok"], [], 2),
        # camera missing at start, found on the 4th open: 1, 2, 4 s, capped at 8
        (["fail", "fail", "fail", "ok", "ok"], [1, 2, 4], 1),
        (["fail"] * 6 + ["ok", "ok"], [1, 2, 4, 8, 8, 8], 1),
        # opens but never delivers (a GStreamer child that dies at once): the backoff grows
        (["ok", "fail", "ok", "fail", "ok", "fail", "ok", "ok"], [1, 2, 4], 1),
        # a frame came through, then lost: the backoff starts again from the first delay
        (["ok", "ok", "fail", "fail", "ok", "ok", "fail", "ok", "ok"], [1, 2, 1], 3),
    ],
)
def test_reopen_waits_follow_the_backoff(script, waits, frames):
    clock = Clock()
    feed, _ = feed_for(ScriptedSource(script), clock)
    assert frames_until_end(feed) == frames
    assert clock.waits == waits


def test_a_loss_is_said_once_and_the_return_once(caplog):
    caplog.set_level(logging.DEBUG, logger="edge.sources.feed")
    clock = Clock()
    feed, watch = feed_for(ScriptedSource(["ok", "ok", "fail", "fail", "fail", "ok", "ok"]), clock)
    frames_until_end(feed)
    by_level = {
        level: [r.getMessage() for r in caplog.records if r.levelno == level]
        for level in (logging.INFO, logging.WARNING)
    }
    assert by_level[logging.WARNING] == [
        "scripted camera: read failed; reopening with backoff (1 s, doubling to 8 s)"
    ]
    assert by_level[logging.INFO] == ["scripted camera is back after 7.0 s"]  # 1 + 2 + 4
    assert watch.states == ["reconnecting"] * 3


def test_a_stop_during_the_backoff_wait_ends_the_read_at_once():
    clock = Clock(stop_after=2)
    source = ScriptedSource(["fail"] * 10)
    feed, watch = feed_for(source, clock)
    assert feed.read() is None
    assert clock.waits == [1, 2]
    assert source.calls == ["open", "close", "open", "close"]
    feed.close()
    assert watch.states[-1] == "ended" and watch.active[-1] is False


def test_a_file_is_paced_to_its_rate_and_lossless_only_unpaced():
    clock = Clock()
    paced, _ = feed_for(ScriptedSource(["ok"] * 5, live=False, fps=25.0), clock)
    assert frames_until_end(paced) == 4
    assert clock.waits == [0.0, 0.04, 0.04, 0.04, 0.04]  # the 5th wait precedes the end
    assert paced.lossless is False  # paced like a camera: a slow analysis drops frames

    clock = Clock()
    unpaced, _ = feed_for(
        ScriptedSource(["ok"] * 5, live=False, fps=25.0), clock, FeedPolicy(realtime=False)
    )
    assert frames_until_end(unpaced) == 4
    assert clock.waits == [] and unpaced.lossless is True


def test_the_watchdog_sees_each_blocking_call_begin_and_end():
    clock = Clock()
    feed, watch = feed_for(ScriptedSource(["ok", "ok"]), clock)
    assert feed.read() is IMAGE
    # open, then read: each entered (True) and left (False); never left "inside"
    assert watch.active[-1] is False and watch.active.count(True) == 2


@pytest.mark.parametrize(
    ("live", "fps", "expected"),
    [
        (False, 25.0, [0.0, 0.04, 0.08]),  # a video file: its own clock, frame / fps
        (False, None, [0.0, IMAGE_GAP_S, 2 * IMAGE_GAP_S]),  # images: unrelated moments
        (True, 25.0, [None, None, None]),  # a camera: the real clock (captured_at_s)
    ],
)
def test_each_frame_carries_its_time_in_the_file(live, fps, expected):
    source = ScriptedSource(["ok"] * 4, live=live, fps=fps)
    feed, _ = feed_for(source, Clock(), FeedPolicy(realtime=False))
    times = []
    for _ in range(3):
        assert feed.read() is IMAGE
        times.append(feed.media_time_s)
    assert times == (expected if None in expected else pytest.approx(expected))


def test_frames_over_max_pixels_are_downscaled_once_at_capture_and_said_once(caplog):
    # an 8K stream or a 50 MP photo used to travel whole through every stage (450-690 MB)
    big = np.random.default_rng(1).integers(0, 255, (4320, 7680, 3), np.uint8)
    small = np.zeros((480, 640, 3), np.uint8)
    frames = deque([big, big, small])

    class Sized(ScriptedSource):
        def read(self) -> np.ndarray:
            self._next("read")
            return frames.popleft()

    caplog.set_level(logging.DEBUG, logger="edge.sources.feed")
    feed, _ = feed_for(Sized(["ok"] * 4, live=True), Clock(), FeedPolicy(max_pixels=3840 * 2160))
    shapes = [feed.read().shape for _ in range(3)]
    assert shapes == [(2160, 3840, 3), (2160, 3840, 3), (480, 640, 3)]
    assert feed.downscaled == 2
    said = [r for r in caplog.records if "over source.max_pixels" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.INFO, logging.DEBUG]  # not a line a frame
    assert "7680x4320" in said[0].getMessage() and "3840x2160" in said[0].getMessage()


def test_the_shape_is_kept_and_a_small_frame_is_the_same_array():
    odd = np.zeros((1000, 3000, 3), np.uint8)  # 3:1, over 2 MP
    shrunk = shrunk_to(odd, 1_000_000)
    height, width = shrunk.shape[:2]
    assert height * width <= 1_000_000 and abs(width / height - 3.0) < 0.01
    assert shrunk_to(IMAGE, 1_000_000) is IMAGE
