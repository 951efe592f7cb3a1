"""`emotion-edge mqtt-forget`: take this device off the broker and out of Home Assistant.

An empty retained message on a topic deletes what the broker keeps there; on the device's
discovery topic it also makes Home Assistant remove the device and its entities. Cleared
are the topics of the config's device and those of the announcement recorded by the last
run (edge.sinks.mqtt.record), which may name another device id or prefix. Stop a running
service first (setup.sh --uninstall-service does): it would announce itself again.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import threading
import time
from pathlib import Path
from typing import Any

from edge.config.mqtt import MqttConfig
from edge.errors import EdgeError
from edge.sinks.mqtt.client import diagnose_connect, make_client
from edge.sinks.mqtt.record import Announcement, drop_record, load_record, record_path

TIMEOUT_S = 10.0  # for the connection, and again for the broker to confirm the messages


def targets(cfg: MqttConfig, earlier: Announcement | None) -> tuple[list[Announcement], str]:
    """What to clear on the config's broker, and a note about what cannot be cleared there."""
    current = Announcement.of(cfg)
    found: list[Announcement] = []
    note = ""
    if earlier is not None and earlier.broker != current.broker:
        note = (
            f"; device {earlier.device_id} was announced on {earlier.broker}: set mqtt.host "
            "and mqtt.port to that broker and run this again to clear it there"
        )
    elif earlier is not None and earlier != current:
        found.append(earlier)
    if cfg.enabled or found or earlier == current:
        found.append(current)
    return found, note


def forget_device(
    cfg: MqttConfig, environ: dict[str, str] | None = None, config_file: Path | None = None
) -> str:
    """Clear the retained topics this device owns; the line to print. EdgeError if the
    broker cannot be reached or does not confirm. `config_file` names the run's record."""
    path = record_path(environ, config_file)
    earlier = load_record(path)
    found, note = targets(cfg, earlier)
    where = Announcement.of(cfg).broker
    if not found:
        return (
            f"mqtt-forget: nothing to forget on {where} (mqtt.enabled is false and {path} "
            f"records no announcement){note}"
        )
    topics = list(dict.fromkeys(topic for a in found for topic in a.retained_topics()))
    _publish_empty(cfg, topics, environ)
    if earlier is not None and earlier.broker == where:
        drop_record(path)
    devices = ", ".join(dict.fromkeys(a.device_id for a in found))
    removed = any(a.discovery_topic for a in found)
    return (
        f"mqtt-forget: cleared {len(topics)} retained topics of device {devices} on {where}"
        + (" and removed it from Home Assistant" if removed else "")
        + note
    )


def _publish_empty(cfg: MqttConfig, topics: list[str], environ: dict[str, str] | None) -> None:
    where = f"{cfg.host}:{cfg.port}"
    password = cfg.resolve_password(environ)
    # never the service's client id: the broker would end the service's connection
    _, client = make_client(cfg, password, f"emotion-edge-{cfg.device_id}-forget-{os.getpid()}")
    answered = threading.Event()
    reasons: list[Any] = []

    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        reasons.append(reason)
        answered.set()

    client.on_connect = on_connect
    client.connect_timeout = TIMEOUT_S
    try:
        client.connect(cfg.host, cfg.port, keepalive=int(TIMEOUT_S * 3))
    except (OSError, ssl.SSLError, ValueError):
        raise EdgeError(
            f"mqtt-forget: cannot reach the broker {where} ({diagnose_connect(cfg)}); "
            "nothing was cleared (run emotion-edge mqtt-forget again once it is up)"
        ) from None
    client.loop_start()
    try:
        if not answered.wait(TIMEOUT_S):
            raise EdgeError(
                f"mqtt-forget: the broker {where} did not answer within {TIMEOUT_S:g} s; "
                "nothing was cleared (check mqtt.host, mqtt.port and mqtt.tls)"
            )
        if reasons[0].is_failure:
            raise EdgeError(
                f"mqtt-forget: the broker {where} refused the connection ({reasons[0]}); "
                "check mqtt.username and the password"
            )
        sent = [client.publish(topic, "", qos=1, retain=True) for topic in topics]
        deadline = time.monotonic() + TIMEOUT_S
        for info in sent:
            with contextlib.suppress(RuntimeError, ValueError):  # the link went: unconfirmed
                info.wait_for_publish(max(0.05, deadline - time.monotonic()))
        unconfirmed = sum(not info.is_published() for info in sent)
        if unconfirmed:
            raise EdgeError(
                f"mqtt-forget: the broker {where} did not confirm {unconfirmed} of "
                f"{len(sent)} messages within {TIMEOUT_S:g} s; run it again"
            )
    finally:
        client.disconnect()
        client.loop_stop()
