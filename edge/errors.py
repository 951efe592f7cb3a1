"""Errors a user can act on.

Each carries one line that names the thing that failed and the fix; the CLI
prints that line and exits non-zero instead of showing a traceback.
"""


class EdgeError(Exception):
    """Base for every error the CLI reports as a single line."""


class ConfigError(EdgeError):
    """A config file or command-line value is wrong."""


class ModelError(EdgeError):
    """A model or its sidecar is missing, corrupt or inconsistent."""


class SourceError(EdgeError):
    """A capture source cannot be opened and retrying will not help."""


class DependencyError(EdgeError):
    """An optional library is missing; the message names the install step."""


def printable(text: str) -> str:
    """`text` with control characters escaped, so a file name cannot forge a log line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
