"""Someone guessing the web token, against a real WebView on 127.0.0.1: every guess refused,
all of them together one INFO line per interval with the count and the address, never a token."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator

import pytest

from edge.config.view import WebConfig
from edge.pipeline.live import LiveState
from edge.pipeline.stats import PipelineStats
from edge.web.server import ServerLimits
from edge.web.view import WebView
from tests.conftest import wait_until
from tests.mqtt_broker import free_port

TOKEN = "Vq7-Lm2xR9kTz4Wb8Nc3"


def status_of(port: int, target: str, headers: str = "") -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
        reply = b""
        while b"\r\n" not in reply and (data := sock.recv(4096)):
            reply += data
    return int(reply.split()[1])


@pytest.fixture()
def guarded_view() -> Iterator[Callable[[ServerLimits], WebView]]:
    views: list[WebView] = []

    def start(limits: ServerLimits) -> WebView:
        cfg = WebConfig(enabled=True, port=free_port(), token=TOKEN)
        views.append(WebView(cfg, PipelineStats(), LiveState(), limits))
        return views[-1]

    yield start
    for view in views:
        view.close()


def wrong_token_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.INFO and "wrong web.token" in r.getMessage()
    ]


def test_fifty_wrong_tokens_make_one_info_line_with_the_count(guarded_view, caplog):
    caplog.set_level(logging.INFO, logger="edge.web")
    view = guarded_view(ServerLimits())  # one line a minute at most
    guesses = [f"guess-{n:04d}-Xq9zLm" for n in range(50)]
    for n, guess in enumerate(guesses):
        if n % 2:
            assert status_of(view.port, f"/api/result?token={guess}") == 401
        else:
            assert status_of(view.port, "/metrics", f"Authorization: Bearer {guess}\r\n") == 401
    assert status_of(view.port, "/api/result") == 401  # no token at all: not a guess
    assert status_of(view.port, f"/api/result?token={TOKEN}") == 200
    assert wrong_token_lines(caplog) == []  # within the minute: counted, not yet logged
    view.close()  # what was counted is logged when the view stops
    lines = wrong_token_lines(caplog)
    assert len(lines) == 1, lines
    assert "refused 50 requests with a wrong web.token" in lines[0]
    assert "from 127.0.0.1 (50)" in lines[0]
    text = caplog.text
    assert TOKEN not in text and not any(guess in text for guess in guesses)


def test_a_guess_is_logged_within_the_interval_and_lines_stay_that_far_apart(guarded_view, caplog):
    caplog.set_level(logging.INFO, logger="edge.web")
    view = guarded_view(ServerLimits(wrong_token_log_s=0.5))
    for _ in range(3):
        assert status_of(view.port, "/?token=wrong-Xq9zLm2v") == 401
    assert wait_until(lambda: len(wrong_token_lines(caplog)) == 1, 5)  # without a new request
    first = next(r for r in caplog.records if "wrong web.token" in r.getMessage())
    assert "refused 3 requests" in first.getMessage()
    assert status_of(view.port, "/?token=wrong-Xq9zLm2v") == 401
    assert wait_until(lambda: len(wrong_token_lines(caplog)) == 2, 5)
    second = [r for r in caplog.records if "wrong web.token" in r.getMessage()][1]
    assert "refused 1 request with" in second.getMessage()
    assert second.created - first.created >= 0.5
