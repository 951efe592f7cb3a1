"""LiveState: what the capture, analysis, viewer and web threads share."""

from __future__ import annotations

import threading
import time

import numpy as np

from edge.pipeline.live import LiveState
from edge.types import Frame, Result, Timings


def _frame(i: int) -> Frame:
    return Frame(i, np.zeros((4, 4, 3), np.uint8), time.monotonic(), time.time())


def _result(i: int) -> Result:
    return Result(i, 0.0, 0.0, "no_face", (), (), Timings(), 1.0)


def test_drops_are_counted_when_nobody_takes_and_the_newest_is_taken():
    live, stop = LiveState(), threading.Event()
    assert live.publish(_frame(0), wait_taken=False, stop=stop) is False
    assert live.publish(_frame(1), wait_taken=False, stop=stop) is True
    taken = live.take(0.1)
    assert taken is not None and taken.index == 1
    assert live.take(0.05) is None  # nothing newer
    live.close()
    assert live.drained


def test_readers_see_the_newest_frame_with_the_newest_result_and_never_take():
    live, stop = LiveState(), threading.Event()
    live.publish(_frame(0), wait_taken=False, stop=stop)
    live.set_result(_result(0))
    live.publish(_frame(1), wait_taken=False, stop=stop)
    frame, result, seq = live.newer_than(0, 0.05)
    assert (frame.index, result.frame_index, seq) == (1, 0, 2)
    assert live.newer_than(seq, 0.05)[0] is None  # nothing newer than what was seen
    assert live.take(0.05).index == 1  # reading took nothing away from analysis


def test_a_waiting_reader_returns_at_once_when_the_run_ends():
    live = LiveState()
    returned: list[float] = []

    def reader() -> None:
        started = time.monotonic()
        live.newer_than(0, 30.0)
        returned.append(time.monotonic() - started)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    live.close()
    thread.join(5.0)
    assert returned and returned[0] < 5.0 and live.closed


def test_lossless_publish_waits_until_taken_and_honours_stop():
    live, stop = LiveState(), threading.Event()
    live.publish(_frame(0), wait_taken=True, stop=stop)
    done = threading.Event()

    def second() -> None:
        live.publish(_frame(1), wait_taken=True, stop=stop)
        done.set()

    threading.Thread(target=second, daemon=True).start()
    assert not done.wait(0.3)  # blocked: frame 0 not taken yet
    assert live.take(0.1).index == 0
    assert done.wait(1.0)
    third = threading.Thread(target=lambda: live.publish(_frame(2), True, stop), daemon=True)
    third.start()
    stop.set()  # a stop releases a waiting publisher within one poll
    third.join(2.0)
    assert not third.is_alive()
    assert live.take(0.1).index == 2


def test_paused_no_frame_gets_through_and_what_was_there_is_let_go():
    live, stop = LiveState(), threading.Event()
    live.publish(_frame(0), wait_taken=False, stop=stop)
    live.set_result(_result(0))
    live.set_paused(True)
    assert live.paused and live.latest() == (None, None)  # nothing of before is shown
    assert live.take(0.05) is None  # nor analysed
    # a lossless source does not wait for a taker that never comes
    assert live.publish(_frame(1), wait_taken=True, stop=stop) is False
    assert live.take(0.05) is None and live.latest() == (None, None)
    assert live.newer_than(0, 0.05)[0] is None
    live.set_paused(False)
    live.publish(_frame(2), wait_taken=False, stop=stop)
    taken = live.take(0.1)
    assert taken is not None and taken.index == 2
