"""A broker whose packet size limit is smaller than our discovery message (issue 25, case 3):
it used to drop us after every CONNACK, about once a second for ever, with three log lines
each time and an ERROR blaming "a TLS port?". Now: one warning at the first drop, one error
line at the second that names the message, its size and the fix, reconnects that back off; with MQTT 5, whose CONNACK gives the limit, the
message is not sent at all and the connection stays."""

from __future__ import annotations

import logging
import time

import pytest

from edge.config.mqtt import MqttConfig
from edge.pipeline.stats import PipelineStats
from edge.sinks.mqtt.drops import QUICK_DROP_S, DropWatch
from edge.sinks.mqtt.sink import MqttSink
from tests.conftest import wait_until
from tests.edge.sinks.test_mqtt import LABELS, result
from tests.mqtt_broker import Broker, Subscriber

pytestmark = pytest.mark.timeout(120)


def connections(broker: Broker) -> int:
    return (broker.folder / "mosquitto.log").read_text().count("New client connected")


def sink_on(broker: Broker, protocol: str) -> MqttSink:
    cfg = MqttConfig(
        host="127.0.0.1", port=broker.port, device_id="big", protocol=protocol, reconnect_max_s=30
    )
    return MqttSink(cfg, LABELS, "m", PipelineStats(), None)


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_mqtt_311_a_broker_that_drops_us_for_the_discovery_size_gets_backoff(tmp_path, caplog):
    broker = Broker(tmp_path, extra=["max_packet_size 2048"]).start()
    caplog.set_level(logging.INFO, logger="edge.sinks")
    sink = sink_on(broker, "3.1.1")
    try:
        started = time.monotonic()
        while time.monotonic() - started < 8:
            sink.tick(sink.stats)
            time.sleep(0.1)  # the supervisor's tick rate: this is the run being watched
    finally:
        sink.close()
        broker.stop()
    # delays 2, 4, ... s after each drop: 3 connections in 8 s, where paho alone made 9
    assert connections(broker) <= 3
    (line,) = errors(caplog)
    assert "drops the connection right after our message of" in line
    assert "bytes on homeassistant/device/big/config" in line
    assert "raise max_packet_size, or set mqtt.discovery: false" in line
    assert "TLS" not in line
    # the first drop reads as a lost broker (it may be one); the second says why, and then
    # nothing more is said for each retry
    assert sum("lost the broker" in r.getMessage() for r in caplog.records) == 1


def test_mqtt_5_the_broker_limit_is_read_and_the_message_not_sent(tmp_path, caplog):
    broker = Broker(tmp_path, extra=["max_packet_size 2048"]).start()
    sub = Subscriber(broker.port, ["emotion-edge/big/#"])
    caplog.set_level(logging.INFO, logger="edge.sinks")
    sink = sink_on(broker, "5")
    try:
        assert wait_until(lambda: sink.connected, 10)
        sink.emit(result(0, "happy"))
        assert wait_until(lambda: sub.payloads("emotion-edge/big/state")[-1:] == [b"happy"], 10)
        assert sink.connected and connections(broker) == 2  # ours and the subscriber's
    finally:
        sink.close()
        sub.close()
        broker.stop()
    (line,) = errors(caplog)
    assert line.startswith("MQTT: not sent: homeassistant/device/big/config would be ")
    assert "the broker takes at most 2048 (raise its max_packet_size" in line


def test_drop_watch_backs_off_only_for_quick_drops_and_resets_once_steady():
    now = [100.0]
    watch = DropWatch(max_delay_s=30, clock=lambda: now[0])
    delays = []
    for _ in range(6):
        watch.connected()
        now[0] += 0.01
        delays.append(watch.dropped())
    assert delays == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    watch.connected()
    assert not watch.steady()
    now[0] += QUICK_DROP_S
    assert watch.steady() and watch.quick_drops == 0 and not watch.steady()
    assert watch.dropped() is None  # a connection that held: a lost broker, no backoff here
