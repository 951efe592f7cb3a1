"""The web view answers only to its own names (issue 25, case 12): a page on another site
that rebinds its DNS name to this device's address gets 403, not the results or the stream."""

from __future__ import annotations

import socket

import pytest

from edge.config.view import WebConfig
from edge.pipeline.live import LiveState
from edge.pipeline.stats import PipelineStats
from edge.web.server import host_allowed, this_machines_names
from edge.web.view import WebView
from tests.mqtt_broker import free_port

LOOPBACK_NAMES = this_machines_names("127.0.0.1")


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        ("127.0.0.1:8080", True),
        ("127.0.0.1", True),
        ("localhost:8080", True),
        ("LOCALHOST.", True),
        ("[::1]:8080", True),
        ("evil.example", False),
        ("evil.example:8080", False),
        ("192.168.1.20:8080", False),  # not a loopback address: not this view's, on loopback
        ("", False),
        (None, False),
    ],
)
def test_a_loopback_view_answers_to_loopback_names_only(header, allowed):
    assert host_allowed(header, LOOPBACK_NAMES, loopback_only=True) is allowed


def test_a_view_on_the_network_answers_to_addresses_and_this_machines_name():
    names = this_machines_names("0.0.0.0")
    hostname = socket.gethostname().lower()
    for header in ("192.168.1.20:8080", "[fe80::1]:8080", f"{hostname}:8080", f"{hostname}.local"):
        assert host_allowed(header, names, loopback_only=False), header
    assert not host_allowed("evil.example:8080", names, loopback_only=False)


def raw_get(port: int, host_line: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET /api/result HTTP/1.1\r\n{host_line}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_a_rebound_name_gets_403_and_the_real_one_the_result():
    port = free_port()
    view = WebView(WebConfig(enabled=True, port=port), PipelineStats(), LiveState())
    try:
        assert raw_get(port, f"Host: 127.0.0.1:{port}\r\n").startswith(b"HTTP/1.1 200 ")
        assert raw_get(port, f"Host: localhost:{port}\r\n").startswith(b"HTTP/1.1 200 ")
        refused = raw_get(port, f"Host: evil.example:{port}\r\n")
        assert refused.startswith(b"HTTP/1.1 403 ") and b"its own address only" in refused
        assert raw_get(port, "").startswith(b"HTTP/1.1 403 ")  # no Host header at all
    finally:
        view.close()
