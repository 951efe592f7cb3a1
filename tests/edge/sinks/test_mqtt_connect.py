"""Connections: a client id per process (a stable one for the service), and the messages
sent on connect never refused by the buffer bound."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge.config.mqtt import CLIENT_ID_ENV, MqttConfig
from edge.errors import ConfigError
from edge.pipeline.stats import PipelineStats
from edge.sinks.mqtt.sink import MqttSink
from tests.conftest import ROOT, wait_until
from tests.edge.sinks.test_mqtt import LABELS, result
from tests.mqtt_broker import Broker, Subscriber, retained_now

pytestmark = pytest.mark.timeout(180)
UNIT = ROOT / "systemd" / "emotion-edge.service"


@pytest.fixture()
def broker(tmp_path: Path):
    broker = Broker(tmp_path).start()
    yield broker
    broker.stop()


def on_connect_set(device: str) -> dict[str, bytes]:
    return {
        f"emotion-edge/{device}/availability": b"online",
        f"emotion-edge/{device}/camera": b"starting",
        f"emotion-edge/{device}/state": b"none",
    }


@pytest.mark.parametrize("qos", [0, 1])
def test_on_connect_messages_get_through_a_buffer_of_one(broker, qos):
    """paho's max_queued_messages (1 here) would refuse QoS 1 messages while the first
    waits for its PUBACK, which cannot come while on_connect runs: state and discovery
    were lost on every connect."""
    cfg = MqttConfig(
        host="127.0.0.1",
        port=broker.port,
        device_id="tight",
        qos=qos,
        buffer_messages=1,
        reconnect_max_s=1,
        publish="every",
    )
    sink = MqttSink(cfg, LABELS, "m", PipelineStats(), None)
    discovery = "homeassistant/device/tight/config"
    try:
        assert wait_until(lambda: discovery in retained_now(broker.port), 10)
        held = retained_now(broker.port)
        assert {t: held[t] for t in on_connect_set("tight")} == on_connect_set("tight")
        broker.stop()  # no persistence: the broker forgets every retained message
        assert wait_until(lambda: not sink.connected, 10)
        for index in range(50):  # results wait in a backlog of one, QoS 1 ones included
            sink.emit(result(index, "sad"))
        broker.start()
        assert wait_until(lambda: discovery in retained_now(broker.port), 15)
        held = retained_now(broker.port)
        assert held["emotion-edge/tight/availability"] == b"online"
        assert held["emotion-edge/tight/state"] == b"sad"
    finally:
        sink.close()


@pytest.mark.parametrize(
    ("client_id", "environ", "expected"),
    [
        (None, {}, "emotion-edge-kitchen-4242"),  # a manual run: its own
        (None, {CLIENT_ID_ENV: "emotion-edge-{device_id}"}, "emotion-edge-kitchen"),  # service
        (None, {CLIENT_ID_ENV: "  "}, "emotion-edge-kitchen-4242"),
        ("fixed-by-acl", {CLIENT_ID_ENV: "emotion-edge-{device_id}"}, "fixed-by-acl"),
    ],
)
def test_client_id(client_id, environ, expected):
    cfg = MqttConfig(device_id="kitchen", client_id=client_id)
    assert cfg.process_client_id(environ, pid=4242) == expected


def test_a_client_id_from_the_environment_is_checked():
    with pytest.raises(ConfigError, match=f"{CLIENT_ID_ENV}: contains a NUL character"):
        MqttConfig(device_id="k").process_client_id({CLIENT_ID_ENV: "a\x00b"})


def test_the_unit_gives_the_service_a_stable_client_id():
    lines = [line for line in UNIT.read_text().splitlines() if line.startswith("Environment=")]
    settings = dict(line.removeprefix("Environment=").split("=", 1) for line in lines)
    cfg = MqttConfig(device_id="kitchen")
    assert cfg.process_client_id(settings) == "emotion-edge-kitchen"
    assert cfg.process_client_id(settings) == cfg.process_client_id(settings, pid=1)


def count_link_events(sink: MqttSink) -> dict[str, int]:
    """Connects and disconnects from now on, counted around the link's own callbacks."""
    counts = {"connect": 0, "disconnect": 0}
    client = sink.link.client
    for event in counts:
        original = getattr(client, f"on_{event}")

        def counted(*args: object, _event: str = event, _original=original) -> None:
            counts[_event] += 1
            _original(*args)

        setattr(client, f"on_{event}", counted)
    return counts


def test_a_manual_run_beside_the_service_does_not_take_its_session(broker):
    cfg = MqttConfig(host="127.0.0.1", port=broker.port, device_id="twin", reconnect_max_s=1)
    service = MqttSink(
        cfg, LABELS, "m", PipelineStats(), None, environ={CLIENT_ID_ENV: "emotion-edge-{device_id}"}
    )
    manual = None
    try:
        assert wait_until(lambda: service.connected, 10)
        events = count_link_events(service)
        manual = MqttSink(cfg, LABELS, "m", PipelineStats(), None, environ={})
        assert wait_until(lambda: manual.connected, 10)
        # with one client id the broker would drop the older connection, and the two
        # would take turns reconnecting every second or so
        assert not wait_until(lambda: events["disconnect"] or events["connect"], 4), events
        assert service.connected and manual.connected
    finally:
        if manual is not None:
            manual.close()
        service.close()


@pytest.mark.parametrize(
    ("old_id", "new_id", "stays_online"),
    [
        ("emotion-edge-{device_id}", "emotion-edge-{device_id}", True),  # the service's way
        ("emotion-edge-{device_id}-1111", "emotion-edge-{device_id}-2222", False),  # pids
    ],
    ids=["stable-id", "id-per-process"],
)
def test_a_restarted_service_takes_over_its_stale_session(broker, old_id, new_id, stays_online):
    """The old process hangs with its connection open (a frozen machine, a lost route).
    With the same client id the new one replaces that session at once, so the old
    session's last will comes before the new "online"; with another id the broker waits
    1.5 keepalives for the old one, and its "offline" lands after the new "online"."""
    cfg = MqttConfig(host="127.0.0.1", port=broker.port, device_id="svc", keepalive_s=5)
    topic = "emotion-edge/svc/availability"
    sub = Subscriber(broker.port, [topic])
    old = MqttSink(cfg, LABELS, "m", PipelineStats(), None, environ={CLIENT_ID_ENV: old_id})
    assert wait_until(lambda: sub.payloads(topic) == [b"online"], 10)
    old.link.client.loop_stop()  # frozen: no more packets, no keepalive, socket still open
    new = MqttSink(cfg, LABELS, "m", PipelineStats(), None, environ={CLIENT_ID_ENV: new_id})
    try:
        assert wait_until(lambda: new.connected, 10)
        assert wait_until(lambda: sub.payloads(topic)[-1:] == [b"online"], 10)
        # longer than the broker waits for a silent client (7.5 s): does "offline" follow?
        went_offline = wait_until(lambda: sub.payloads(topic)[-1] == b"offline", 12)
        assert went_offline != stays_online, sub.payloads(topic)
        held = retained_now(broker.port, topic)[topic]
        assert held == (b"online" if stays_online else b"offline")
    finally:
        new.close()
        stale = old.link.client.socket()  # not old.close(): that would say "offline"
        if stale is not None:
            stale.close()
        sub.close()


def test_a_manual_run_names_its_own_client_id_in_the_log(broker, tmp_path, astronaut_bgr):
    import cv2

    from tests.conftest import start_program, stop_program, write_video

    clip = write_video(tmp_path / "c.avi", [cv2.resize(astronaut_bgr, (320, 240))] * 5)
    proc = start_program(
        "run",
        "--source",
        str(clip),
        "--loop",
        "true",
        "--mqtt-host",
        "127.0.0.1",
        "--mqtt-port",
        str(broker.port),
        "--output",
        str(tmp_path / "r.jsonl"),
    )
    sub = Subscriber(broker.port, ["emotion-edge/+/availability"])
    try:
        assert wait_until(lambda: sub.messages, 60)
    finally:
        stderr = stop_program(proc)
        sub.close()
    assert re.search(rf"client id emotion-edge-[a-z0-9_-]+-{proc.pid}\)", stderr), stderr
