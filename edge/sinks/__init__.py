"""Where results go. Every sink has the same two methods; the pipeline calls them."""

from __future__ import annotations

from typing import Protocol

from edge.types import Result


class Sink(Protocol):
    description: str  # for the log: where the results go
    # results this sink was meant to keep and could not (a full disk), for the summary and
    # the exit code; a sink that by design keeps only the newest value counts none
    not_written: int

    def emit(self, result: Result) -> None:
        """Take one result; must not block the pipeline for long."""

    def reopen(self) -> None:
        """Open its file again by name (after logrotate moved it); called from another
        thread than emit, so it may only ask: the next emit does it."""

    def close(self) -> None:
        """Flush and release; called once, after the last emit."""
