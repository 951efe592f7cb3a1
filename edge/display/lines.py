"""Short text lines over a pipe, read without ever waiting longer than asked.

The window's two processes talk with one short line per message (edge/display/window.py
and edge/display/tkwindow.py); neither side may block on the other, since either may hang
or die (the X server gone takes the window's process with it).
"""

from __future__ import annotations

import os
import select

MAX_PARTIAL_BYTES = 65536  # a "line" longer than this is not one of ours: dropped
READ_BYTES = 65536


class LineReader:
    """Whole lines from a file descriptor; `ended` once the writer has closed its end."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.ended = False
        self._partial = b""

    def read(self, timeout_s: float) -> list[str]:
        """The lines that arrived, waiting at most `timeout_s` for some; [] when none did.

        Raises OSError only for a descriptor that is no longer valid.
        """
        if self.ended:
            return []
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout_s))
        if not ready:
            return []
        chunk = os.read(self.fd, READ_BYTES)  # readable: returns what is there, at once
        if not chunk:
            self.ended = True
            return []
        *lines, partial = (self._partial + chunk).split(b"\n")
        self._partial = partial if len(partial) <= MAX_PARTIAL_BYTES else b""
        return [line.decode(errors="replace").rstrip("\r") for line in lines]

    def drain(self, limit: int = 64) -> list[str]:
        """Everything already there (at most `limit` reads): for a writer that has exited."""
        lines: list[str] = []
        for _ in range(limit):
            more = self.read(0.0)
            if not more and (self.ended or not self._readable()):
                break
            lines.extend(more)
        if self.ended and self._partial:  # a last line without its newline
            lines.append(self._partial.decode(errors="replace"))
            self._partial = b""
        return lines

    def _readable(self) -> bool:
        ready, _, _ = select.select([self.fd], [], [], 0.0)
        return bool(ready)
