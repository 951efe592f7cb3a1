"""The connection to the broker (paho-mqtt 2.x): never blocks the caller, never claims a
refused link, and holds a bounded amount of what it could not send yet.

paho's own thread does the network I/O and the reconnects (with backoff, grown also for
connections dropped right after they were accepted: edge.sinks.mqtt.drops); a batch only
hands messages over, or keeps the newest few results while the broker is away. The
bound is ours, for every QoS: a message paho has not written (QoS 0) or not had
acknowledged (QoS 1/2) counts against buffer_messages, and more are dropped and counted.
paho's max_queued_messages is left unlimited on purpose: it bounds only QoS 1/2, and it
would refuse the on-connect messages (availability, discovery) whenever earlier QoS 1
messages still wait for their PUBACK, which cannot arrive while on_connect runs.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from edge.config.mqtt import MqttConfig
from edge.sinks.mqtt.batch import Batch, Message
from edge.sinks.mqtt.client import connect_properties, make_client
from edge.sinks.mqtt.const import OFFLINE
from edge.sinks.mqtt.drops import DropWatch
from edge.sinks.mqtt.linklog import LinkLog

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 2.0  # each of the two waits in close(): the offline message, the disconnect


class MqttLink:
    """One client and its link state, shared by three threads under one lock of its own.

    paho's callbacks take that lock, so it is never held while calling into paho (which
    takes its own mutex, held around those callbacks): what is composed under the lock
    (`with link.batch() as out:`) is published after it is released, in order, by
    whichever thread finds the outbox free.
    """

    def __init__(
        self,
        cfg: MqttConfig,
        password: str | None,
        client_id: str,
        will_topic: str,
        on_online: Callable[[Batch], None],
        on_message: Callable[[Any, Any, Any], None],
    ) -> None:
        self.cfg = cfg
        self._lock = threading.Lock()
        self.connected = False
        self.dropped = 0  # messages lost: broker away longer than the backlog, or too slow
        self.published = 0
        self._on_online = on_online  # composes the on-connect set into a Batch, under the lock
        self._backlog: deque[tuple[str, str | bytes]] = deque(maxlen=cfg.buffer_messages)
        self._unsent: deque[tuple[Any, int]] = deque()  # (MQTTMessageInfo, qos) not yet sent
        self._outbox: deque[Message] = deque()  # admitted, not yet handed to paho
        self._publishing = False  # a thread is handing the outbox to paho
        self._subscriptions: list[tuple[str, int]] = []
        self._stalled = False  # the surplus warning was given on this connection
        self._drops = DropWatch(cfg.reconnect_max_s)
        self._closing = False
        self._link_down = threading.Event()  # no connection: set until a CONNACK accepts us
        self._link_down.set()
        self._mqtt, client = make_client(cfg, password, client_id)
        self.said = LinkLog(cfg, self._mqtt.MQTT_LOG_ERR)
        client.will_set(will_topic, OFFLINE, qos=1, retain=True)
        # an exception in one of our callbacks would end paho's network thread for good,
        # and MQTT with it, silently: paho reports it through on_log instead, and goes on
        client.suppress_exceptions = True
        client.on_log = self.said.paho_said
        client.reconnect_delay_set(1, cfg.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = on_message
        client.on_oversize = self.said.oversize
        self.client = client

    def start(self) -> None:
        self.client.connect_async(
            self.cfg.host,
            self.cfg.port,
            keepalive=self.cfg.keepalive_s,
            properties=connect_properties(self.cfg),
        )
        self.client.loop_start()

    def subscribe_on_connect(self, topic: str, qos: int) -> None:
        self._subscriptions.append((topic, qos))

    @contextlib.contextmanager
    def batch(self) -> Iterator[Batch]:
        """`with link.batch() as out:` compose messages (and the caller's own state that
        goes with them) under the lock; they go to paho after it, outside the lock."""
        out = Batch(self)
        with self._lock:
            yield out
            self._admit(out.messages)
        self._publish_outbox()

    def keep_for_later(self, topic: str, payload: str | bytes, keep: bool) -> None:
        """Under the lock, while the broker is away: a result waits, the rest is skipped."""
        if keep:
            if len(self._backlog) == self._backlog.maxlen:
                self.dropped += 1
            self._backlog.append((topic, payload))

    def _admit(self, messages: list[Message]) -> None:
        """Under the lock: into the outbox, within buffer_messages for bounded ones."""
        while self._unsent and self._settled(self._unsent[0][0]):
            self._unsent.popleft()
        waiting = len(self._unsent) + sum(m.bounded for m in self._outbox)
        for message in messages:
            if self._too_big(message):
                continue
            if message.bounded and waiting >= self.cfg.buffer_messages:
                self.dropped += 1
                if not self._stalled:  # said once per connection: the count is in the stats
                    self._stalled = True
                    log.warning(
                        "MQTT: the broker takes messages more slowly than they come (%d "
                        "unsent); the surplus is dropped and counted (mqtt_dropped in …/stats)",
                        waiting,
                    )
                continue
            self._outbox.append(message)
            waiting += message.bounded

    def _settled(self, info: Any) -> bool:
        """Under the lock: a handed-over message is no longer waiting: sent, or lost with its
        connection (paho then raises from is_published; the loss is counted)."""
        try:
            return bool(info.is_published())
        except (RuntimeError, ValueError):
            self.dropped += 1
            return True

    def _too_big(self, message: Message) -> bool:
        """Under the lock: over the packet size the broker announced; said once, counted."""
        problem = self._drops.too_big(message.topic, message.payload)
        if problem is None:
            return False
        self.dropped += 1
        if problem:
            log.error("MQTT: not sent: %s", problem)
        return True

    def steady(self) -> None:
        """From the caller's thread: once a connection holds after quick drops, reconnects
        start from the shortest delay again."""
        with self._lock:
            settled = self.connected and self._drops.steady()
        if settled:
            self.client.reconnect_delay_set(1, self.cfg.reconnect_max_s)
            log.info("MQTT: the connection to %s:%d holds again", self.cfg.host, self.cfg.port)

    def _publish_outbox(self) -> None:
        """Hand the outbox to paho, outside the lock; one thread at a time, in order."""
        with self._lock:
            if self._publishing:
                return  # the thread that is publishing takes these too
            self._publishing = True
        try:
            while True:
                with self._lock:
                    if not self._outbox:
                        return
                    message = self._outbox.popleft()
                info = self.client.publish(
                    message.topic, message.payload, qos=message.qos, retain=message.retain
                )
                if not message.bounded:  # the on-connect set: sent again on every connect
                    continue
                with self._lock:
                    if info.rc != self._mqtt.MQTT_ERR_SUCCESS:
                        self.dropped += 1
                    else:
                        self.published += 1
                        self._unsent.append((info, message.qos))
        finally:
            with self._lock:
                self._publishing = False

    # -- caller's thread -----------------------------------------------------------------
    def close(self, availability_topic: str) -> None:
        """Say offline (retained), then disconnect; each wait bounded by CLOSE_TIMEOUT_S."""
        with self._lock:
            connected = self.connected
            self._closing = True
        if connected:
            info = self.client.publish(availability_topic, OFFLINE, qos=1, retain=True)
            # if the connection goes while we wait, the last will says offline anyway
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(CLOSE_TIMEOUT_S)
        self.client.disconnect()
        if not self._link_down.wait(CLOSE_TIMEOUT_S):
            # the broker stopped reading, so the DISCONNECT cannot go out, and paho's
            # thread would wait for it forever: end the connection under it
            sock = self.client.socket()
            if isinstance(sock, socket.socket):  # TLS sockets too
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self.client.loop_stop()
        with self._lock:  # what was still waiting for a broker is lost now: count it
            self.dropped += len(self._backlog) + len(self._outbox)
            self._backlog.clear()
            self._outbox.clear()

    # -- paho's network thread -----------------------------------------------------------
    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        cfg = self.cfg
        if reason.is_failure:
            with self._lock:
                self.connected = False
            self.said.refused(reason)
            return
        self._link_down.clear()
        limit = getattr(properties, "MaximumPacketSize", None)  # MQTT 5 only
        with self.batch() as out:  # published in this order once the lock is released
            self._drops.connected(int(limit) if limit else None)
            self.connected = True
            # paho drops unsent QoS 0 packets on reconnect and sends QoS 1/2 ones again
            self._unsent = deque(item for item in self._unsent if item[1] > 0)
            self._stalled = False
            self._on_online(out)
            while self._backlog:
                topic, payload = self._backlog.popleft()
                out.send(topic, payload, cfg.qos)
        for topic, qos in self._subscriptions:
            client.subscribe(topic, qos=qos)
        self.said.connected()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._link_down.set()
        cfg = self.cfg
        with self._lock:
            was_connected, self.connected = self.connected, False
            delay_s = self._drops.dropped() if was_connected else None
        if self._closing:
            return
        if delay_s is not None:
            client.reconnect_delay_set(delay_s, cfg.reconnect_max_s)  # as for a refusal
        if delay_s is not None and self._drops.explained():
            self.said.dropping(self._drops.cause())
        elif was_connected:
            self.said.lost(reason)
        else:
            self.said.closed_early()

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self.said.unreachable()
