"""Errors a user can act on.

Each carries one line that names the thing that failed and the fix; the CLI
prints that line and exits non-zero instead of showing a traceback.
"""

from __future__ import annotations

import re


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


# user info in a URL (rtsp://admin:SECRET@camera/...): the password, or a lone user part,
# which cameras also use for tokens; the password may itself hold '@'
_URL_USERINFO = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)([^/@\s:]*)(?::([^/\s]*))?@")
_SECRET_QUERY = re.compile(
    r"(?i)([?&;](?:password|passwd|pass|pwd|token|access_token|key|secret|auth|sig)=)[^&#\s]*"
)


def redact_credentials(text: str) -> str:
    """`text` with the credentials of any URL in it replaced by ***: the password of its
    user info (or a user part without one) and password/token-like query values."""

    def userinfo(match: re.Match[str]) -> str:
        scheme, user, password = match.groups()
        return f"{scheme}{user}:***@" if password is not None else f"{scheme}***@"

    return _SECRET_QUERY.sub(r"\1***", _URL_USERINFO.sub(userinfo, text))


def valid_unicode(text: str) -> str:
    """`text` with the bytes of a non-UTF-8 file name (lone surrogates in Python) as \\xNN,
    as `ls -b` shows them: JSON readers and MQTT clients refuse lone surrogates."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that came from elsewhere than a file name
        raw = text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


def printable(text: str) -> str:
    """`text` with control characters escaped, so a file name cannot forge a log line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in valid_unicode(text))


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
