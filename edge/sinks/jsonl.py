"""Results as JSON Lines, to stdout or a file: one object per processed frame.

Lines go straight to the file descriptor, whole, so a failed write never leaves half a
line in a buffer to be retried. A full disk or an I/O error costs the lines it refuses:
they are counted, one warning says so and one line says when writing works again; the
pipeline and the other outputs go on. A reader of stdout that goes away (`| head -5`)
ends the run, as it does for any command-line tool.
"""

from __future__ import annotations

import errno
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from edge.app.outfile import require_writable
from edge.errors import ConfigError
from edge.sinks.payload import result_to_dict
from edge.types import Result

log = logging.getLogger(__name__)

STDOUT_FD = 1


def _open_for_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)


class JsonLinesSink:
    def __init__(self, target: str, on_reader_gone: Callable[[], None] | None = None) -> None:
        self.on_reader_gone = on_reader_gone
        self.not_written = 0  # lines refused by the file system (full disk, I/O error)
        self._reader_gone = False
        self._failing_since: int | None = None  # not_written when the current failure began
        self._cut_line = False  # a line was written in part: start the next on a new line
        self._reopen_wanted = False  # set by reopen() (SIGHUP), done by the next emit
        self._path: Path | None = None
        if target == "-":
            try:
                os.fstat(STDOUT_FD)
            except OSError:
                raise ConfigError(
                    "stdout is closed, so results have nowhere to go: run with stdout open, "
                    "or set output.jsonl to a file"
                ) from None
            self._fd, self._owned, self.description = STDOUT_FD, False, "stdout"
            return
        path = require_writable(Path(target).expanduser(), "output.jsonl", "a writable file or '-'")
        try:
            self._fd = _open_for_append(path)
        except OSError as exc:
            raise ConfigError(
                f"{path}: cannot open for writing ({exc.strerror}); "
                "set output.jsonl to a writable file or '-'"
            ) from None
        self._owned, self.description, self._path = True, str(path), path

    def reopen(self) -> None:
        self._reopen_wanted = self._owned

    def _reopen_now(self) -> None:
        self._reopen_wanted = False
        if self._path is None:  # stdout: nothing to reopen
            return
        try:
            fd = _open_for_append(self._path)
        except OSError as exc:  # the old file stays in use: nothing is lost
            log.warning("%s: cannot reopen (%s); writing on to the old file", self._path, exc)
            return
        os.close(self._fd)
        self._fd, self._cut_line = fd, False
        log.info("%s: reopened", self.description)

    def emit(self, result: Result) -> None:
        if self._reader_gone:
            return
        if self._reopen_wanted:
            self._reopen_now()
        line = json.dumps(result_to_dict(result), separators=(",", ":")) + "\n"
        data = ("\n" + line if self._cut_line else line).encode()
        written = 0
        try:
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except BrokenPipeError:
            self._reader_gone = True
            log.info("the reader of %s went away; stopping", self.description)
            if self.on_reader_gone is not None:
                self.on_reader_gone()
            return
        except OSError as exc:
            self._cut_line = written > 0
            self.not_written += 1
            if self._failing_since is None:
                self._failing_since = self.not_written - 1
                fix = "free some space" if exc.errno == errno.ENOSPC else "check the device"
                log.warning(
                    "%s: cannot write results (%s); %s: the run goes on and counts what is lost",
                    self.description,
                    exc.strerror,
                    fix,
                )
            return
        self._cut_line = False
        if self._failing_since is not None:
            log.warning(
                "%s: writing again; %d results were not written",
                self.description,
                self.not_written - self._failing_since,
            )
            self._failing_since = None

    def close(self) -> None:
        if self._owned:
            os.close(self._fd)
