"""The device as a real Home Assistant shows it: end to end, over a real Mosquitto.

One Home Assistant core (2025.4.4 from .ci/homeassistant.sh, tests/homeassistant.py) and one
broker serve the module; each test runs the real program (`python -m edge run`) on the demo
clip with its own device id, and reads what Home Assistant makes of it from /api/states.
The oracle is what a subscriber on the same broker received from the device (…/sensors,
…/stats, …/camera, …/availability), never labels written here: Home Assistant must show
those values, go unavailable with the device, follow its camera, and drop it on mqtt-forget.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import DEMO_SAMPLE
from edge.sinks.mqtt.policy import cpu_temperature_c
from tests.conftest import run_cli, start_program, stop_program, wait_until, write_video
from tests.homeassistant import HomeAssistant, find_install
from tests.mqtt_broker import Broker, Subscriber

pytestmark = pytest.mark.timeout(300)  # start-up and each wait below have their own deadline

UNAVAILABLE = "unavailable"
# Home Assistant's entity ids: <platform>.<device name>_<entity name>, slugified; the device
# is "Emotion Edge <device id>". The results need the camera streaming, the rest does not.
RESULTS = {
    "emotion": "sensor.emotion_edge_{}_emotion",
    "confidence": "sensor.emotion_edge_{}_confidence",
    "faces": "sensor.emotion_edge_{}_faces",
    "face_present": "binary_sensor.emotion_edge_{}_face_present",
}
DIAGNOSTICS = {
    "camera": "binary_sensor.emotion_edge_{}_camera",
    "fps": "sensor.emotion_edge_{}_processed_frame_rate",
    "inference": "sensor.emotion_edge_{}_inference_time",
}
EPISODE = "event.emotion_edge_{}_face_episode"  # fired by …/events, not a state to agree on
PAUSE_SWITCH = "switch.emotion_edge_{}_paused"
SNAPSHOT_IMAGE = "image.emotion_edge_{}_snapshot"
if cpu_temperature_c() is not None:  # announced only where the machine reports one
    DIAGNOSTICS["cpu_temperature"] = "sensor.emotion_edge_{}_cpu_temperature"
# Home Assistant's own complaints about what the device sent (templates that fail, values a
# sensor refuses, discovery it cannot read) come from these loggers
HA_LOGGERS = (
    "homeassistant.components.mqtt",
    "homeassistant.components.sensor",
    "homeassistant.components.binary_sensor",
    "homeassistant.helpers.template",
)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = Broker(tmp_path_factory.mktemp("broker")).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def home_assistant(broker: Broker) -> Iterator[HomeAssistant]:
    with HomeAssistant(find_install()) as hass:
        entry = hass.add_mqtt("127.0.0.1", broker.port)
        assert entry["state"] == "loaded", entry
        print(f"Home Assistant {hass.version} up (onboarded, RUNNING) in {hass.startup_s:.1f}s")
        yield hass


@pytest.fixture(autouse=True)
def own_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The program's record of what it announced stays in the test's folder (mqtt-forget
    reads it there too), and every run gets its own client id."""
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    monkeypatch.delenv("EMOTION_EDGE_MQTT_CLIENT_ID", raising=False)


@dataclass
class Device:
    """One run of the program, what it published, and what Home Assistant shows of it."""

    device_id: str
    config: Path
    hass: HomeAssistant
    sub: Subscriber
    proc: subprocess.Popen[str] | None = None
    log_from: int = 0  # Home Assistant's log before this device
    last: tuple[object, object] | None = None  # the newest (wanted, shown) that differed
    # states read while the camera entity said off but a result entity did not say
    # unavailable: the camera's loss must reach the results at once, not by expire_after
    stale_results: list[dict[str, object]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"Emotion Edge {self.device_id}"

    @property
    def entities(self) -> dict[str, str]:
        return {key: eid.format(self.device_id) for key, eid in (RESULTS | DIAGNOSTICS).items()}

    def topic(self, level: str) -> str:
        return f"emotion-edge/{self.device_id}/{level}"

    def start(self) -> Device:
        self.log_from = self.hass.log_size()
        self.proc = start_program("run", "--config", str(self.config))
        return self

    def messages(self, level: str) -> list[str]:
        return [payload.decode() for payload in self.sub.payloads(self.topic(level))]

    def published(self) -> dict[str, str] | None:
        """The newest message on each topic Home Assistant reads; None before all came."""
        newest = {}
        for level in ("availability", "camera", "sensors", "stats"):
            messages = self.messages(level)
            if not messages:
                return None
            newest[level] = messages[-1]
        return newest

    def expected(self, published: dict[str, str]) -> dict[str, object]:
        """What Home Assistant should show after these messages, written as it writes them."""
        if published["availability"] != "online":
            return {key: UNAVAILABLE for key in self.entities} | {"scores": {}}
        sensors, stats = json.loads(published["sensors"]), json.loads(published["stats"])
        streaming = published["camera"] == "streaming"
        shown: dict[str, object] = {
            "camera": "on" if streaming else "off",
            "fps": str(stats["processed_fps"]),
            "inference": str(stats["inference_ms"]),
        }
        if "cpu_temperature" in self.entities:
            shown["cpu_temperature"] = str(stats["cpu_temperature_c"])
        if not streaming:  # results say nothing while the camera is lost
            return shown | {key: UNAVAILABLE for key in RESULTS} | {"scores": {}}
        confidence = sensors["confidence"]
        return shown | {
            "emotion": sensors["emotion"],
            "confidence": "unknown" if confidence is None else str(confidence),
            "faces": str(sensors["faces"]),
            "face_present": "on" if sensors["face_present"] else "off",
            "scores": sensors["scores"],  # the emotion's attributes
        }

    def shown(self) -> dict[str, object]:
        """Each existing entity's state, and the scores among the emotion's attributes
        (Home Assistant leaves them out while it is unavailable)."""
        states = self.hass.states()  # one snapshot of every entity
        shown: dict[str, object] = {
            key: states[eid]["state"] for key, eid in self.entities.items() if eid in states
        }
        emotion = states.get(self.entities["emotion"])
        if emotion is not None:
            attributes = emotion["attributes"]
            labels = set(attributes["options"]) - {"none", "several faces", "uncertain"}
            shown["scores"] = {k: v for k, v in attributes.items() if k in labels}
        if shown.get("camera") == "off" and any(shown[k] != UNAVAILABLE for k in RESULTS):
            self.stale_results.append(shown)
        return shown

    def agreement(self) -> dict[str, object] | None:
        """What Home Assistant shows, if it is what the device published last. The messages
        must not change while it is read, so a slow reader is not taken for a wrong one."""
        before = self.published()
        shown = self.shown()
        if before is None or before != self.published():
            return None
        want = self.expected(before)
        if shown != want:
            self.last = (want, shown)
            return None
        return shown

    def wait_agreed(self, enough: Callable[[dict[str, object]], bool], timeout_s: float) -> None:
        """Until Home Assistant agrees with the device on a view that is `enough`."""
        self.last = None
        found = wait_until(
            lambda: (shown := self.agreement()) is not None and enough(shown), timeout_s, 0.1
        )
        assert found, self.report("no agreement in time")
        self.last = None  # what differed on the way is no news

    def report(self, what: str) -> str:
        want, shown = self.last or ("(nothing more)", self.shown())
        complaints = "\n".join(self.hass.complaints(self.log_from, HA_LOGGERS)) or "(none)"
        return (
            f"{what}\nHome Assistant shows {shown}\nwanted, from the device's last messages: "
            f"{want}\nHome Assistant's complaints: {complaints}"
        )

    def stop(self) -> str:
        stderr = ""
        if self.proc is not None and self.proc.poll() is None:
            stderr = stop_program(self.proc)
        self.sub.close()
        return stderr


def demo_frames(count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(DEMO_SAMPLE))
    try:
        frames = [capture.read()[1] for _ in range(count)]
    finally:
        capture.release()
    assert all(frame is not None for frame in frames), f"{DEMO_SAMPLE}: fewer than {count} frames"
    return frames


def device_on(
    hass: HomeAssistant,
    broker: Broker,
    tmp_path: Path,
    device_id: str,
    source: str,
    mqtt_extra: str = "",
) -> Device:
    """A device that runs on `source` (the YAML lines of its section) with short intervals;
    its subscriber listens before it starts."""
    config = tmp_path / "device.yaml"
    config.write_text(
        f"source:\n{source}"
        "mqtt:\n  enabled: true\n  host: 127.0.0.1\n"
        f"  port: {broker.port}\n  device_id: {device_id}\n"
        "  sensor_interval_s: 1\n  stats_interval_s: 1\n"
        f"{mqtt_extra}"
        # the demo has 2 s without a face: forgetting the emotion sooner than that lets
        # face present go off too
        "smoothing:\n  reset_after_s: 0.5\n"
        "output:\n  jsonl: null\ndisplay:\n  backend: none\nstats:\n  interval_s: 0\n"
    )
    sub = Subscriber(broker.port, [f"emotion-edge/{device_id}/#"])
    return Device(device_id, config, hass, sub)


def test_home_assistant_shows_what_the_device_published_until_it_dies_and_is_forgotten(
    home_assistant, broker, tmp_path
):
    device = device_on(
        home_assistant, broker, tmp_path, "e2e", f"  uri: {DEMO_SAMPLE}\n  loop: true\n"
    ).start()
    try:
        # the demo shows one face, none, two, one: Home Assistant must agree with the
        # device on a face with an emotion, on no face at all, and on "several faces" (the
        # default policy classifies none of them)
        seen: set[tuple[object, object]] = set()

        def with_and_without_a_face(shown: dict[str, object]) -> bool:
            if shown["camera"] == "on":
                emotion = shown["emotion"]
                kind = emotion if emotion in ("none", "several faces") else "an emotion"
                seen.add((shown["face_present"], kind))
            wanted = {("on", "an emotion"), ("off", "none"), ("on", "several faces")}
            return wanted <= seen

        device.wait_agreed(with_and_without_a_face, 60)
        registered = home_assistant.device(device.name)
        assert registered is not None, f"no device {device.name!r} in Home Assistant"
        episode = EPISODE.format(device.device_id)
        switch = PAUSE_SWITCH.format(device.device_id)
        assert set(registered["entities"]) == {*device.entities.values(), episode, switch}

        def fired_on_a_change() -> bool:  # a change the device sent, as Home Assistant has it
            state = home_assistant.states().get(episode)
            sent = [json.loads(m) for m in device.messages("events")]
            if state is None or state["attributes"].get("event_type") != "change":
                return False
            shown = (state["attributes"].get("episode"), state["attributes"].get("emotion"))
            return shown in {(e["episode"], e["emotion"]) for e in sent}

        assert wait_until(fired_on_a_change, 60, 0.2), (
            home_assistant.states().get(episode),
            device.messages("events")[-5:],
        )

        assert device.proc is not None
        device.proc.send_signal(signal.SIGKILL)  # no goodbye: only the last will tells
        device.proc.wait(10)
        dead = {key: UNAVAILABLE for key in device.entities}

        def everything_unavailable() -> bool:
            shown = device.shown()
            shown.pop("scores", None)
            return shown == dead

        assert wait_until(everything_unavailable, 30, 0.1), device.report(
            f"after SIGKILL (availability messages: {device.messages('availability')})"
        )
        # the broker's last will: Home Assistant and our subscriber get it at the same time,
        # but a loaded machine may deliver it to one of them a moment later
        last_will = lambda: device.messages("availability")[-1:] == ["offline"]  # noqa: E731
        assert wait_until(last_will, 10, 0.1), device.messages("availability")

        forget = run_cli("mqtt-forget", "--config", str(device.config), timeout=60)
        assert forget.returncode == 0, forget.stderr
        assert wait_until(lambda: device.shown() == {}, 30, 0.1), device.report("after mqtt-forget")
        assert wait_until(lambda: home_assistant.device(device.name) is None, 10), (
            f"{device.name!r} is still in Home Assistant's device registry after mqtt-forget"
        )
    finally:
        stderr = device.stop()
    assert home_assistant.complaints(device.log_from, HA_LOGGERS) == [], stderr
    stale = device.stale_results
    assert not stale, f"{len(stale)} reads showed the camera off and results still on: {stale[0]}"


def test_home_assistant_follows_a_camera_that_goes_away_and_comes_back(
    home_assistant, broker, tmp_path
):
    # a video file played as a camera: at its end it is reopened with backoff, so while the
    # file is renamed away the camera stays lost. The demo's first 2 s (one face): the loss
    # shows at the clip's end, which the whole demo would take 7 s to reach.
    camera = write_video(tmp_path / "camera.avi", demo_frames(30))
    unplugged = tmp_path / "unplugged.avi"
    device = device_on(
        home_assistant,
        broker,
        tmp_path,
        "e2e_camera",
        f"  uri: {camera}\n  treat_as_camera: true\n"
        "  reconnect_initial_s: 0.2\n  reconnect_max_s: 0.5\n",
    ).start()
    try:
        device.wait_agreed(lambda shown: shown["camera"] == "on", 60)
        camera.rename(unplugged)
        lost_from = len(device.messages("stats"))

        def lost_for_two_stats_messages(shown: dict[str, object]) -> bool:
            states = [json.loads(m)["source_state"] for m in device.messages("stats")[lost_from:]]
            return shown["camera"] == "off" and states.count("reconnecting") >= 2

        device.wait_agreed(lost_for_two_stats_messages, 30)
        shown = device.shown()
        assert {shown[key] for key in RESULTS} == {UNAVAILABLE}, shown
        assert UNAVAILABLE not in {shown[key] for key in DIAGNOSTICS}, shown  # still online

        unplugged.rename(camera)
        device.wait_agreed(lambda shown: shown["camera"] == "on", 30)
        shown = device.shown()
        assert UNAVAILABLE not in {shown[key] for key in RESULTS}, shown
    finally:
        if unplugged.exists():
            unplugged.rename(camera)
        stderr = device.stop()
    assert device.proc is not None and device.proc.returncode == 0, stderr
    assert home_assistant.complaints(device.log_from, HA_LOGGERS) == [], stderr
    stale = device.stale_results
    assert not stale, f"{len(stale)} reads showed the camera off and results still on: {stale[0]}"


def test_the_pause_switch_pauses_and_resumes_the_device(home_assistant, broker, tmp_path):
    device = device_on(
        home_assistant, broker, tmp_path, "pause", f"  uri: {DEMO_SAMPLE}\n  loop: true\n"
    ).start()
    switch = PAUSE_SWITCH.format(device.device_id)
    switch_is = lambda state: (home_assistant.state(switch) or {}).get("state") == state  # noqa: E731
    try:
        device.wait_agreed(lambda shown: shown["camera"] == "on", 60)
        assert wait_until(lambda: switch_is("off"), 30), home_assistant.state(switch)
        home_assistant.post("/api/services/switch/turn_on", {"entity_id": switch})
        assert wait_until(lambda: device.messages("camera")[-1:] == ["paused"], 30)
        assert wait_until(lambda: switch_is("on"), 30), home_assistant.state(switch)
        # the camera entity off, the results unavailable: nothing is analysed while paused
        device.wait_agreed(lambda shown: shown["camera"] == "off", 30)
        assert device.shown()["emotion"] == UNAVAILABLE
        sensors_when_paused = len(device.messages("sensors"))
        home_assistant.post("/api/services/switch/turn_off", {"entity_id": switch})
        device.wait_agreed(lambda shown: shown["camera"] == "on", 60)
        assert wait_until(lambda: switch_is("off"), 30), home_assistant.state(switch)
        assert wait_until(lambda: len(device.messages("sensors")) > sensors_when_paused, 30)
    finally:
        stderr = device.stop()
    assert home_assistant.complaints(device.log_from, HA_LOGGERS) == [], stderr
    assert "paused: nothing is analysed or shown" in stderr and "resumed" in stderr


def test_the_image_entity_shows_the_picture_the_device_sent(home_assistant, broker, tmp_path):
    device = device_on(
        home_assistant,
        broker,
        tmp_path,
        "pic",
        f"  uri: {DEMO_SAMPLE}\n  loop: true\n",
        mqtt_extra="  snapshot: true\n  snapshot_interval_s: 5\n",
    ).start()
    entity = SNAPSHOT_IMAGE.format(device.device_id)
    try:
        device.wait_agreed(lambda shown: shown["camera"] == "on", 60)

        def shows_a_sent_picture() -> bool:
            shown = home_assistant.picture(entity)
            sent = device.sub.payloads(device.topic("snapshot"))
            return shown is not None and shown in sent

        assert wait_until(shows_a_sent_picture, 60, 0.5), home_assistant.state(entity)
        picture = cv2.imdecode(
            np.frombuffer(home_assistant.picture(entity) or b"", np.uint8), cv2.IMREAD_COLOR
        )
        assert picture is not None and picture.shape[1] <= 640  # mqtt.snapshot_width
    finally:
        stderr = device.stop()
    assert home_assistant.complaints(device.log_from, HA_LOGGERS) == [], stderr
