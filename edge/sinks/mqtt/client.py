"""A paho-mqtt client set up from the config, and why a connection to the broker fails.

Shared by the sink's link and `emotion-edge mqtt-forget`; paho is imported only here.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

from edge.config.mqtt import MqttConfig
from edge.errors import DependencyError


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


def make_client(cfg: MqttConfig, password: str | None, client_id: str) -> tuple[Any, Any]:
    """paho's module and a client set up from the config (protocol, credentials, TLS)."""
    try:
        import paho.mqtt.client as mqtt
    except ImportError as exc:
        raise DependencyError("paho-mqtt is not installed: run ./setup.sh") from exc
    protocol = mqtt.MQTTv5 if cfg.protocol == "5" else mqtt.MQTTv311
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
    if cfg.username:
        client.username_pw_set(cfg.username, password)
    if cfg.tls.enabled:
        client.tls_set(
            ca_certs=cfg.tls.ca_file, certfile=cfg.tls.cert_file, keyfile=cfg.tls.key_file
        )
        client.tls_insecure_set(cfg.tls.insecure)
    return mqtt, client
