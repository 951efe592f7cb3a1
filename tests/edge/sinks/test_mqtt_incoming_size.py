"""A huge message on a topic we read (issue 25, smaller cases): paho used to collect it whole,
up to the 256 MB MQTT allows, before looking at it. Now MQTT 5 brokers are told our limit in
CONNECT, and with 3.1.1 a packet over it is read past in small pieces and never kept; the
connection goes on and the next message on that topic is read as usual."""

from __future__ import annotations

import logging
import re
import tracemalloc

import paho.mqtt.client as mqtt
import pytest

from edge.config.mqtt import MqttConfig
from edge.pipeline.stats import PipelineStats
from edge.sinks.mqtt.client import MAX_INCOMING_BYTES
from edge.sinks.mqtt.sink import MqttSink
from tests.conftest import wait_until
from tests.edge.sinks.test_mqtt import LABELS
from tests.mqtt_broker import Broker

pytestmark = pytest.mark.timeout(90)

HUGE_BYTES = 24 * 1024 * 1024


@pytest.fixture()
def broker(tmp_path):
    broker = Broker(tmp_path).start()
    yield broker
    broker.stop()


def publish(port: int, topic: str, payload: bytes, retain: bool) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="huge-publisher")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(30)
    finally:
        client.disconnect()
        client.loop_stop()


def came_online(caplog) -> int:
    return sum("Home Assistant came online" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_a_huge_message_on_our_topic_is_never_held(broker, caplog, protocol):
    publish(broker.port, "homeassistant/status", b"x" * HUGE_BYTES, retain=True)
    caplog.set_level(logging.INFO, logger="edge.sinks")
    cfg = MqttConfig(host="127.0.0.1", port=broker.port, device_id="huge", protocol=protocol)
    tracemalloc.start()
    sink = MqttSink(cfg, LABELS, "m", PipelineStats(), None)
    try:
        assert wait_until(lambda: sink.connected, 10)
        if protocol == "3.1.1":  # the broker sends it; we read past it
            assert wait_until(lambda: sink.link.said.oversize_skipped == 1, 30)
        publish(broker.port, "homeassistant/status", b"online", retain=False)
        # the message after it is read as usual: the reader state was left right
        assert wait_until(lambda: came_online(caplog) == 1, 15)
        _, peak_bytes = tracemalloc.get_traced_memory()
        assert sink.connected
    finally:
        tracemalloc.stop()
        sink.close()
    assert peak_bytes < HUGE_BYTES / 4, peak_bytes
    skipped = [r for r in caplog.records if "skipped a packet" in r.getMessage()]
    if protocol == "3.1.1":
        assert len(skipped) == 1 and skipped[0].levelno == logging.WARNING
        line = skipped[0].getMessage()
        assert f"(we take up to {MAX_INCOMING_BYTES})" in line
        size = int(re.search(r"packet of (\d+) bytes", line)[1])
        assert HUGE_BYTES < size < HUGE_BYTES + 100  # the payload, its topic and header
    else:  # told in CONNECT, the broker does not send it at all
        assert sink.link.said.oversize_skipped == 0 and not skipped
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
