"""Messages composed under the link's lock (`with link.batch() as out:`), sent after it.

paho's callbacks take the link's lock while paho holds its own mutex, so the lock is never
held while calling into paho: a batch only collects what to send, or keeps a result for
later while the broker is away, and the link hands it over once the lock is released.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class LinkState(Protocol):
    """What a batch asks of the link it belongs to, under the link's lock."""

    connected: bool

    def keep_for_later(self, topic: str, payload: str | bytes, keep: bool) -> None: ...


@dataclass(frozen=True)
class Message:
    topic: str
    payload: str | bytes  # bytes: a picture (…/snapshot)
    qos: int
    retain: bool
    bounded: bool  # counts against buffer_messages (results, stats); False: on-connect set


class Batch:
    """Messages composed under the link's lock, handed to paho once it is released."""

    def __init__(self, link: LinkState) -> None:
        self._link = link
        self.messages: list[Message] = []

    def send(
        self,
        topic: str,
        payload: str | bytes,
        qos: int,
        retain: bool = False,
        keep: bool = False,
    ) -> None:
        """Within the bound. While the broker is away a `keep` message (a result) waits in
        the backlog; any other is skipped: a newer one follows, and the retained ones are
        all sent again on connect."""
        if self._link.connected:
            self.messages.append(Message(topic, payload, qos, retain, bounded=True))
        else:
            self._link.keep_for_later(topic, payload, keep)

    def send_now(self, topic: str, payload: str, qos: int = 1, retain: bool = True) -> None:
        """Outside the bound: for the few messages sent on each connect (and the
        rate-limited re-announcement), which must never be refused."""
        self.messages.append(Message(topic, payload, qos, retain, bounded=False))
