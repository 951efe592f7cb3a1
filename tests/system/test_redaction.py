"""A camera's credentials never reach what the program writes (issue 25, case 2): log lines,
the summary and --summary-json name the source without its password or token."""

from __future__ import annotations

import json
import logging
import signal
import threading

import pytest

from edge.app.logs import RedactingFormatter
from edge.config import SourceConfig
from edge.config.source import resolve_source
from edge.errors import redact_credentials
from edge.sources.opencv import OpenCVSource
from tests.conftest import start_program, wait_until
from tests.mqtt_broker import free_port


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rtsp://admin:SECRET@10.0.0.5/live", "rtsp://admin:***@10.0.0.5/live"),
        ("rtsp://admin:p@ss@10.0.0.5:554/live", "rtsp://admin:***@10.0.0.5:554/live"),
        ("http://TOKEN@cam.local/mjpg", "http://***@cam.local/mjpg"),
        (
            "http://cam/x.cgi?user=me&password=SECRET&fps=5",
            "http://cam/x.cgi?user=me&password=***&fps=5",
        ),
        ("https://cam/x?token=SECRET", "https://cam/x?token=***"),
        (
            "rtspsrc location=rtsp://u:SECRET@cam/1 ! decodebin ! appsink",
            "rtspsrc location=rtsp://u:***@cam/1 ! decodebin ! appsink",
        ),
        ("rtsp://cam:554/live", "rtsp://cam:554/live"),  # nothing secret: unchanged
        ("/home/me/clips/me@home.mp4", "/home/me/clips/me@home.mp4"),
    ],
)
def test_redaction_rule(text, expected):
    assert redact_credentials(text) == expected


def test_a_stream_is_described_without_its_password():
    spec = resolve_source(SourceConfig(uri="rtsp://admin:SECRET@127.0.0.1:9/live"))
    source = OpenCVSource(spec, SourceConfig(uri="rtsp://admin:SECRET@127.0.0.1:9/live"))
    assert "SECRET" not in source.description and "admin:***@" in source.description


def test_every_log_line_is_redacted_whoever_logs_it():
    record = logging.LogRecord(
        "paho", logging.WARNING, __file__, 1, "cannot open %s", ("rtsp://a:SECRET@h/x",), None
    )
    assert RedactingFormatter("%(message)s").format(record) == "cannot open rtsp://a:***@h/x"


def test_a_run_on_a_stream_with_a_password_never_writes_it(tmp_path):
    port = free_port()  # nothing listens: the run reopens the stream until it is stopped
    summary = tmp_path / "summary.json"
    uri = f"rtsp://admin:SECRET@127.0.0.1:{port}/live?token=SECRET2"
    proc = start_program(
        "run",
        "--source",
        uri,
        "--display",
        "none",
        "--summary-json",
        str(summary),
        "--log-level",
        "DEBUG",
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:  # the first failed open and a retry have been logged
        assert wait_until(lambda: any("still unavailable" in line for line in lines), 30), lines
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        reader.join(5)
    stdout = proc.stdout.read() if proc.stdout else ""
    written = "".join(lines) + stdout + summary.read_text()
    assert "SECRET" not in written, written
    assert json.loads(summary.read_text())["source"].startswith("stream rtsp://admin:***@127.0.0.1")
