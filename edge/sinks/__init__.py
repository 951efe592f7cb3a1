"""Where results go. Every sink has the same two methods; the pipeline calls them."""

from __future__ import annotations

from typing import Protocol

from edge.types import Result


class Sink(Protocol):
    def emit(self, result: Result) -> None:
        """Take one result; must not block the pipeline for long."""

    def close(self) -> None:
        """Flush and release; called once, after the last emit."""
