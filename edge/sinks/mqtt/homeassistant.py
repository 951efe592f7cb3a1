"""Home Assistant MQTT device discovery: one retained message describes the whole device.

Home Assistant (2024.11 and later) reads `<prefix>/device/<id>/config` with a device
block, an origin block and a map of components; each component needs a platform and
a unique id. Every entity goes unavailable with the device's availability topic; the
ones that describe results also go unavailable while the camera is not streaming
(their own availability list, all of which must say online) and expire when results
stop coming (a wedged analysis). An empty retained message on the same topic removes
the device and its entities.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

from edge import __version__
from edge.config.view import WebConfig
from edge.sinks.mqtt.const import (
    AVAILABILITY,
    CAMERA,
    EVENTS,
    NO_FACE_STATE,
    OFF,
    OFFLINE,
    ON,
    ONLINE,
    PAUSED,
    PAUSED_SET,
    SENSORS,
    SEVERAL_FACES_STATE,
    SNAPSHOT,
    STATS,
    STREAMING,
)
from edge.types import EPISODE_KINDS, UNCERTAIN

EXPIRE_INTERVALS = 3  # result entities expire after this many sensor intervals without news


def discovery_topic(discovery_prefix: str, device_id: str) -> str:
    return f"{discovery_prefix}/device/{device_id}/config"


def web_view_url(web: WebConfig) -> str | None:
    """The web view's address as another machine reaches it; None when only this one can.

    The token is never part of it: the discovery message is retained and readable by every
    client of the broker.
    """
    if not web.enabled:
        return None
    host = web.host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if host == "localhost" or (address is not None and address.is_loopback):
        return None
    if address is not None and address.is_unspecified:  # 0.0.0.0 or ::: every interface
        host = socket.gethostname()
    elif address is not None and address.version == 6:
        host = f"[{host}]"
    return f"http://{host}:{web.port}/"


@dataclass(frozen=True)
class _Entities:
    """Builds one device's components: each a platform, a name, a unique id and a topic."""

    uid: str
    prefix: str

    def topic(self, level: str) -> str:
        return f"{self.prefix}/{level}"

    def entity(
        self, platform: str, key: str, name: str, level: str, **extra: Any
    ) -> dict[str, Any]:
        return {
            "platform": platform,
            "name": name,
            "unique_id": f"{self.uid}_{key}",
            "state_topic": self.topic(level),
            **extra,
        }

    def diagnostic(self, key: str, name: str, template: str, **extra: Any) -> dict[str, Any]:
        return self.entity(
            "sensor",
            key,
            name,
            STATS,
            value_template=template,
            state_class="measurement",
            entity_category="diagnostic",
            **extra,
        )


def _result_components(
    make: _Entities, labels: list[str], sensor_interval_s: float
) -> dict[str, Any]:
    """What a result says; true only while the camera streams: unavailable at once when it
    is lost, and after expire_after when results stop while it streams."""
    options: dict[str, Any] = {
        "availability": [
            {"topic": make.topic(AVAILABILITY)},
            {
                "topic": make.topic(CAMERA),
                "value_template": f"{{{{ '{ONLINE}' if value == '{STREAMING}' "
                f"else '{OFFLINE}' }}}}",
            },
        ],
        "availability_mode": "all",
        "expire_after": max(1, round(EXPIRE_INTERVALS * sensor_interval_s)),
    }
    emotion = make.entity(
        "sensor",
        "emotion",
        "Emotion",
        SENSORS,
        value_template="{{ value_json.emotion }}",
        device_class="enum",
        options=[*labels, UNCERTAIN, SEVERAL_FACES_STATE, NO_FACE_STATE],
        icon="mdi:emoticon-outline",
        json_attributes_topic=make.topic(SENSORS),
        json_attributes_template="{{ value_json.scores | tojson }}",
        **options,
    )
    confidence = make.entity(
        "sensor",
        "confidence",
        "Confidence",
        SENSORS,
        value_template="{{ value_json.confidence }}",  # null, with no face: unknown
        unit_of_measurement="%",
        state_class="measurement",
        **options,
    )
    faces = make.entity(
        "sensor",
        "faces",
        "Faces",
        SENSORS,
        value_template="{{ value_json.faces }}",
        state_class="measurement",
        icon="mdi:account-multiple",
        **options,
    )
    present = make.entity(
        "binary_sensor",
        "face_present",
        "Face present",
        SENSORS,
        value_template="{{ 'ON' if value_json.face_present else 'OFF' }}",
        device_class="occupancy",
        **options,
    )
    return {"emotion": emotion, "confidence": confidence, "faces": faces, "face_present": present}


def _snapshot_component(make: _Entities) -> dict[str, Any]:
    """An image entity: the annotated frame, sent on a change and every interval."""
    component = make.entity("image", "snapshot", "Snapshot", SNAPSHOT, content_type="image/jpeg")
    component["image_topic"] = component.pop("state_topic")
    return {"snapshot": component}


def _pause_component(make: _Entities) -> dict[str, Any]:
    """A switch: on, the device analyses and shows nothing (edge.sinks.mqtt.pause)."""
    return {
        "paused": make.entity(
            "switch",
            "paused",
            "Paused",
            PAUSED,
            command_topic=make.topic(PAUSED_SET),
            payload_on=ON,
            payload_off=OFF,
            icon="mdi:eye-off-outline",
        )
    }


def _diagnostic_components(make: _Entities, cpu_temperature: bool) -> dict[str, Any]:
    components = {
        "camera": make.entity(
            "binary_sensor",
            "camera",
            "Camera",
            CAMERA,
            value_template=f"{{{{ 'ON' if value == '{STREAMING}' else 'OFF' }}}}",
            device_class="connectivity",
            entity_category="diagnostic",
        ),
        "fps": make.diagnostic(
            "fps",
            "Processed frame rate",
            "{{ value_json.processed_fps }}",
            unit_of_measurement="fps",
        ),
        "inference": make.diagnostic(
            "inference",
            "Inference time",
            "{{ value_json.inference_ms }}",
            unit_of_measurement="ms",
            device_class="duration",
        ),
    }
    if cpu_temperature:  # only where the machine reports one
        components["cpu_temperature"] = make.diagnostic(
            "cpu_temperature",
            "CPU temperature",
            "{{ value_json.cpu_temperature_c }}",
            unit_of_measurement="°C",
            device_class="temperature",
        )
    return components


def discovery_payload(
    device_id: str,
    topic_prefix: str,
    labels: list[str],
    model_name: str,
    qos: int,
    *,
    sensor_interval_s: float,
    configuration_url: str | None = None,
    cpu_temperature: bool = False,
    pause_switch: bool = False,
    snapshot: bool = False,
) -> dict[str, Any]:
    make = _Entities(f"emotion_edge_{device_id}", topic_prefix)
    device: dict[str, Any] = {
        "identifiers": [make.uid],
        "name": f"Emotion Edge {device_id}",
        "manufacturer": "emotion-edge",
        "model": model_name,
        "sw_version": __version__,
    }
    if configuration_url:
        device["configuration_url"] = configuration_url
    return {
        "device": device,
        "origin": {"name": "emotion-edge", "sw_version": __version__},
        # a list, not availability_topic: Home Assistant copies shared options into each
        # component that lacks them, and a component cannot have both forms
        "availability": [{"topic": make.topic(AVAILABILITY)}],  # online/offline: defaults
        "qos": qos,
        "components": {
            **_result_components(make, labels, sensor_interval_s),
            # a face's arrival, its changes of emotion, its leaving: …/events, one JSON each
            "episode": make.entity(
                "event", "episode", "Face episode", EVENTS, event_types=list(EPISODE_KINDS)
            ),
            **(_pause_component(make) if pause_switch else {}),
            **(_snapshot_component(make) if snapshot else {}),
            **_diagnostic_components(make, cpu_temperature),
        },
    }
