"""A paho-mqtt client set up from the config, and why a connection to the broker fails.

Shared by the sink's link and `emotion-edge mqtt-forget`; paho is imported only here.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Any

from edge.config.mqtt import MqttConfig
from edge.errors import DependencyError

# what we read is Home Assistant's status ("online"); a discovery message is a few kB
MAX_INCOMING_BYTES = 256 * 1024


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


def why_closed_early(cfg: MqttConfig, timeout_s: float = 3.0) -> str:
    """Why a broker took the connection and then closed it (or kept quiet) without a CONNACK.

    Asked of the port itself: a TLS handshake tells a TLS port from a plain one, and a port
    that keeps a connection open without a word is frozen or busy, not speaking TLS.
    """
    if cfg.tls.enabled:
        return "the broker's log says why"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((cfg.host, cfg.port), timeout=timeout_s) as raw,
            context.wrap_socket(raw, server_hostname=cfg.host),
        ):
            pass
    except TimeoutError:
        return (
            "it accepts connections but sends nothing: a frozen or overloaded broker, "
            "or no MQTT broker on this port"
        )
    except ssl.SSLError as exc:
        reason = str(exc.reason or "").upper()
        if "WRONG_VERSION_NUMBER" in reason:  # bytes came back, and they were not TLS
            return "what answers on this port is no MQTT broker: check mqtt.host and mqtt.port"
        if "ALERT" not in reason:  # a TLS server that dislikes our hello still sends an alert
            return "the broker's log says why"
    except OSError:
        return "the broker's log says why"
    return "the port speaks TLS: set mqtt.tls.enabled: true"


def _bounded(client_class: Any) -> Any:
    """paho's client class, made to read past any packet over MAX_INCOMING_BYTES unkept.

    paho collects a packet whole before looking at it, up to the 256 MB MQTT allows, so a
    broker (or any client allowed to publish to a topic we read) could make us hold that
    much. MQTT 5 brokers are told our limit in CONNECT; this holds it for 3.1.1 too. It
    reaches into paho's reader state, pinned by tests/edge/sinks/test_mqtt_incoming_size.py.
    """

    class BoundedClient(client_class):
        on_oversize: Callable[[int], None] | None = None
        _in_packet: dict[str, Any]  # paho's reader state

        def _sock_recv(self, bufsize: int) -> bytes:
            packet: dict[str, Any] = self._in_packet
            if not packet["have_remaining"] or packet["remaining_length"] <= MAX_INCOMING_BYTES:
                return super()._sock_recv(bufsize)
            data = super()._sock_recv(min(bufsize, 1 << 16))
            if not data:
                return data  # the connection closed: paho sees it as it would
            packet["to_process"] -= len(data)
            if packet["to_process"] <= 0:
                size = packet["remaining_length"]
                self._in_packet = dict(
                    packet, command=0, have_remaining=0, remaining_count=[], remaining_mult=1,
                    remaining_length=0, to_process=0, packet=bytearray(), pos=0,
                )  # fmt: skip
                if self.on_oversize is not None:
                    self.on_oversize(size)
            raise BlockingIOError  # paho: "nothing for now", and it reads on

    return BoundedClient


def connect_properties(cfg: MqttConfig) -> Any:
    """MQTT 5's CONNECT properties: the largest packet we take (None for 3.1.1)."""
    if cfg.protocol != "5":
        return None
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    properties = Properties(PacketTypes.CONNECT)
    properties.MaximumPacketSize = MAX_INCOMING_BYTES
    return properties


def make_client(cfg: MqttConfig, password: str | None, client_id: str) -> tuple[Any, Any]:
    """paho's module and a client set up from the config (protocol, credentials, TLS)."""
    try:
        import paho.mqtt.client as mqtt
    except ImportError as exc:
        raise DependencyError("paho-mqtt is not installed: run ./setup.sh") from exc
    protocol = mqtt.MQTTv5 if cfg.protocol == "5" else mqtt.MQTTv311
    client = _bounded(mqtt.Client)(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol
    )
    if cfg.username:
        client.username_pw_set(cfg.username, password)
    if cfg.tls.enabled:
        client.tls_set(
            ca_certs=cfg.tls.ca_file, certfile=cfg.tls.cert_file, keyfile=cfg.tls.key_file
        )
        client.tls_insecure_set(cfg.tls.insecure)
    return mqtt, client
