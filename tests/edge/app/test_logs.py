"""Logging set-up (edge.app.logs): journal priorities, the journal detected, native noise hidden."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from edge.app.logs import JournalFormatter, quiet_native_stderr, setup_logging, stderr_is_journal


def record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("edge.test", level, __file__, 1, message, None, None)


@pytest.mark.parametrize(
    ("level", "prefix"),
    [
        (logging.CRITICAL, "<2>"),
        (logging.ERROR, "<3>"),
        (logging.WARNING, "<4>"),
        (logging.INFO, "<6>"),
        (logging.DEBUG, "<7>"),
        (25, "<6>"),  # a level of its own: read as info
    ],
)
def test_journal_priority_prefix(level, prefix):
    text = JournalFormatter("%(name)s: %(message)s").format(record(level, "camera lost"))
    assert text == f"{prefix}edge.test: camera lost"


def test_every_line_of_a_message_carries_the_priority():
    text = JournalFormatter("%(message)s").format(record(logging.ERROR, "first\nsecond"))
    assert text.splitlines() == ["<3>first", "<3>second"]


@pytest.fixture()
def redirect_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Makes sys.stderr a real file, as the journal's stream is a real socket.

    Called in the test itself: pytest sets its own sys.stderr after the fixtures ran.
    """
    with (tmp_path / "stderr.log").open("w") as stream:

        def redirect():
            monkeypatch.setattr(sys, "stderr", stream)
            return stream

        yield redirect


def journal_stream_of(stream) -> str:
    info = os.fstat(stream.fileno())
    return f"{info.st_dev}:{info.st_ino}"


def test_the_journal_is_recognised_by_its_device_and_inode(redirect_stderr, tmp_path, monkeypatch):
    stderr_file = redirect_stderr()
    monkeypatch.setenv("JOURNAL_STREAM", journal_stream_of(stderr_file))
    assert stderr_is_journal()
    with (tmp_path / "other").open("w") as other:  # systemd's stream, but stderr was redirected
        monkeypatch.setenv("JOURNAL_STREAM", journal_stream_of(other))
        assert not stderr_is_journal()
    for value in ("", "garbage", "1:2:3"):
        monkeypatch.setenv("JOURNAL_STREAM", value)
        assert not stderr_is_journal()


@pytest.mark.usefixtures("root_logging_restored")
@pytest.mark.parametrize("under_journal", [True, False])
def test_setup_logging_formats_for_where_stderr_goes(redirect_stderr, monkeypatch, under_journal):
    stderr_file = redirect_stderr()
    if under_journal:
        monkeypatch.setenv("JOURNAL_STREAM", journal_stream_of(stderr_file))
    else:
        monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    setup_logging("WARNING")
    logging.getLogger("edge.test").info("not shown")
    logging.getLogger("edge.test").warning("shown")
    stderr_file.flush()
    (line,) = Path(stderr_file.name).read_text().splitlines()
    if under_journal:
        assert line == "<4>edge.test: shown"
    else:
        assert line.endswith(" WARNING edge.test: shown") and not line.startswith("<")


@pytest.mark.usefixtures("root_logging_restored")
@pytest.mark.parametrize(("level", "shown"), [(logging.INFO, False), (logging.DEBUG, True)])
def test_native_output_on_fd_2_is_hidden_unless_debugging(capfd, level, shown):
    logging.getLogger().setLevel(level)
    with quiet_native_stderr():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    os.write(2, b"after\n")  # fd 2 is back
    err = capfd.readouterr().err
    assert ("XNNPACK" in err) is shown
    assert "after" in err
