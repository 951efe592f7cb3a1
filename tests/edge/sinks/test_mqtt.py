"""MQTT publishing against a real Mosquitto broker started by the tests on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import pytest

from edge.config import load_config
from edge.config.mqtt import MqttConfig
from edge.errors import ConfigError
from edge.pipeline.stats import PipelineStats
from edge.sinks.mqtt.client import why_closed_early
from edge.sinks.mqtt.policy import PublishPolicy, cpu_temperature_c
from edge.sinks.mqtt.sink import MqttSink
from edge.types import Decision, Detection, FaceResult, Result, Timings
from tests.conftest import RESULT_KEYS, start_program, stop_program, wait_until, write_video
from tests.mqtt_broker import Broker, Subscriber, make_test_ca

pytestmark = pytest.mark.timeout(180)  # every wait below has its own, shorter deadline

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
STATS_KEYS = {
    "time",
    "uptime_s",
    "capture_fps",
    "processed_fps",
    "frames_captured",
    "frames_processed",
    "frames_dropped",
    "inference_ms",
    "memory_rss_mb",
    "cpu_temperature_c",
    "source_state",
    "mqtt_dropped",
}


@pytest.fixture()
def broker(tmp_path: Path):
    broker = Broker(tmp_path).start()
    yield broker
    broker.stop()


@pytest.fixture()
def looping_clip(tmp_path: Path, astronaut_bgr) -> Path:
    return write_video(tmp_path / "loop.avi", [cv2.resize(astronaut_bgr, (640, 480))] * 15)


def result(
    index: int, label: str | None = "happy", confidence: float = 0.8, faces: int | None = None
) -> Result:
    """A result whose faces and reported emotion are `label` (None: no face classified);
    `faces` detected (default: one with a label, none without)."""
    scores = {lab: confidence if lab == label else (1 - confidence) / 6 for lab in LABELS}
    count = (1 if label else 0) if faces is None else faces
    detections = tuple(Detection((10 + 60 * i, 10, 50, 50), 0.9) for i in range(count))
    classified = (
        tuple(FaceResult(d, label, confidence, scores) for d in detections) if label else ()
    )
    return Result(
        frame_index=index,
        captured_at_s=time.monotonic(),
        wall_time_s=time.time(),
        status="ok" if classified else ("multiple_faces" if count else "no_face"),
        detections=detections,
        faces=classified,
        timings=Timings(1.0, 0.1, 0.5, 2.0),
        latency_ms=3.0,
        decision=Decision(label, confidence if label else None),
        smoothed_scores=scores if label else {},
    )


def device_config(tmp_path: Path, port: int, extra: str = "") -> Path:
    config = tmp_path / "device.yaml"
    config.write_text(
        "mqtt:\n  enabled: true\n  host: 127.0.0.1\n"
        f"  port: {port}\n  device_id: testcam\n  publish: every\n  stats_interval_s: 1\n"
        f"  reconnect_max_s: 2\n  keepalive_s: 5\n{extra}"
        "stats:\n  interval_s: 0\n"
    )
    return config


def start_device(config: Path, clip: Path, out: Path) -> subprocess.Popen[str]:
    return start_program(
        "run",
        "--config",
        str(config),
        "--source",
        str(clip),
        "--loop",
        "true",
        "--output",
        str(out),
    )


def stop_device(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> str:
    return stop_program(proc, sig)


def test_device_publishes_online_results_stats_then_offline(tmp_path, broker, looping_clip):
    sub = Subscriber(broker.port, ["emotion-edge/testcam/#", "homeassistant/#"])
    proc = start_device(device_config(tmp_path, broker.port), looping_clip, tmp_path / "r.jsonl")
    try:
        prefix = "emotion-edge/testcam"
        assert wait_until(lambda: sub.payloads(f"{prefix}/stats"), 60), proc.stderr
        assert sub.payloads(f"{prefix}/availability")[0] == b"online"
        results = [json.loads(p) for p in sub.payloads(f"{prefix}/emotion")]
        assert results and set(results[0]) == RESULT_KEYS
        assert results[-1]["status"] == "ok" and results[-1]["emotion"] == "happy"
        assert b"happy" in sub.payloads(f"{prefix}/state")
        stats = json.loads(sub.payloads(f"{prefix}/stats")[-1])
        assert set(stats) == STATS_KEYS and stats["frames_processed"] > 0
        assert sub.payloads("homeassistant/device/testcam/config")
    finally:
        stderr = stop_device(proc)
    assert proc.returncode == 0, stderr
    assert wait_until(lambda: sub.payloads(f"{prefix}/availability")[-1] == b"offline", 5)
    sub.close()
    later = Subscriber(broker.port, [f"{prefix}/availability", f"{prefix}/state"])
    assert wait_until(lambda: later.payloads(f"{prefix}/state"), 5)  # retained
    assert later.payloads(f"{prefix}/availability") == [b"offline"]
    later.close()


def test_killed_device_goes_offline_by_last_will(tmp_path, broker, looping_clip):
    sub = Subscriber(broker.port, ["emotion-edge/testcam/availability"])
    proc = start_device(device_config(tmp_path, broker.port), looping_clip, tmp_path / "r.jsonl")
    try:
        assert wait_until(lambda: sub.payloads("emotion-edge/testcam/availability"), 60)
    finally:
        stop_device(proc, signal.SIGKILL)
    assert wait_until(
        lambda: sub.payloads("emotion-edge/testcam/availability")[-1] == b"offline", 15
    )
    sub.close()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_broker_outage_of_30_s(tmp_path, broker, looping_clip):
    out = tmp_path / "r.jsonl"
    proc = start_device(device_config(tmp_path, broker.port), looping_clip, out)
    prefix = "emotion-edge/testcam"
    try:
        sub = Subscriber(broker.port, [f"{prefix}/#"])
        assert wait_until(lambda: sub.payloads(f"{prefix}/stats"), 60)
        sub.close()
        rss_before = _rss_mb(proc.pid)
        broker.stop()
        processed_at_outage = _lines(out)
        time.sleep(30)  # the behaviour under test: the broker stays away for 30 s
        processed_after_outage = _lines(out)
        rss_during = _rss_mb(proc.pid)
        broker.start()  # same port; persistence off, so retained messages are gone
        fresh = Subscriber(broker.port, [f"{prefix}/#", "homeassistant/#"])
        assert wait_until(lambda: fresh.payloads(f"{prefix}/emotion"), 20), "no resume"
        assert wait_until(lambda: fresh.payloads(f"{prefix}/availability"), 5)
        assert fresh.payloads(f"{prefix}/availability")[-1] == b"online"
        assert fresh.payloads(f"{prefix}/state")  # re-sent by the device, not kept by broker
        assert fresh.payloads("homeassistant/device/testcam/config")
        fresh.close()
    finally:
        stderr = stop_device(proc)
    assert processed_after_outage > processed_at_outage + 100  # ~15 fps kept going
    assert rss_during - rss_before < 30, (rss_before, rss_during)
    assert "MQTT: lost the broker" in stderr
    assert stderr.count("MQTT: lost the broker") == 1  # one line per change, not per retry
    # what the outage cost: results beyond the backlog (50 by default) were not delivered
    closed = re.findall(r"MQTT: closed \((\d+) published, (\d+) not delivered", stderr)
    assert len(closed) == 1, stderr
    published, not_delivered = map(int, closed[0])
    during_outage = processed_after_outage - processed_at_outage
    assert published > 0
    assert not_delivered >= during_outage - 50 - 15, (not_delivered, during_outage)  # 1 s slack


def sink_for(cfg: MqttConfig, password: str | None = None) -> MqttSink:
    return MqttSink(cfg, LABELS, "test-model", PipelineStats(), password)


def count_connection_attempts(sink: MqttSink) -> Callable[[], int]:
    """How many connections paho has tried from now on (its loop calls reconnect() for each).

    Attempt n starts only once attempt n - 1 has failed and its callbacks have run, so
    waiting for 3 means the first 2 have been through the sink's failure handling.
    """
    client = sink.link.client
    original = client.reconnect
    attempts = [0]

    def counted() -> object:
        attempts[0] += 1
        return original()

    client.reconnect = counted
    return lambda: attempts[0]


def test_outage_keeps_the_newest_results_and_sends_them_on_reconnect(tmp_path, caplog):
    broker = Broker(tmp_path, persistent=True).start()
    prefix = "emotion-edge/gap"
    sub = Subscriber(broker.port, [f"{prefix}/emotion"], session="outage-watcher")
    cfg = MqttConfig(
        host="127.0.0.1",
        port=broker.port,
        device_id="gap",
        publish="every",
        buffer_messages=20,
        reconnect_max_s=1,
        discovery=False,
    )
    sink = sink_for(cfg)
    try:
        assert wait_until(lambda: sink.connected, 10)
        sink.emit(result(0))
        assert wait_until(lambda: sub.payloads(f"{prefix}/emotion"), 10)
        broker.stop()
        assert wait_until(lambda: not sink.connected, 10)
        longest = 0
        for i in range(1, 201):  # the pipeline goes on while the broker is away
            sink.emit(result(i))
            longest = max(longest, len(sink.link._backlog))
        assert longest == cfg.buffer_messages
        assert sink.dropped == 200 - cfg.buffer_messages
        broker.start()  # same port; the watcher's session survived the restart
        assert wait_until(lambda: sink.connected, 15)

        def frames() -> list[int]:
            return [json.loads(p)["frame"] for p in sub.payloads(f"{prefix}/emotion")]

        assert wait_until(lambda: frames()[-1:] == [200], 15), frames()
        assert frames() == [0, *range(181, 201)]  # the newest 20, in order, once
    finally:
        sink.close()
        sub.close()
        broker.stop()
    assert sum("lost the broker" in r.getMessage() for r in caplog.records) == 1


@pytest.fixture()
def stalled_broker():
    """Accepts one client, says CONNACK, then never reads again: a hung broker or link."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    held: list[socket.socket] = []

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        held.append(conn)
        conn.recv(4096)  # CONNECT
        conn.sendall(bytes([0x20, 2, 0, 0]))  # CONNACK: accepted

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(10)
    for conn in held:
        conn.close()


def test_a_broker_that_stops_reading_costs_a_bounded_queue(stalled_broker, caplog):
    cfg = MqttConfig(
        host="127.0.0.1",
        port=stalled_broker,
        device_id="stall",
        publish="every",
        buffer_messages=50,
        keepalive_s=300,
        discovery=False,
    )
    sink = sink_for(cfg)
    try:
        assert wait_until(lambda: sink.connected, 10)
        queued = 0  # paho's QoS 0 queue, which its max_queued_messages does not bound
        for i in range(20000):
            sink.emit(result(i))
            if i % 100 == 0:
                queued = max(queued, len(sink.link.client._out_packet))
            if sink.dropped > 1000 and len(sink.link.client._out_packet) >= cfg.buffer_messages:
                break  # the kernel's socket buffers are full and paho holds the rest
        assert sink.connected
        assert sink.dropped > 1000
        assert len(sink.link._unsent) <= cfg.buffer_messages
        assert queued <= cfg.buffer_messages + 3  # + retained availability, camera, state
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "dropped and counted" in warnings[0], warnings
    finally:
        closing = threading.Thread(target=sink.close, daemon=True)
        closing.start()
        closing.join(20)
    assert not closing.is_alive(), "close() hung on a broker that does not read"


def test_wrong_password_is_one_error_and_never_connected(tmp_path, caplog):
    broker = Broker(tmp_path, users={"cam": "right"}).start()
    try:
        caplog.set_level(logging.INFO, logger="edge.sinks")
        cfg = MqttConfig(
            host="127.0.0.1",
            port=broker.port,
            username="cam",
            device_id="pw",
            reconnect_max_s=1,
            publish="every",
        )
        sink = sink_for(cfg, "wrong")
        attempts = count_connection_attempts(sink)
        assert wait_until(lambda: any(r.levelno == logging.ERROR for r in caplog.records), 10)
        for i in range(200):  # the pipeline keeps going: results are kept or counted
            sink.emit(result(i))
        assert wait_until(lambda: attempts() >= 3, 20), attempts()  # a few reconnect attempts
        assert not sink.connected
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, errors
        assert "refused the connection" in errors[0] and "check mqtt.username" in errors[0]
        assert sink.dropped >= 200 - cfg.buffer_messages
        sink.close()

        good = sink_for(cfg.model_copy(update={"device_id": "pw2"}), "right")
        assert wait_until(lambda: good.connected, 10)
        good.close()
    finally:
        broker.stop()


def test_wrong_ca_is_one_error_and_right_ca_connects(tmp_path, caplog):
    server = make_test_ca(tmp_path, "server")
    other = make_test_ca(tmp_path, "other")
    broker = Broker(tmp_path, tls=server).start()
    try:
        caplog.set_level(logging.INFO, logger="edge.sinks")
        tls = {"enabled": True, "ca_file": str(other["ca"])}
        cfg = MqttConfig.model_validate(
            {
                "host": "127.0.0.1",
                "port": broker.port,
                "tls": tls,
                "device_id": "tls1",
                "reconnect_max_s": 1,
            }
        )
        sink = sink_for(cfg)
        attempts = count_connection_attempts(sink)
        assert wait_until(lambda: any(r.levelno == logging.ERROR for r in caplog.records), 10)
        sink.emit(result(0))
        assert wait_until(lambda: attempts() >= 3, 20), attempts()  # a few reconnect attempts
        assert not sink.connected
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, errors
        assert "TLS certificate not trusted" in errors[0] and "mqtt.tls.ca_file" in errors[0]
        sink.close()

        good_cfg = cfg.model_copy(
            update={
                "tls": cfg.tls.model_copy(update={"ca_file": str(server["ca"])}),
                "device_id": "tls2",
            }
        )
        good = sink_for(good_cfg)
        assert wait_until(lambda: good.connected, 10)
        good.close()
    finally:
        broker.stop()


@pytest.mark.parametrize(
    ("cert_names", "tls", "error", "fix"),
    [
        (  # a plain client on a TLS port: the broker hangs up without a CONNACK
            "IP:127.0.0.1",
            {"enabled": False},
            "did not answer our connection (the port speaks TLS: set mqtt.tls.enabled: true)",
            {"enabled": True},
        ),
        (  # the right CA, but the certificate names another host
            "DNS:broker.example",
            {"enabled": True},
            "TLS certificate is not for 127.0.0.1 (IP address mismatch",
            {"enabled": True, "insecure": True},
        ),
    ],
    ids=["plain-client-on-tls-port", "certificate-for-another-name"],
)
def test_tls_mistakes_are_one_error_naming_the_setting(
    tmp_path, caplog, cert_names, tls, error, fix
):
    server = make_test_ca(tmp_path, "server", cert_names)
    broker = Broker(tmp_path, tls=server).start()
    caplog.set_level(logging.INFO, logger="edge.sinks")
    ca = {"ca_file": str(server["ca"])}
    base = {"host": "127.0.0.1", "port": broker.port, "reconnect_max_s": 1}
    try:
        sink = sink_for(
            MqttConfig.model_validate({**base, "device_id": "bad", "tls": {**tls, **ca}})
        )
        attempts = count_connection_attempts(sink)
        assert wait_until(lambda: any(r.levelno == logging.ERROR for r in caplog.records), 10)
        sink.emit(result(0))
        # a few reconnect attempts, which must not log again
        assert wait_until(lambda: attempts() >= 3, 20), attempts()
        assert not sink.connected
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and error in errors[0], errors
        sink.close()
        good = sink_for(
            MqttConfig.model_validate({**base, "device_id": "ok", "tls": {**fix, **ca}})
        )
        assert wait_until(lambda: good.connected, 10)
        good.close()
    finally:
        broker.stop()


def test_discovery_is_sent_again_when_home_assistant_restarts(broker):
    sub = Subscriber(broker.port, ["homeassistant/device/+/config"])
    sink = sink_for(MqttConfig(host="127.0.0.1", port=broker.port, device_id="ha"))
    try:
        assert wait_until(lambda: len(sub.payloads("homeassistant/device/ha/config")) == 1, 10)
        sub.client.publish("homeassistant/status", "online", qos=1)
        assert wait_until(lambda: len(sub.payloads("homeassistant/device/ha/config")) == 2, 10)
    finally:
        sink.close()
        sub.close()


def test_a_flood_of_online_messages_is_answered_once(broker, caplog):
    caplog.set_level(logging.INFO, logger="edge.sinks")
    sub = Subscriber(broker.port, ["homeassistant/device/+/config"])
    sink = sink_for(MqttConfig(host="127.0.0.1", port=broker.port, device_id="flood"))
    topic = "homeassistant/device/flood/config"
    try:
        assert wait_until(lambda: len(sub.payloads(topic)) == 1, 10)
        for _ in range(200):
            sub.client.publish("homeassistant/status", "online", qos=1)
        assert wait_until(lambda: sink.reannounce_skipped == 199, 10), sink.reannounce_skipped
        assert len(sub.payloads(topic)) == 2  # the first connect, and one re-announcement
    finally:
        sink.close()
        sub.close()
    announced = [r for r in caplog.records if "came online" in r.getMessage()]
    assert len(announced) == 1


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("mqtt:\n  port: 70000\n", "mqtt.port: Input should be less than or equal to 65535"),
        ("mqtt:\n  qos: 3\n", "mqtt.qos: Input should be 0, 1 or 2"),
        ("mqtt:\n  broker: x\n", "mqtt.broker: unknown key (allowed here:"),
        ("mqtt:\n  device_id: 'my cam'\n", "mqtt.device_id: String should match pattern"),
        ("mqtt:\n  password: hunter2\n", "needs allow_plain_password: true"),
        ("mqtt:\n  password_env: A\n  password_file: /b\n", "give only one of password_env"),
    ],
)
def test_bad_mqtt_config(tmp_path: Path, yaml_text: str, message: str):
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config(path)


def test_password_sources(tmp_path: Path, monkeypatch):
    assert MqttConfig(password_env="MQTT_PW").resolve_password({"MQTT_PW": "s3"}) == "s3"
    with pytest.raises(ConfigError, match=r"mqtt\.password_env: environment variable MQTT_PW"):
        MqttConfig(password_env="MQTT_PW").resolve_password({})
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt_password").write_text("from-systemd\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cfg = MqttConfig(password_file="${CREDENTIALS_DIRECTORY}/mqtt_password")
    assert cfg.resolve_password() == "from-systemd"
    (creds / "mqtt_password").write_text("")
    assert cfg.resolve_password() is None  # the empty file setup.sh installs: no password
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(ConfigError, match="names a variable that is not set"):
        cfg.resolve_password()
    secret = MqttConfig(password="hunter2", allow_plain_password=True)
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret.model_dump())


@pytest.mark.parametrize(
    ("mode", "times", "labels", "expected"),
    [
        ("every", [0, 0.1, 0.2], ["happy"] * 3, [True, True, True]),
        ("rate", [0, 0.1, 0.6, 0.7, 1.2], ["happy"] * 5, [True, False, True, False, True]),
        ("change", [0, 1, 2, 3], ["happy", "happy", "sad", "sad"], [True, False, True, False]),
    ],
)
def test_publish_policy(mode, times, labels, expected):
    policy = PublishPolicy(mode, max_rate_hz=2.0)
    got = [policy.should_publish("ok", label, t) for t, label in zip(times, labels, strict=True)]
    assert got == expected


def test_an_unknown_publish_mode_is_refused_not_read_as_change():
    with pytest.raises(ValueError, match=r"unknown publish mode 'sometimes' \(one of every"):
        PublishPolicy("sometimes", max_rate_hz=2.0)  # type: ignore[arg-type]


def test_cpu_temperature_reads_millidegrees(tmp_path: Path):
    zone = tmp_path / "temp"
    zone.write_text("48312\n")
    assert cpu_temperature_c(zone) == 48.3
    assert cpu_temperature_c(tmp_path / "absent") is None


def test_mqtt_host_flag_turns_mqtt_on(broker, looping_clip, tmp_path):
    sub = Subscriber(broker.port, ["emotion-edge/+/availability"])
    proc = start_program(
        "run",
        "--source",
        str(looping_clip),
        "--loop",
        "true",
        "--mqtt-host",
        "127.0.0.1",
        "--mqtt-port",
        str(broker.port),
    )
    try:
        assert wait_until(lambda: any(t.endswith("/availability") for t, _, _ in sub.messages), 60)
    finally:
        stderr = stop_device(proc)
        sub.close()
    assert proc.returncode == 0, stderr


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_both_protocol_versions_publish(broker, protocol):
    sub = Subscriber(broker.port, [f"emotion-edge/v{protocol[0]}/#"])
    cfg = MqttConfig(
        host="127.0.0.1",
        port=broker.port,
        device_id=f"v{protocol[0]}",
        protocol=protocol,
        publish="every",
        discovery=False,
    )
    sink = sink_for(cfg)
    try:
        assert wait_until(lambda: sink.connected, 10)
        sink.emit(result(1))
        topic = f"emotion-edge/v{protocol[0]}/emotion"
        assert wait_until(lambda: sub.payloads(topic), 10)
        assert json.loads(sub.payloads(topic)[0])["emotion"] == "happy"
    finally:
        sink.close()
        sub.close()


@pytest.mark.parametrize(
    "answer",
    [b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", bytes(range(256)) * 4],
    ids=["http-server", "random-bytes"],
)
def test_a_port_that_is_no_broker_is_one_error_and_what_waited_is_counted(caplog, answer):
    # an HTTP server (or anything else) on the MQTT port: it answers, then hangs up
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    stop = threading.Event()

    def answer_http() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(1024)
                conn.sendall(answer)

    thread = threading.Thread(target=answer_http, daemon=True)
    thread.start()
    caplog.set_level(logging.INFO, logger="edge.sinks")
    cfg = MqttConfig(
        host="127.0.0.1", port=server.getsockname()[1], device_id="nobroker", publish="every"
    )
    sink = sink_for(cfg)
    try:
        assert wait_until(lambda: any(r.levelno >= logging.ERROR for r in caplog.records), 10)
        for index in range(5):
            sink.emit(result(index))
    finally:
        sink.close()
        stop.set()
        server.close()
        thread.join(5)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "what answers on this port is no MQTT broker" in errors[0], errors
    assert "TLS" not in errors[0]
    assert sink.dropped == 5 and sink.published == 0
    assert any("5 not delivered" in r.getMessage() for r in caplog.records)


def test_a_frozen_broker_is_called_frozen_not_a_tls_port(caplog):
    # it takes the connection and never says a word: paho gives up after the keepalive, and
    # the hint used to be "a TLS port?"
    server = socket.create_server(("127.0.0.1", 0))
    taken: list[socket.socket] = []
    stop = threading.Event()

    def take_and_keep_quiet() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                taken.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=take_and_keep_quiet, daemon=True)
    thread.start()
    caplog.set_level(logging.INFO, logger="edge.sinks")
    cfg = MqttConfig(
        host="127.0.0.1", port=server.getsockname()[1], device_id="frozen", keepalive_s=5
    )
    sink = sink_for(cfg)
    try:
        assert wait_until(lambda: any(r.levelno >= logging.ERROR for r in caplog.records), 30)
    finally:
        sink.close()
        stop.set()
        thread.join(5)
        server.close()
        for conn in taken:
            conn.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "accepts connections but sends nothing" in errors[0], errors
    assert "TLS" not in errors[0]


def test_a_plain_broker_that_hangs_up_is_not_taken_for_a_tls_port(broker):
    # what the probe behind the hint makes of a real Mosquitto's plain port
    hint = why_closed_early(MqttConfig(host="127.0.0.1", port=broker.port, device_id="p"))
    assert hint == "the broker's log says why"


def test_an_error_in_a_callback_does_not_end_mqtt(broker, caplog, monkeypatch):
    # a bug of ours inside paho's thread used to end that thread, and MQTT with it, silently
    import edge.sinks.mqtt.sink as mqtt_sink

    real_payload, calls = mqtt_sink.discovery_payload, []

    def payload_that_fails_once_connected(*args: object, **kwargs: object) -> dict:
        calls.append(1)
        if len(calls) == 2:  # the re-announcement, in paho's thread (on_message)
            raise RuntimeError("boom in discovery")
        return real_payload(*args, **kwargs)

    monkeypatch.setattr(mqtt_sink, "discovery_payload", payload_that_fails_once_connected)
    caplog.set_level(logging.INFO, logger="edge.sinks")
    sub = Subscriber(broker.port, ["homeassistant/device/cb/config"])
    sink = sink_for(MqttConfig(host="127.0.0.1", port=broker.port, device_id="cb"))
    try:
        assert wait_until(lambda: sub.payloads("homeassistant/device/cb/config"), 10)
        sub.client.publish("homeassistant/status", "online", qos=1)
        assert wait_until(lambda: sink.link.said.callback_errors == 1, 10)
        # paho's thread still reads: the next "online" reaches on_message (and is skipped)
        sub.client.publish("homeassistant/status", "online", qos=1)
        assert wait_until(lambda: sink.reannounce_skipped == 1, 10), "paho's thread is gone"
    finally:
        sink.close()
        sub.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "boom in discovery" in errors[0], errors
