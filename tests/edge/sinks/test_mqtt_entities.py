"""Entities that stay true: camera state and stats on the supervisor's timer, Home
Assistant's values by a policy that keeps its history modest, the discovery message."""

from __future__ import annotations

import itertools
import json
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.config.mqtt import MqttConfig
from edge.config.view import WebConfig
from edge.pipeline.stats import PipelineStats
from edge.sinks.mqtt import policy as mqtt_policy
from edge.sinks.mqtt.homeassistant import discovery_payload, web_view_url
from edge.sinks.mqtt.policy import (
    PublishPolicy,
    SensorPolicy,
    camera_state,
    sensor_values,
    stats_payload,
)
from edge.sinks.mqtt.sink import MqttSink
from edge.sinks.payload import result_to_dict
from tests.conftest import start_program, stop_program, wait_until
from tests.edge.sinks.test_mqtt import LABELS, result
from tests.mqtt_broker import Broker, Subscriber, retained_now

pytestmark = pytest.mark.timeout(180)
PREFIX = "emotion-edge/ent"


@pytest.fixture()
def broker(tmp_path: Path):
    broker = Broker(tmp_path).start()
    yield broker
    broker.stop()


def sink_on(broker: Broker, stats: PipelineStats | None = None, **settings) -> MqttSink:
    cfg = MqttConfig(host="127.0.0.1", port=broker.port, device_id="ent", **settings)
    sink = MqttSink(cfg, LABELS, "test-model", stats or PipelineStats(), None)
    assert wait_until(lambda: sink.connected, 10)
    return sink


def ticking(sink: MqttSink, stats: PipelineStats, check: Callable[[], object]):
    """A condition that ticks the sink first, as the pipeline's supervisor loop does."""

    def condition() -> object:
        sink.tick(stats)
        return check()

    return condition


def test_camera_state_and_stats_come_from_the_timer_without_any_result(broker):
    stats = PipelineStats()
    sub = Subscriber(broker.port, [f"{PREFIX}/#"])
    sink = sink_on(broker, stats, stats_interval_s=1, discovery=False)
    camera = f"{PREFIX}/camera"
    try:
        assert wait_until(lambda: sub.payloads(camera) == [b"starting"], 10)
        stats.captured(False)  # the first frame: streaming
        assert wait_until(ticking(sink, stats, lambda: sub.payloads(camera)[-1] == b"streaming"), 5)
        stats.set_source_state("reconnecting")  # the camera is lost
        assert wait_until(
            ticking(sink, stats, lambda: sub.payloads(camera)[-1] == b"reconnecting"), 5
        )
        # stats keep coming on the timer while no result comes, and say what is going on
        assert wait_until(
            ticking(sink, stats, lambda: len(sub.payloads(f"{PREFIX}/stats")) >= 2), 5
        )
        last = json.loads(sub.payloads(f"{PREFIX}/stats")[-1])
        assert last["source_state"] == "reconnecting" and last["frames_processed"] == 0
        assert not sub.payloads(f"{PREFIX}/emotion") and not sub.payloads(f"{PREFIX}/sensors")
        sink.stopping()
        before = sink.published
        stats.captured(False)
        for _ in range(100):
            sink.tick(stats)  # after stopping(), ticks publish nothing
        assert sink.published == before
    finally:
        sink.close()
        sub.close()
    held = retained_now(broker.port, f"{PREFIX}/#")
    assert held[camera] == b"reconnecting" and held[f"{PREFIX}/availability"] == b"offline"


def test_a_tick_is_cheap_and_publishes_only_changes_between_intervals(broker):
    stats = PipelineStats()
    stats.captured(False)
    sink = sink_on(broker, stats, stats_interval_s=3600, discovery=False)
    try:
        sink.tick(stats)  # starting -> streaming: one message
        before = sink.published
        started = time.perf_counter()
        for _ in range(10_000):
            stats.captured(False)
            sink.tick(stats)
        per_tick_us = (time.perf_counter() - started) / 10_000 * 1e6
        assert sink.published == before, "a tick without a change published something"
        # the pipeline ticks every 0.1 s; 200 µs would still be 0.2 % of its main thread
        assert per_tick_us < 200, per_tick_us
    finally:
        sink.close()


@pytest.mark.parametrize(
    ("state", "frame_age_s", "expected"),
    [
        ("starting", None, "starting"),
        ("streaming", 0.1, "streaming"),
        ("streaming", mqtt_policy.CAMERA_STALLED_AFTER_S + 1, "stalled"),
        ("reconnecting", 30.0, "reconnecting"),
        ("ended", 1.0, "ended"),
    ],
)
def test_camera_state(state, frame_age_s, expected):
    stats = PipelineStats()
    if frame_age_s is not None:
        stats.captured(False)
    stats.set_source_state(state)
    now = (stats.last_capture_at_s or time.monotonic()) + (frame_age_s or 0.0)
    assert camera_state(stats, now) == expected


@pytest.mark.parametrize(
    ("label", "confidence", "faces", "expected"),
    [
        ("happy", 0.8349, 1, ("happy", 83, 1, True)),
        ("sad", 0.5, 2, ("sad", 50, 2, True)),
        # a missed detection: the smoothed emotion still remembers the face
        ("happy", 0.8, 0, ("happy", 80, 0, True)),
        # several faces, none classified (face policy multiple_faces): the design's message,
        # and still someone there
        (None, 0.0, 2, ("several faces", None, 2, True)),
        (None, 0.0, 0, ("none", None, 0, False)),
    ],
)
def test_sensor_values(label, confidence, faces, expected):
    made = result(1, label, confidence, faces)
    values = sensor_values(made, result_to_dict(made))
    assert (values["emotion"], values["confidence"], values["faces"], values["face_present"]) == (
        expected
    )
    if label is None:
        assert values["scores"] == {}
    else:  # two decimals: jitter below 1 % makes no new state
        assert values["scores"][label] == round(confidence, 2) and len(values["scores"]) == 7


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # (time s, emotion, face present) -> sent?
        ([(0, "happy", True), (5, "happy", True), (59, "happy", True)], [True, False, False]),
        ([(0, "happy", True), (60, "happy", True), (61, "happy", True)], [True, True, False]),
        ([(0, "happy", True), (1, "sad", True), (2, "sad", True)], [True, True, False]),
        ([(0, "none", True), (1, "none", False), (2, "none", True)], [True, True, True]),
    ],
)
def test_sensor_policy(steps, expected):
    policy = SensorPolicy(60.0)
    got = [
        policy.due({"emotion": emotion, "face_present": present}, float(t))
        for t, emotion, present in steps
    ]
    assert got == expected


def steady_emotion(fps: float, hours: float, seed: int = 7):
    """Results of one person at one emotion whose classifier output jitters, as on a camera."""
    rng = random.Random(seed)
    for index in range(int(fps * 3600 * hours)):
        yield index / fps, result(index, "happy", 0.8 + rng.uniform(-0.05, 0.05))


def state_changes(values: list[object]) -> int:
    """Home Assistant writes a state row each time an entity's value (or attributes) change;
    the first value is the one row every entity has anyway."""
    return sum(1 for before, now in itertools.pairwise(values) if now != before)


def test_a_steady_emotion_keeps_home_assistants_history_modest():
    """The figure for the README: rows per day at a steady emotion, 15 fps, defaults."""
    cfg = MqttConfig()
    hours = 1.0
    sensors = SensorPolicy(cfg.sensor_interval_s)
    sent = [
        values
        for t, r in steady_emotion(15.0, hours)
        if sensors.due(values := sensor_values(r, result_to_dict(r)), t)
    ]
    per_day = {
        "emotion (state, scores)": state_changes([(v["emotion"], v["scores"]) for v in sent]),
        "confidence": state_changes([v["confidence"] for v in sent]),
        "faces": state_changes([v["faces"] for v in sent]),
        "face present": state_changes([v["face_present"] for v in sent]),
    }
    per_day = {name: round(rows * 24 / hours) for name, rows in per_day.items()}
    # the old design: Confidence read …/emotion, published at 2 Hz, one decimal
    old = PublishPolicy("rate", 2.0)
    old_confidence = [
        round(result_to_dict(r)["confidence"] * 100, 1)
        for t, r in steady_emotion(15.0, hours)
        if old.should_publish(r.status, "happy", t)
    ]
    old_per_day = round(state_changes(old_confidence) * 24 / hours)
    print(f"rows/day at a steady emotion: {per_day}; old confidence alone: {old_per_day}")
    limit = 86400 / cfg.sensor_interval_s
    assert all(rows <= limit for rows in per_day.values()), per_day
    assert per_day["faces"] == 0 and per_day["face present"] == 0
    assert old_per_day > 100 * per_day["confidence"], (old_per_day, per_day)


def test_values_go_out_on_change_and_on_the_interval_only(broker):
    sub = Subscriber(broker.port, [f"{PREFIX}/sensors"])
    sink = sink_on(broker, sensor_interval_s=1.0, discovery=False)
    topic = f"{PREFIX}/sensors"
    try:
        for index in range(20):
            sink.emit(result(index, "happy"))  # within one interval: sent once
        assert wait_until(lambda: len(sub.payloads(topic)) == 1, 5)
        sink.emit(result(20, "sad"))  # a change goes out at once
        assert wait_until(lambda: len(sub.payloads(topic)) == 2, 5)
        values = json.loads(sub.payloads(topic)[-1])
        assert values == {
            "emotion": "sad",
            "confidence": 80,
            "faces": 1,
            "face_present": True,
            "scores": {lab: 0.8 if lab == "sad" else 0.03 for lab in LABELS},
        }
        started = time.monotonic()

        def steady() -> bool:
            sink.emit(result(21, "sad"))
            return len(sub.payloads(topic)) == 3

        assert wait_until(steady, 5)  # and the numbers again after the interval
        assert time.monotonic() - started >= 0.9
    finally:
        sink.close()
        sub.close()


COMPONENTS = {
    # key: (platform, device_class, topic, result entity, diagnostic)
    "emotion": ("sensor", "enum", "sensors", True, False),
    "confidence": ("sensor", None, "sensors", True, False),
    "faces": ("sensor", None, "sensors", True, False),
    "face_present": ("binary_sensor", "occupancy", "sensors", True, False),
    "episode": ("event", None, "events", False, False),
    "camera": ("binary_sensor", "connectivity", "camera", False, True),
    "fps": ("sensor", None, "stats", False, True),
    "inference": ("sensor", "duration", "stats", False, True),
    "cpu_temperature": ("sensor", "temperature", "stats", False, True),
}


@pytest.mark.parametrize(
    ("thermal", "web_url"),
    [(True, "http://kitchen:8080/"), (False, None)],
    ids=["pi-with-web-view", "pc-without"],
)
def test_the_announced_device(broker, tmp_path, monkeypatch, thermal, web_url):
    zone = tmp_path / "temp"
    if thermal:
        zone.write_text("48312\n")
    monkeypatch.setattr(mqtt_policy, "THERMAL_ZONE", zone)
    cfg = MqttConfig(host="127.0.0.1", port=broker.port, device_id="kitchen")
    sink = MqttSink(cfg, LABELS, "m", PipelineStats(), None, web_url=web_url)
    topic = "homeassistant/device/kitchen/config"
    try:
        assert wait_until(lambda: topic in retained_now(broker.port, topic), 10)
        payload = json.loads(retained_now(broker.port, topic)[topic])
    finally:
        sink.close()
    assert payload["device"].get("configuration_url") == web_url
    assert "availability_topic" not in payload  # a list: components may override it
    components = payload["components"]
    expected = {k: v for k, v in COMPONENTS.items() if thermal or k != "cpu_temperature"}
    assert set(components) == set(expected)
    for key, (platform, device_class, topic_level, result_entity, diagnostic) in expected.items():
        component = components[key]
        assert component["platform"] == platform, key
        assert component.get("device_class") == device_class, key
        assert component["state_topic"] == f"emotion-edge/kitchen/{topic_level}", key
        assert component["unique_id"] == f"emotion_edge_kitchen_{key}"
        assert (component.get("entity_category") == "diagnostic") == diagnostic, key
        if result_entity:  # unavailable without a streaming camera, expired without results
            assert component["expire_after"] == 3 * cfg.sensor_interval_s, key
            assert component["availability_mode"] == "all"
            topics = [a["topic"] for a in component["availability"]]
            assert topics == ["emotion-edge/kitchen/availability", "emotion-edge/kitchen/camera"]
        else:
            assert "availability" not in component and "expire_after" not in component, key
    emotion = components["emotion"]
    # every value …/state takes
    assert emotion["options"] == [*LABELS, "uncertain", "several faces", "none"]
    assert emotion["json_attributes_topic"] == "emotion-edge/kitchen/sensors"
    assert components["episode"]["event_types"] == ["start", "change", "end"]


def test_templates_read_fields_the_messages_have():
    """Every value_json.<field> a template reads is in the message its topic carries."""
    stats = PipelineStats()
    carried = {
        "sensors": set(sensor_values(result(1), result_to_dict(result(1)))),
        "stats": set(stats_payload(stats.snapshot(), 0)),
    }
    payload = discovery_payload(
        "k", "p", LABELS, "m", 0, sensor_interval_s=60, cpu_temperature=True
    )
    for key, component in payload["components"].items():
        level = component["state_topic"].rsplit("/", 1)[1]
        for template in (
            component.get("value_template", ""),
            component.get("json_attributes_template", ""),
        ):
            for field in re.findall(r"value_json\.(\w+)", template):
                assert field in carried[level], (key, field)


@pytest.mark.parametrize(
    ("web", "expected"),
    [
        ({"enabled": False, "host": "0.0.0.0"}, None),
        ({"enabled": True, "host": "127.0.0.1"}, None),  # only this machine can open it
        ({"enabled": True, "host": "localhost"}, None),
        ({"enabled": True, "host": "192.168.1.20", "port": 8081}, "http://192.168.1.20:8081/"),
        ({"enabled": True, "host": "fd00::20"}, "http://[fd00::20]:8080/"),
        ({"enabled": True, "host": "mypi.local"}, "http://mypi.local:8080/"),
        (
            {"enabled": True, "host": "0.0.0.0", "token": "secret-Vq7Lm2xR9kTz"},
            "http://{host}:8080/",
        ),
    ],
)
def test_web_view_url(web, expected):
    import socket

    want = expected.format(host=socket.gethostname()) if expected else None
    url = web_view_url(WebConfig.model_validate(web))
    assert url == want
    assert url is None or "secret" not in url  # the token never goes into a retained message


def test_a_lost_camera_shows_in_the_camera_entity_and_stats_go_on(tmp_path, broker, astronaut_bgr):
    from tests.mjpeg_server import MjpegCamera

    config = tmp_path / "device.yaml"
    config.write_text(
        f"mqtt:\n  enabled: true\n  host: 127.0.0.1\n  port: {broker.port}\n"
        "  device_id: lost\n  stats_interval_s: 1\nstats:\n  interval_s: 0\n"
    )
    prefix = "emotion-edge/lost"
    sub = Subscriber(broker.port, [f"{prefix}/#"])
    with MjpegCamera(astronaut_bgr) as camera:
        proc = start_program(
            "run", "--config", str(config), "--source", camera.url, "--output", "-"
        )
        try:
            assert wait_until(lambda: b"streaming" in sub.payloads(f"{prefix}/camera"), 60)
            assert wait_until(lambda: sub.payloads(f"{prefix}/sensors"), 30)
            camera.hang.set()  # the stream stops, its connection stays open
            assert wait_until(lambda: sub.payloads(f"{prefix}/camera")[-1] != b"streaming", 15)
            lost_at = len(sub.payloads(f"{prefix}/stats"))
            assert wait_until(lambda: len(sub.payloads(f"{prefix}/stats")) >= lost_at + 2, 10)
            last = json.loads(sub.payloads(f"{prefix}/stats")[-1])
            assert last["source_state"] != "streaming" or last["processed_fps"] < 1
        finally:
            stderr = stop_program(proc)
    sub.close()
    assert proc.returncode == 0, stderr
    states = [p.decode() for p in sub.payloads(f"{prefix}/camera")]
    assert states[0] in ("starting", "streaming") and {"stalled", "reconnecting"} & set(states)
