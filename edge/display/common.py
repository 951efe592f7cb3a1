"""What every display backend shares."""

from __future__ import annotations

from edge.errors import EdgeError


class DisplayUnavailable(EdgeError):
    """This backend cannot show anything here; the message says why and what to do."""
