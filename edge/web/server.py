"""The web view's HTTP server layer: limits and defences against broken or hostile clients.

A request line and its headers must arrive within `ServerLimits.read_timeout_s`; a client
that stops reading is dropped after `send_timeout_s`; at most `max_connections` are open at
once (streams included), and any more are answered 503 and closed without a thread; a wrong
or missing token is refused as soon as the line carrying it arrives; a client-side error is
one DEBUG line, never a traceback; wrong tokens are counted into one INFO line a minute at
most (edge/web/auth.py); and the token never reaches the log.
"""

from __future__ import annotations

import errno
import io
import ipaddress
import logging
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from edge.web.auth import WrongTokens

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerLimits:
    """What keeps broken or hostile clients from tying the web view up."""

    read_timeout_s: float = 5.0  # for a whole request line and headers (or a keep-alive pause)
    send_timeout_s: float = 10.0  # for one write: a client that stops reading is dropped
    max_connections: int = 32  # open at once, streams included; more are answered 503
    accept_backoff_s: float = 0.2  # pause after accept() fails for want of file descriptors
    wrong_token_log_s: float = 60.0  # at most one INFO line this often about wrong tokens


# accept() failures that last while the listening socket stays readable: retrying at once
# would spin a CPU, so the server pauses and leaves the connection waiting in the backlog.
_ACCEPT_STARVED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_BUSY_BODY = b"too many connections, try again later\n"
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    + f"Content-Length: {len(_BUSY_BODY)}\r\n".encode()
    + b"Retry-After: 5\r\nConnection: close\r\n\r\n"
    + _BUSY_BODY
)
_QUERY_VALUE = re.compile(r"([?&;][^=&;\s'\"]*=)[^&;\s'\"]*")
_WARN_EVERY_S = 60.0
# What a client sends reaches the log only with control characters escaped (no forged lines).
CONTROL_CHARS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


def redact(text: str, token: str | None) -> str:
    """`text` with every query value, and the token wherever else it appears, as ***."""
    text = _QUERY_VALUE.sub(r"\1***", text)
    if token:
        for form in {token, quote(token, safe="")}:
            text = text.replace(form, "***")
    return text


def is_loopback(host: str) -> bool:
    """True if `host` is reachable only from this machine."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


HOST_REFUSED = (
    b"this view answers to its own address only (an IP address, localhost, or this "
    b"machine's name): a page that reaches it under another name is not let in\n"
)


def this_machines_names(bound_host: str) -> frozenset[str]:
    """The names a browser may use for this view: a page that reaches it under another
    name got there by DNS rebinding (evil.example resolved to our address)."""
    names = {"localhost"}
    if not is_loopback(bound_host):  # reachable from the network: by this machine's name too
        hostname = socket.gethostname().lower()
        names |= {hostname, f"{hostname}.local", bound_host.lower()}
    return frozenset(names)


def host_allowed(header: str | None, names: frozenset[str], loopback_only: bool) -> bool:
    """Whether a request's Host header names this view: an IP literal (a loopback one when
    the view listens on loopback only), or one of `names`; any port."""
    if not header:
        return False
    host = header.strip().lower()
    if host.startswith("["):  # [::1]:8080
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    host = host.rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host in names
    return address.is_loopback or not loopback_only


def _address_family(host: str) -> socket.AddressFamily:
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return socket.AF_INET  # bind() then says what is wrong with the name
    return found[0][0] if found else socket.AF_INET


def describe_error(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class LimitedServer(ThreadingHTTPServer):
    """A thread per connection, at most `limits.max_connections` of them; quiet about clients."""

    daemon_threads = True
    request_queue_size = 64  # a burst of viewers waits in the kernel, not refused

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        limits: ServerLimits,
        token: str | None,
    ) -> None:
        self.address_family = _address_family(address[0])
        self.limits = limits
        self.token = token
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._open = 0
        self._warned_at: dict[str, float] = {}
        self.wrong_tokens = WrongTokens(limits.wrong_token_log_s)
        super().__init__(address, handler)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return self._open

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in _ACCEPT_STARVED:
                self._warn_now_and_then(
                    "accept",
                    "cannot accept connections (%s); raise the open-file limit "
                    "(LimitNOFILE=) if this lasts",
                    exc.strerror,
                )
                self.stopping.wait(self.limits.accept_backoff_s)
            raise  # serve_forever drops it and tries again

    def service_actions(self) -> None:  # serve_forever's loop, every poll_interval
        self.wrong_tokens.flush()

    def server_close(self) -> None:
        super().server_close()
        self.wrong_tokens.flush(force=True)  # what was counted since the last line

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            admitted = self._open < self.limits.max_connections
            if admitted:
                self._open += 1
        if not admitted:
            self._turn_away(request)
            return
        try:
            super().process_request(request, client_address)  # starts its thread
        except BaseException:
            self._release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        host = client_address[0] if isinstance(client_address, tuple) else client_address
        what = redact(describe_error(exc), self.token) if exc is not None else "unknown error"
        if isinstance(exc, OSError):  # reset, broken pipe, timed out: the client's doing
            log.debug("%s connection dropped (%s)", host, what)
        else:  # a bug here; its traceback only when asked for, so clients cannot flood the log
            log.error(
                "%s request failed (%s)",
                host,
                what,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )

    def _release(self) -> None:
        with self._lock:
            self._open -= 1

    def _turn_away(self, request: socket.socket) -> None:
        self._warn_now_and_then(
            "busy",
            "%d connections open (the limit); answering new ones 503",
            self.limits.max_connections,
        )
        try:
            request.setblocking(False)
            request.send(_BUSY)
        except OSError:
            pass  # its buffer is full, or it is gone: closing says enough
        self.shutdown_request(request)

    def _warn_now_and_then(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._warned_at.get(key)
            if last is not None and now - last < _WARN_EVERY_S:
                return
            self._warned_at[key] = now
        log.warning(message, *args)


class DeadlineReader(io.RawIOBase):
    """A socket's bytes; each read waits at most until `deadline` (time.monotonic seconds)."""

    def __init__(self, sock: socket.socket, send_timeout_s: float) -> None:
        super().__init__()
        self._sock = sock
        self._send_timeout_s = send_timeout_s
        self.deadline = time.monotonic()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request did not arrive in time")
        self._sock.settimeout(left)
        try:
            return self._sock.recv_into(buffer)
        finally:
            self._sock.settimeout(self._send_timeout_s)  # what writes wait for


class Refused(Exception):
    """The request carries a wrong token, or none: answer 401 and read no further."""


class HeaderGate(io.BufferedIOBase):
    """Hands header lines to the HTTP parser, letting `check` see each one first."""

    def __init__(
        self,
        source: io.BufferedIOBase,
        before_first: Callable[[], None],
        check: Callable[[bytes], None],
    ) -> None:
        super().__init__()
        self._source = source
        self._before_first: Callable[[], None] | None = before_first
        self._check = check

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> bytes:
        if self._before_first is not None:
            first, self._before_first = self._before_first, None
            first()
        line = self._source.readline(size)
        self._check(line)
        return line
