"""Connections the broker accepts and then drops at once, told apart from a lost broker.

A broker that refuses a packet (mosquitto's max_packet_size, a message our discovery makes
too big) closes the connection right after its CONNACK; paho then reconnects after its
shortest delay every time, because each CONNACK resets its backoff. Counted here, such
drops make the delay grow as refused connections do, and the first one is explained.
Plain and synchronous: the link calls it from paho's thread, under its own lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

QUICK_DROP_S = 5.0  # a connection dropped sooner than this after its CONNACK was not usable
LARGE_MESSAGE_BYTES = 1024  # over this, the largest message is named as the likely cause
PACKET_OVERHEAD = 16  # a PUBLISH packet's header and lengths, at most, beside topic and payload


class DropWatch:
    def __init__(self, max_delay_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_delay_s = max_delay_s
        self.quick_drops = 0  # in a row; back to 0 once a connection holds
        self._clock = clock
        self._connected_at_s: float | None = None
        self._largest: tuple[int, str] = (0, "")  # bytes and topic, on this connection
        self._max_packet_bytes: int | None = None  # what an MQTT 5 broker said it takes
        self._oversized: set[str] = set()  # topics refused for that size, said once

    def connected(self, max_packet_bytes: int | None = None) -> None:
        self._connected_at_s = self._clock()
        self._largest = (0, "")
        self._max_packet_bytes = max_packet_bytes

    def too_big(self, topic: str, payload: str | bytes) -> str | None:
        """None if the message may go; else why not, the first time for its topic ("" after).

        Its size is noted either way: the largest sent is the likely cause of a drop."""
        body = payload.encode() if isinstance(payload, str) else payload
        size = len(topic.encode()) + len(body) + PACKET_OVERHEAD
        if size > self._largest[0]:
            self._largest = (size, topic)
        limit = self._max_packet_bytes
        if limit is None or size <= limit:
            return None
        if topic in self._oversized:
            return ""
        self._oversized.add(topic)
        fix = "set mqtt.discovery: false" if topic.endswith("/config") else "send less"
        return (
            f"{topic} would be {size} bytes, and the broker takes at most {limit} (raise its "
            f"max_packet_size, or {fix})"
        )

    def dropped(self) -> float | None:
        """The shortest reconnect delay to use now when this drop came soon after connecting
        (it doubles with each such drop, up to the maximum), else None."""
        since, self._connected_at_s = self._connected_at_s, None
        if since is None or self._clock() - since >= QUICK_DROP_S:
            return None
        self.quick_drops += 1
        return float(min(2**self.quick_drops, self.max_delay_s))

    def steady(self) -> bool:
        """True once, when a connection has held after quick drops: the backoff may reset."""
        since = self._connected_at_s
        if self.quick_drops and since is not None and self._clock() - since >= QUICK_DROP_S:
            self.quick_drops = 0
            return True
        return False

    def explained(self) -> bool:
        """Whether the drops are the broker refusing us rather than a broker that went away
        (whose next connection fails): a second one in a row."""
        return self.quick_drops >= 2

    def cause(self) -> str:
        """What most likely made the broker drop us, in words with the fix."""
        size, topic = self._largest
        if size > LARGE_MESSAGE_BYTES:
            fix = "or set mqtt.discovery: false" if "/config" in topic else "or send less"
            return (
                f"right after our message of {size} bytes on {topic}: the broker's packet "
                f"size limit is smaller (mosquitto: raise max_packet_size, {fix})"
            )
        return "right after accepting it: the broker's log says why"
