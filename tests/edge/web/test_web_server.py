"""The web server's small rules (edge.web.server): what reaches the log, which hosts are local."""

from __future__ import annotations

import pytest

from edge.web.server import describe_error, is_loopback, redact


@pytest.mark.parametrize(
    ("text", "token", "expected"),
    [
        ('"GET /stream?token=s3cret HTTP/1.1" 200', None, '"GET /stream?token=*** HTTP/1.1" 200'),
        ("/api/result?a=1&token=x;b=2", None, "/api/result?a=***&token=***;b=***"),
        ("/?key='quoted'", None, "/?key=***'quoted'"),  # a value ends at a quote
        ("Authorization: Bearer s3cret!", "s3cret!", "Authorization: Bearer ***"),
        ("/live/s3cret%21", "s3cret!", "/live/***"),  # the token as a URL carries it
        ("/healthz", "s3cret", "/healthz"),
        ("/healthz", "", "/healthz"),
    ],
)
def test_redact(text, token, expected):
    assert redact(text, token) == expected


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.3.4.5", True),
        ("::1", True),
        ("localhost", True),
        ("LocalHost.", True),
        ("0.0.0.0", False),  # every interface
        ("::", False),
        ("192.168.1.20", False),
        ("camera.lan", False),
    ],
)
def test_is_loopback(host, local):
    assert is_loopback(host) is local


def test_describe_error_names_the_type_even_without_a_message():
    assert describe_error(ConnectionResetError(104, "Connection reset by peer")) == (
        "ConnectionResetError: [Errno 104] Connection reset by peer"
    )
    assert describe_error(TimeoutError()) == "TimeoutError"
