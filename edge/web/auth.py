"""The web token: its comparison, and a record of wrong ones for the log.

Someone guessing the token sends hundreds of wrong ones a second; each is refused (401),
and together they make one INFO line per `every_s` at most: how many, over how long, and
from which addresses. The token, right or wrong, is never part of it.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import Counter

log = logging.getLogger(__name__)

MAX_ADDRESSES = 64  # addresses counted one by one; any more are counted together
SHOWN_ADDRESSES = 3  # the busiest, named in the log line


def is_token(given: bytes, token: str) -> bool:
    """Whether `given` is the token, in time that does not depend on where they differ."""
    return hmac.compare_digest(given, token.encode())


class WrongTokens:
    """Requests refused for a wrong token, counted between one log line and the next."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self._lock = threading.Lock()
        self._by_address: Counter[str] = Counter()
        self._others = 0  # from addresses past MAX_ADDRESSES
        self._since: float | None = None  # when the first one since the last line came

    def add(self, address: str) -> None:
        with self._lock:
            if self._since is None:
                self._since = time.monotonic()
            if address in self._by_address or len(self._by_address) < MAX_ADDRESSES:
                self._by_address[address] += 1
            else:
                self._others += 1

    def flush(self, force: bool = False) -> None:
        """Log what was counted once `every_s` has passed since the first (or now, if
        `force`), and start counting afresh."""
        with self._lock:
            since = self._since
            if since is None or (not force and time.monotonic() - since < self.every_s):
                return
            by_address, others = self._by_address, self._others
            self._by_address, self._others, self._since = Counter(), 0, None
        total = sum(by_address.values()) + others
        busiest = by_address.most_common(SHOWN_ADDRESSES)
        shown = ", ".join(f"{address} ({n})" for address, n in busiest)
        rest = len(by_address) - len(busiest)
        more = f" and {rest}{'+' if others else ''} more addresses" if rest else ""
        log.info(
            "refused %d request%s with a wrong web.token in %.0f s, from %s%s",
            total,
            "" if total == 1 else "s",
            time.monotonic() - since,
            shown,
            more,
        )
