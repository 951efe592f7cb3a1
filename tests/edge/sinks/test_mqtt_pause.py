"""The pause switch over a real Mosquitto: …/paused/set ON lets every frame go (nothing is
analysed or shown), …/camera says paused, the state is retained and survives a restart;
OFF resumes; anything else is ignored and counted."""

from __future__ import annotations

import threading
import time

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from edge.config.mqtt import MqttConfig
from edge.pipeline.live import LiveState
from edge.pipeline.stats import PipelineStats
from edge.sinks.mqtt.homeassistant import discovery_payload
from edge.sinks.mqtt.sink import MqttSink
from edge.types import Frame
from tests.conftest import wait_until
from tests.edge.sinks.test_mqtt import LABELS
from tests.mqtt_broker import Broker, retained_now

pytestmark = pytest.mark.timeout(90)


@pytest.fixture()
def broker(tmp_path):
    broker = Broker(tmp_path).start()
    yield broker
    broker.stop()


def send(port: int, topic: str, payload: bytes) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="switch")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def sink_on(broker: Broker, live: LiveState, environ: dict[str, str]) -> MqttSink:
    cfg = MqttConfig(host="127.0.0.1", port=broker.port, device_id="cam")
    return MqttSink(cfg, LABELS, "m", PipelineStats(), None, environ=environ, live=live)


def frame_gets_through(live: LiveState) -> bool:
    frame = Frame(0, np.zeros((4, 4, 3), np.uint8), time.monotonic(), time.time())
    live.publish(frame, wait_taken=False, stop=threading.Event())
    return live.take(0.05) is not None


def test_the_switch_pauses_resumes_and_is_kept_across_a_restart(broker, tmp_path):
    environ = {"STATE_DIRECTORY": str(tmp_path / "state")}
    live = LiveState()
    sink = sink_on(broker, live, environ)
    prefix = "emotion-edge/cam"
    try:
        assert wait_until(lambda: sink.connected, 10)
        assert wait_until(lambda: retained_now(broker.port, f"{prefix}/paused"), 10)
        assert retained_now(broker.port, f"{prefix}/paused")[f"{prefix}/paused"] == b"OFF"
        assert frame_gets_through(live)

        send(broker.port, f"{prefix}/paused/set", b"ON")
        assert wait_until(lambda: live.paused, 10)
        assert not frame_gets_through(live)
        retained = lambda: retained_now(broker.port, f"{prefix}/#")  # noqa: E731
        assert wait_until(lambda: retained().get(f"{prefix}/camera") == b"paused", 10)
        assert retained()[f"{prefix}/paused"] == b"ON"

        send(broker.port, f"{prefix}/paused/set", b"sure, why not")  # neither ON nor OFF
        assert wait_until(lambda: sink.pause is not None and sink.pause.ignored == 1, 10)
        assert live.paused
    finally:
        sink.close()

    restarted = LiveState()  # the same state folder: paused before any frame can come
    again = sink_on(broker, restarted, environ)
    try:
        assert restarted.paused and not frame_gets_through(restarted)
        assert wait_until(lambda: again.connected, 10)
        send(broker.port, f"{prefix}/paused/set", b"off")
        assert wait_until(lambda: not restarted.paused, 10)
        assert frame_gets_through(restarted)
        retained = lambda: retained_now(broker.port, f"{prefix}/#")  # noqa: E731
        assert wait_until(lambda: retained().get(f"{prefix}/paused") == b"OFF", 10)
        assert wait_until(lambda: retained().get(f"{prefix}/camera") != b"paused", 10)
    finally:
        again.close()


def test_the_switch_is_announced_only_where_there_is_something_to_pause():
    with_switch = discovery_payload(
        "cam", "p", LABELS, "m", 0, sensor_interval_s=60, pause_switch=True
    )
    switch = with_switch["components"]["paused"]
    assert switch["platform"] == "switch" and switch["command_topic"] == "p/paused/set"
    assert switch["state_topic"] == "p/paused"
    assert (switch["payload_on"], switch["payload_off"]) == ("ON", "OFF")
    without = discovery_payload("cam", "p", LABELS, "m", 0, sensor_interval_s=60)
    assert "paused" not in without["components"]
