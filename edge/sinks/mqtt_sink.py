"""Results over MQTT (paho-mqtt 2.x): never blocks the pipeline, never claims a refused link.

Topics under the prefix: availability (online/offline, retained, last will),
emotion (result JSON, by the publish policy), state (smoothed emotion, retained),
stats (every stats_interval_s), plus Home Assistant discovery. paho's own thread
does the network I/O and the reconnects (with backoff); emit() only hands messages
over, or keeps the newest few in a bounded backlog while the broker is away.
paho's own outgoing queue is bounded too: max_queued_messages caps QoS 1/2, and
results paho has not written yet (QoS 0 included, which that cap does not cover)
are counted here, so a broker that accepts the connection but stops reading costs
at most buffer_messages messages of memory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import threading
import time
from collections import deque
from typing import Any

from edge.config_mqtt import MqttConfig
from edge.errors import DependencyError
from edge.payload import result_to_dict
from edge.sinks.homeassistant import NO_FACE_STATE, discovery_payload, discovery_topic
from edge.sinks.mqtt_policy import PublishPolicy, stats_payload
from edge.stats import PipelineStats
from edge.types import Result

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 2.0
REANNOUNCE_MIN_INTERVAL_S = 10.0


def diagnose_connect(cfg: MqttConfig, timeout_s: float = 5.0) -> str:
    """Why a TCP/TLS connection to the broker fails, in words (paho does not say)."""
    try:
        with socket.create_connection((cfg.host, cfg.port), timeout=timeout_s) as raw:
            if not cfg.tls.enabled:
                return "the connection closed before the broker answered"
            context = ssl.create_default_context(cafile=cfg.tls.ca_file)
            if cfg.tls.insecure:
                context.check_hostname = False
            with context.wrap_socket(raw, server_hostname=cfg.host):
                return "TLS handshake works; the broker closed the connection"
    except ssl.SSLCertVerificationError as exc:
        if "mismatch" in str(exc.verify_message):
            return (
                f"TLS certificate is not for {cfg.host} ({exc.verify_message}): connect by a "
                "name the certificate lists (mqtt.host), or mqtt.tls.insecure: true on a "
                "test broker"
            )
        return f"TLS certificate not trusted ({exc.verify_message}): check mqtt.tls.ca_file"
    except (ssl.SSLError, OSError) as exc:
        return str(exc) or type(exc).__name__


class MqttSink:
    def __init__(
        self,
        cfg: MqttConfig,
        labels: list[str],
        model_name: str,
        stats: PipelineStats,
        password: str | None,
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError as exc:
            raise DependencyError("paho-mqtt is not installed: run ./setup.sh") from exc
        self.cfg, self.stats, self.labels, self.model_name = cfg, stats, labels, model_name
        self.description = f"mqtt://{cfg.host}:{cfg.port}/{cfg.prefix}"
        self.topics = {
            name: f"{cfg.prefix}/{name}" for name in ("availability", "emotion", "state", "stats")
        }
        self.connected = False
        self.dropped = 0  # results lost because the broker was away longer than the backlog
        self.published = 0
        self._lock = threading.Lock()
        self._backlog: deque[tuple[str, str]] = deque(maxlen=cfg.buffer_messages)
        self._unsent: deque[Any] = deque()  # MQTTMessageInfo handed to paho, not yet sent
        self._stalled = False  # the surplus warning was given on this connection
        self._state = NO_FACE_STATE
        self._policy = PublishPolicy(cfg.publish, cfg.max_rate_hz)
        self._next_stats_s = time.monotonic() + cfg.stats_interval_s
        self._link = "starting"  # last reported link state: one log line per change
        self._closing = False
        self._reannounced_at_s = -REANNOUNCE_MIN_INTERVAL_S
        self.reannounce_skipped = 0  # "online" messages within the interval, not answered
        self._link_down = threading.Event()  # no connection: set until a CONNACK accepts us
        self._link_down.set()
        protocol = mqtt.MQTTv5 if cfg.protocol == "5" else mqtt.MQTTv311
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id or f"emotion-edge-{cfg.device_id}",
            protocol=protocol,
        )
        client.will_set(self.topics["availability"], "offline", qos=1, retain=True)
        if cfg.username:
            client.username_pw_set(cfg.username, password)
        if cfg.tls.enabled:
            client.tls_set(
                ca_certs=cfg.tls.ca_file, certfile=cfg.tls.cert_file, keyfile=cfg.tls.key_file
            )
            client.tls_insecure_set(cfg.tls.insecure)
        client.max_queued_messages_set(cfg.buffer_messages)  # paho's queue is bounded too
        # an exception in one of our callbacks would end paho's network thread for good,
        # and MQTT with it, silently: paho reports it through on_log instead, and goes on
        client.suppress_exceptions = True
        client.on_log = self._on_paho_log
        self.callback_errors = 0
        client.reconnect_delay_set(1, cfg.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        self._mqtt = mqtt
        self._client = client
        client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
        client.loop_start()
        log.info(
            "MQTT: connecting to %s:%d as %s, topics under %s",
            cfg.host,
            cfg.port,
            cfg.device_id,
            cfg.prefix,
        )

    # -- called by the pipeline (analysis thread) ---------------------------------------
    def emit(self, result: Result) -> None:
        now = time.monotonic()
        state = result.smoothed_label or NO_FACE_STATE
        with self._lock:
            if state != self._state:
                self._state = state
                self._send(self.topics["state"], state, qos=1, retain=True)
            if self._policy.should_publish(result, now):
                payload = result_to_dict(result)
                self._send(
                    self.topics["emotion"],
                    json.dumps(payload, separators=(",", ":")),
                    qos=self.cfg.qos,
                )
            if now >= self._next_stats_s:
                self._next_stats_s = now + self.cfg.stats_interval_s
                self._send(
                    self.topics["stats"],
                    json.dumps(stats_payload(self.stats.snapshot(), self.dropped)),
                    qos=self.cfg.qos,
                )

    def close(self) -> None:
        """Say offline (retained), then disconnect; each wait bounded by CLOSE_TIMEOUT_S."""
        with self._lock:
            connected = self.connected
            self._closing = True
        if connected:
            info = self._client.publish(self.topics["availability"], "offline", qos=1, retain=True)
            # if the connection goes while we wait, the last will says offline anyway
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(CLOSE_TIMEOUT_S)
        self._client.disconnect()
        if not self._link_down.wait(CLOSE_TIMEOUT_S):
            # the broker stopped reading, so the DISCONNECT cannot go out, and paho's
            # thread would wait for it forever: end the connection under it
            sock = self._client.socket()
            if isinstance(sock, socket.socket):  # TLS sockets too
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._client.loop_stop()
        with self._lock:  # what was still waiting for a broker is lost now: count it
            self.dropped += len(self._backlog)
            self._backlog.clear()
        log.info(
            "MQTT: closed (%d published, %d not delivered: the broker was away or slow)",
            self.published,
            self.dropped,
        )

    # -- under self._lock ------------------------------------------------------------
    def _send(self, topic: str, payload: str, qos: int, retain: bool = False) -> None:
        if retain:  # the newest retained value is re-sent on every connect anyway
            if self.connected:
                self._client.publish(topic, payload, qos=qos, retain=True)
            return
        if not self.connected:
            if len(self._backlog) == self._backlog.maxlen:
                self.dropped += 1
            self._backlog.append((topic, payload))
            return
        self._hand_over(self._client, topic, payload, qos)

    def _hand_over(self, client: Any, topic: str, payload: str, qos: int) -> None:
        """Publish unless paho still holds buffer_messages of ours unsent (a stalled link)."""
        while self._unsent and self._unsent[0].is_published():
            self._unsent.popleft()
        if len(self._unsent) >= self.cfg.buffer_messages:
            self.dropped += 1
            if not self._stalled:  # said once per connection: the count is in the stats
                self._stalled = True
                log.warning(
                    "MQTT: the broker takes messages more slowly than they come (%d unsent); "
                    "the surplus is dropped and counted (mqtt_dropped in …/stats)",
                    len(self._unsent),
                )
            return
        info = client.publish(topic, payload, qos=qos)
        if info.rc == self._mqtt.MQTT_ERR_SUCCESS:
            self.published += 1
            self._unsent.append(info)
        else:
            self.dropped += 1

    # -- paho's network thread ---------------------------------------------------------
    def _report(self, link: str, level: int, message: str, *args: Any) -> None:
        if link != self._link:
            self._link = link
            log.log(level, message, *args)

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            with self._lock:
                self.connected = False
            hint = (
                "check mqtt.username and the password"
                if "auth" in str(reason).lower() or "password" in str(reason).lower()
                else "check the broker's log"
            )
            self._report(
                f"refused {reason}",
                logging.ERROR,
                "MQTT broker %s:%d refused the connection: %s (%s); retrying",
                self.cfg.host,
                self.cfg.port,
                reason,
                hint,
            )
            return
        self._link_down.clear()
        with self._lock:
            self.connected = True
            client.publish(self.topics["availability"], "online", qos=1, retain=True)
            client.publish(self.topics["state"], self._state, qos=1, retain=True)
            self._announce(client)
            self._unsent.clear()  # paho dropped unsent QoS 0 packets on reconnect
            self._stalled = False
            while self._backlog:
                topic, payload = self._backlog.popleft()
                self._hand_over(client, topic, payload, self.cfg.qos)
        if self.cfg.discovery:
            client.subscribe(f"{self.cfg.discovery_prefix}/status", qos=1)
        self._report(
            "connected", logging.INFO, "MQTT: connected to %s:%d", self.cfg.host, self.cfg.port
        )

    def _announce(self, client: Any) -> None:
        if self.cfg.discovery:
            payload = discovery_payload(
                self.cfg.device_id, self.cfg.prefix, self.labels, self.model_name, self.cfg.qos
            )
            client.publish(
                discovery_topic(self.cfg.discovery_prefix, self.cfg.device_id),
                json.dumps(payload),
                qos=1,
                retain=True,
            )

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._link_down.set()
        with self._lock:
            was_connected, self.connected = self.connected, False
        if was_connected and not self._closing:
            self._report(
                "disconnected",
                logging.WARNING,
                "MQTT: lost the broker %s:%d (%s); results are kept (newest %d) and "
                "publishing resumes on reconnect",
                self.cfg.host,
                self.cfg.port,
                reason,
                self.cfg.buffer_messages,
            )
        elif not was_connected and not self._closing and not self._link.startswith("refused"):
            hint = (
                "the broker's log says why"
                if self.cfg.tls.enabled
                else "a TLS port? then set mqtt.tls.enabled: true; else the broker's log says why"
            )
            self._report(
                "closed early",
                logging.ERROR,
                "MQTT: %s:%d closed the connection without answering (%s); retrying",
                self.cfg.host,
                self.cfg.port,
                hint,
            )

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        if self._link.startswith("unreachable"):
            return  # already said; do not probe the broker on every retry
        self._report(
            "unreachable",
            logging.ERROR,
            "MQTT: cannot connect to %s:%d: %s; retrying with backoff up to %d s",
            self.cfg.host,
            self.cfg.port,
            diagnose_connect(self.cfg),
            self.cfg.reconnect_max_s,
        )

    def _on_paho_log(self, client: Any, userdata: Any, level: int, text: str) -> None:
        # only a failing callback of ours; protocol errors (a port that is no broker) are
        # reported by the connection-state lines already
        if level != self._mqtt.MQTT_LOG_ERR or not text.startswith("Caught exception"):
            return
        self.callback_errors += 1
        if self.callback_errors == 1:  # then counted; DEBUG shows each one
            log.error("MQTT: %s (going on; later ones are counted)", text)
        else:
            log.debug("MQTT: %s", text)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        if message.topic != f"{self.cfg.discovery_prefix}/status" or message.payload != b"online":
            return
        now = time.monotonic()
        with self._lock:
            # anyone may publish "online" there: one re-announcement per interval, the
            # rest counted, so a flood costs neither the broker nor the journal
            if now - self._reannounced_at_s < REANNOUNCE_MIN_INTERVAL_S:
                self.reannounce_skipped += 1
                return
            self._reannounced_at_s = now
            self._announce(client)
        log.info("MQTT: Home Assistant came online; announced the device again")
