"""Logging set-up: stderr for people, journal priorities when systemd runs us."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from edge.errors import redact_credentials

# sd-daemon(3) priority prefixes: the journal reads "<3>" as err, "<4>" warning, ...
_JOURNAL_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class RedactingFormatter(logging.Formatter):
    """Every line without the credentials of a URL in it (a camera's rtsp://user:pass@),
    whichever module or library logged it."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_credentials(super().format(record))


class JournalFormatter(RedactingFormatter):
    """No timestamp (the journal adds one); the level becomes a priority prefix."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _JOURNAL_PRIORITY.get(record.levelno, 6)
        text = super().format(record)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


def stderr_is_journal() -> bool:
    """True when stderr is the journal's stream (systemd sets JOURNAL_STREAM=dev:inode)."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in stream.split(":"))
        info = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (info.st_dev, info.st_ino) == (device, inode)


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if stderr_is_journal():
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(
            RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hide what LiteRT's C++ code prints on fd 2 while models load.

    Those INFO lines have no level switch, and a service's journal should show our lines
    only. Used only while no other thread logs (start-up, shut-down); DEBUG logging shows
    everything.
    """
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
