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
from typing import Any

from edge import __version__
from edge.config.view import WebConfig
from edge.types import UNCERTAIN

NO_FACE_STATE = "none"  # what …/state holds when no face has been seen for a while
STREAMING = "streaming"  # the …/camera value while frames come in
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
) -> dict[str, Any]:
    uid = f"emotion_edge_{device_id}"
    availability_topic = f"{topic_prefix}/availability"
    sensors_topic, stats_topic = f"{topic_prefix}/sensors", f"{topic_prefix}/stats"
    # results are true only while the camera streams: unavailable at once when it is lost,
    # and after expire_after when results stop while it streams
    device_online = {"topic": availability_topic}  # "online" / "offline", the defaults
    result_options: dict[str, Any] = {
        "availability": [
            device_online,
            {
                "topic": f"{topic_prefix}/camera",
                "value_template": f"{{{{ 'online' if value == '{STREAMING}' else 'offline' }}}}",
            },
        ],
        "availability_mode": "all",
        "expire_after": max(1, round(EXPIRE_INTERVALS * sensor_interval_s)),
    }

    def entity(platform: str, key: str, name: str, topic: str, **extra: Any) -> dict[str, Any]:
        return {
            "platform": platform,
            "name": name,
            "unique_id": f"{uid}_{key}",
            "state_topic": topic,
            **extra,
        }

    def diagnostic(key: str, name: str, template: str, **extra: Any) -> dict[str, Any]:
        return entity(
            "sensor",
            key,
            name,
            stats_topic,
            value_template=template,
            state_class="measurement",
            entity_category="diagnostic",
            **extra,
        )

    components: dict[str, Any] = {
        "emotion": entity(
            "sensor",
            "emotion",
            "Emotion",
            sensors_topic,
            value_template="{{ value_json.emotion }}",
            device_class="enum",
            options=[*labels, UNCERTAIN, NO_FACE_STATE],
            icon="mdi:emoticon-outline",
            json_attributes_topic=sensors_topic,
            json_attributes_template="{{ value_json.scores | tojson }}",
            **result_options,
        ),
        "confidence": entity(
            "sensor",
            "confidence",
            "Confidence",
            sensors_topic,
            value_template="{{ value_json.confidence }}",  # null, with no face: unknown
            unit_of_measurement="%",
            state_class="measurement",
            **result_options,
        ),
        "faces": entity(
            "sensor",
            "faces",
            "Faces",
            sensors_topic,
            value_template="{{ value_json.faces }}",
            state_class="measurement",
            icon="mdi:account-multiple",
            **result_options,
        ),
        "face_present": entity(
            "binary_sensor",
            "face_present",
            "Face present",
            sensors_topic,
            value_template="{{ 'ON' if value_json.face_present else 'OFF' }}",
            device_class="occupancy",
            **result_options,
        ),
        "camera": entity(
            "binary_sensor",
            "camera",
            "Camera",
            f"{topic_prefix}/camera",
            value_template=f"{{{{ 'ON' if value == '{STREAMING}' else 'OFF' }}}}",
            device_class="connectivity",
            entity_category="diagnostic",
        ),
        "fps": diagnostic(
            "fps",
            "Processed frame rate",
            "{{ value_json.processed_fps }}",
            unit_of_measurement="fps",
        ),
        "inference": diagnostic(
            "inference",
            "Inference time",
            "{{ value_json.inference_ms }}",
            unit_of_measurement="ms",
            device_class="duration",
        ),
    }
    if cpu_temperature:  # only where the machine reports one
        components["cpu_temperature"] = diagnostic(
            "cpu_temperature",
            "CPU temperature",
            "{{ value_json.cpu_temperature_c }}",
            unit_of_measurement="°C",
            device_class="temperature",
        )
    device: dict[str, Any] = {
        "identifiers": [uid],
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
        "availability": [device_online],
        "qos": qos,
        "components": components,
    }
