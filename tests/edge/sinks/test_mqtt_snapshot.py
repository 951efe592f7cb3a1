"""…/snapshot over a real Mosquitto: a JPEG of the annotated frame when the shown emotion
changes and every interval otherwise, never more often than MIN_GAP_S, scaled to
mqtt.snapshot_width, with faces pixelated under privacy.blur_faces, none while paused."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from edge.config.mqtt import MqttConfig
from edge.pipeline.live import LiveState
from edge.pipeline.stats import PipelineStats
from edge.sinks.mqtt.homeassistant import discovery_payload
from edge.sinks.mqtt.sink import MqttSink
from edge.sinks.mqtt.snapshot import MIN_GAP_S, Snapshots
from edge.types import Frame, Result
from tests.conftest import wait_until
from tests.edge.display.test_blur import kept_detail
from tests.edge.sinks.test_mqtt import LABELS
from tests.mqtt_broker import Broker, Subscriber

pytestmark = pytest.mark.timeout(90)
TOPIC = "emotion-edge/pic/snapshot"


@pytest.fixture()
def broker(tmp_path):
    broker = Broker(tmp_path).start()
    yield broker
    broker.stop()


@pytest.fixture()
def seen(analyzer_for, astronaut_bgr) -> tuple[LiveState, Result]:
    live = LiveState()
    frame = Frame(0, astronaut_bgr, time.monotonic(), time.time())
    live.publish(frame, wait_taken=False, stop=threading.Event())
    result = analyzer_for().analyze(frame)
    live.set_result(result)
    return live, result


def test_when_a_picture_is_due():
    snapshots = Snapshots(MqttConfig(snapshot=True, snapshot_interval_s=60), LiveState(), False)
    assert snapshots.due(changed=False, now_s=0.0)  # the first one at once
    snapshots._sent_at_s = 0.0  # as take() does when it sent one
    assert not snapshots.due(changed=False, now_s=30.0)
    assert not snapshots.due(changed=True, now_s=MIN_GAP_S - 1)  # a change, but too soon
    assert snapshots.due(changed=False, now_s=MIN_GAP_S)  # ... remembered, sent after the gap
    assert snapshots.due(changed=False, now_s=60.0)  # the interval
    assert snapshots.take(61.0) is None  # no frame (paused, or none yet): nothing sent


def test_a_picture_goes_out_scaled_blurred_and_not_while_paused(broker, seen, astronaut_bgr):
    live, result = seen
    cfg = MqttConfig(
        host="127.0.0.1", port=broker.port, device_id="pic", snapshot=True, snapshot_width=256
    )
    sub = Subscriber(broker.port, [TOPIC])
    sink = MqttSink(cfg, LABELS, "m", PipelineStats(), None, live=live, blur=True)
    try:
        assert wait_until(lambda: sink.connected, 10)
        sink.emit(result)
        assert wait_until(lambda: sub.payloads(TOPIC), 10)
        picture = cv2.imdecode(np.frombuffer(sub.payloads(TOPIC)[0], np.uint8), cv2.IMREAD_COLOR)
        assert picture.shape[1] == 256  # 512 wide, scaled down
        scale = 256 / astronaut_bgr.shape[1]
        x, y, w, h = (round(v * scale) for v in result.detections[0].box_xywh)
        small = cv2.resize(astronaut_bgr, (picture.shape[1], picture.shape[0]))
        inside = np.s_[y + h // 8 : y + h - h // 8, x + w // 8 : x + w - w // 8]
        assert kept_detail(picture[inside], small[inside]) < 0.2  # the face is pixelated
        sink.emit(result)  # the same emotion, within the interval: no new picture
        live.set_paused(True)
        sink.snapshots._sent_at_s = -1e9  # due now, but paused: no frame to send
        sink.emit(result)
        time.sleep(1.0)
        assert len(sub.payloads(TOPIC)) == 1
    finally:
        sink.close()
        sub.close()


def test_the_image_entity_is_announced_only_with_snapshots():
    on = discovery_payload("pic", "p", LABELS, "m", 0, sensor_interval_s=60, snapshot=True)
    image = on["components"]["snapshot"]
    assert image["platform"] == "image" and image["image_topic"] == "p/snapshot"
    assert image["content_type"] == "image/jpeg" and "state_topic" not in image
    off = discovery_payload("pic", "p", LABELS, "m", 0, sensor_interval_s=60)
    assert "snapshot" not in off["components"]
