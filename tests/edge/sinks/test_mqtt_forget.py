"""Removal: what a device put on the broker is taken back by `mqtt-forget`, by
`setup.sh --uninstall-service`, and by a later run whose device id or discovery changed."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

from edge.config.mqtt import MqttConfig
from edge.pipeline.stats import PipelineStats
from edge.sinks.mqtt.record import Announcement, load_record, record_path
from edge.sinks.mqtt.sink import MqttSink
from tests.conftest import ROOT, run_cli, wait_until
from tests.edge.sinks.test_mqtt import LABELS, result
from tests.mqtt_broker import Broker, retained_now

pytestmark = pytest.mark.timeout(240)


@pytest.fixture()
def broker(tmp_path: Path):
    broker = Broker(tmp_path).start()
    yield broker
    broker.stop()


def run_device(port: int, config_file: Path | None = None, **settings) -> dict[str, bytes]:
    """A device connects, publishes a result and stops; what it left retained.

    `config_file` is the config it was run with: its announcement is recorded under it."""
    cfg = MqttConfig(host="127.0.0.1", port=port, **{"device_id": "cam", **settings})
    sink = MqttSink(cfg, LABELS, "m", PipelineStats(), None, config_file=config_file)
    try:
        assert wait_until(lambda: sink.connected, 10)
        sink.emit(result(0, "happy"))
        state = f"{cfg.prefix}/state"
        assert wait_until(lambda: retained_now(port, state).get(state) == b"happy", 10)
    finally:
        sink.close()
    return retained_now(port)


def owned(device: str, discovery: bool = True) -> set[str]:
    topics = {f"emotion-edge/{device}/{level}" for level in ("availability", "camera", "state")}
    return topics | ({f"homeassistant/device/{device}/config"} if discovery else set())


def write_config(path: Path, port: int, extra: str = "") -> Path:
    path.write_text(
        f"mqtt:\n  enabled: true\n  host: 127.0.0.1\n  port: {port}\n  device_id: cam\n{extra}"
    )
    return path


def test_mqtt_forget_clears_every_retained_topic_of_the_device(tmp_path, broker, own_state_folder):
    config = write_config(tmp_path / "c.yaml", broker.port).resolve()
    assert set(run_device(broker.port, config)) == owned("cam")
    assert load_record(record_path(owner=config)) == Announcement(
        f"127.0.0.1:{broker.port}", "cam", "emotion-edge/cam", "homeassistant/device/cam/config"
    )
    proc = run_cli("mqtt-forget", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        f"mqtt-forget: cleared 5 retained topics of device cam on 127.0.0.1:{broker.port} "
        "and removed it from Home Assistant"
    )
    assert retained_now(broker.port) == {}
    assert not record_path(owner=config).exists()  # nothing is announced any more


@pytest.mark.parametrize(
    ("first", "then", "cleared", "kept"),
    [
        (  # the device got another id: the old device goes, with its topics
            {"device_id": "old"},
            {"device_id": "new"},
            owned("old"),
            owned("new"),
        ),
        (  # discovery turned off: the device leaves Home Assistant, its topics stay
            {"device_id": "cam"},
            {"device_id": "cam", "discovery": False},
            {"homeassistant/device/cam/config"},
            owned("cam", discovery=False),
        ),
        (  # another discovery prefix: announced there, removed from the old one
            {"device_id": "cam"},
            {"device_id": "cam", "discovery_prefix": "ha2"},
            {"homeassistant/device/cam/config"},
            owned("cam", discovery=False) | {"ha2/device/cam/config"},
        ),
    ],
    ids=["device-id-changed", "discovery-off", "discovery-prefix-changed"],
)
def test_a_later_run_takes_back_what_an_earlier_one_left(broker, first, then, cleared, kept):
    assert cleared <= set(run_device(broker.port, **first))
    held = run_device(broker.port, **then)
    assert not cleared & set(held), held
    assert kept <= set(held)
    recorded = load_record(record_path())
    assert recorded is not None and recorded.device_id == then["device_id"]


def test_an_earlier_run_on_another_broker_is_named_not_touched(tmp_path, broker, caplog):
    (tmp_path / "other").mkdir()
    other = Broker(tmp_path / "other").start()
    try:
        run_device(other.port, device_id="elsewhere")
        caplog.set_level(logging.INFO, logger="edge.sinks")
        held = run_device(broker.port)
        assert set(held) == owned("cam")
        assert "homeassistant/device/elsewhere/config" in retained_now(other.port)
    finally:
        other.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert f"device elsewhere was announced on 127.0.0.1:{other.port}" in warnings[0]
    assert "run: emotion-edge mqtt-forget" in warnings[0]


def test_mqtt_forget_with_the_broker_away_is_one_line_and_keeps_the_record(tmp_path, broker):
    config = write_config(tmp_path / "c.yaml", broker.port).resolve()
    run_device(broker.port, config)
    broker.stop()
    proc = run_cli("mqtt-forget", "--config", str(config))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(
        f"emotion-edge: mqtt-forget: cannot reach the broker 127.0.0.1:{broker.port}"
    )
    assert "nothing was cleared" in lines[0]
    assert load_record(record_path(owner=config)) is not None  # so a later try still knows


def test_mqtt_forget_with_mqtt_off_and_nothing_recorded_does_nothing(tmp_path, own_state_folder):
    config = tmp_path / "c.yaml"
    config.write_text("mqtt:\n  enabled: false\n")
    proc = run_cli("mqtt-forget", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("mqtt-forget: nothing to forget on localhost:1883")
    assert str(record_path(owner=config.resolve())) in proc.stdout
    assert str(own_state_folder) in proc.stdout


def staged_service(dest: Path, port: int) -> dict[str, str]:
    """A service installed below a staging root, its config pointing at the test broker."""
    env = {**os.environ, "DESTDIR": str(dest), "PREFIX": "/opt/emotion-edge"}
    setup = ["bash", str(ROOT / "setup.sh"), "--install-service"]
    proc = subprocess.run(setup, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    write_config(dest / "etc/emotion-edge/config.yaml", port)  # what the user would edit
    return env


def uninstall(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "setup.sh"), "--uninstall-service"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize("broker_up", [True, False], ids=["broker-up", "broker-away"])
def test_uninstall_takes_the_device_off_the_broker(tmp_path, monkeypatch, broker, broker_up):
    dest = tmp_path / "root"
    env = staged_service(dest, broker.port)
    # the service ran: its record is in its StateDirectory, its password file is empty
    monkeypatch.setenv("STATE_DIRECTORY", str(dest / "var/lib/emotion-edge"))
    service_config = (dest / "etc/emotion-edge/config.yaml").resolve()  # as uninstall names it
    assert set(run_device(broker.port, service_config)) == owned("cam")
    if not broker_up:
        broker.stop()
    proc = uninstall(env)
    assert proc.returncode == 0, proc.stderr
    assert not (dest / "opt/emotion-edge").exists()
    mqtt_lines = [line for line in proc.stdout.splitlines() if "mqtt" in line.lower()]
    assert len(mqtt_lines) == 1, proc.stdout
    if broker_up:
        assert "mqtt-forget: cleared 5 retained topics of device cam" in mqtt_lines[0]
        assert retained_now(broker.port) == {}
    else:
        assert "MQTT not cleared, uninstalling anyway" in mqtt_lines[0]
        assert "cannot reach the broker" in mqtt_lines[0]


def test_two_cameras_sharing_a_state_folder_never_take_back_each_other(tmp_path, broker):
    """Issue 25, case 1: camB's start cleared camA (one record per state folder). Records
    are per config file now: each run takes back only what its own config announced."""
    config_a, config_b = (tmp_path / "a.yaml").resolve(), (tmp_path / "b.yaml").resolve()
    run_device(broker.port, config_a, device_id="camA")
    held = run_device(broker.port, config_b, device_id="camB")
    assert owned("camA") | owned("camB") <= set(held)
    held = run_device(broker.port, config_a, device_id="camA")  # a restart of either
    assert owned("camA") | owned("camB") <= set(held)
    held = run_device(broker.port, config_a, device_id="camA2")  # its own rename still clears
    assert not owned("camA") & set(held), held
    assert owned("camA2") | owned("camB") <= set(held)
