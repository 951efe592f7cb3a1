"""Home Assistant MQTT device discovery: one retained message describes the whole device.

Home Assistant (2024.11 and later) reads `<prefix>/device/<id>/config` with a device
block, an origin block and a map of components; each component needs a platform and
a unique id. Every entity here goes unavailable with the device's availability topic.
"""

from __future__ import annotations

from typing import Any

from edge import __version__

NO_FACE_STATE = "none"  # what …/state holds when no face has been seen for a while


def discovery_topic(discovery_prefix: str, device_id: str) -> str:
    return f"{discovery_prefix}/device/{device_id}/config"


def discovery_payload(
    device_id: str, topic_prefix: str, labels: list[str], model_name: str, qos: int
) -> dict[str, Any]:
    uid = f"emotion_edge_{device_id}"
    emotion_topic, stats_topic = f"{topic_prefix}/emotion", f"{topic_prefix}/stats"

    def sensor(key: str, name: str, topic: str, **extra: Any) -> dict[str, Any]:
        return {
            "platform": "sensor",
            "name": name,
            "unique_id": f"{uid}_{key}",
            "state_topic": topic,
            **extra,
        }

    return {
        "device": {
            "identifiers": [uid],
            "name": f"Emotion Edge {device_id}",
            "manufacturer": "emotion-edge",
            "model": model_name,
            "sw_version": __version__,
        },
        "origin": {"name": "emotion-edge", "sw_version": __version__},
        "availability_topic": f"{topic_prefix}/availability",
        "payload_available": "online",
        "payload_not_available": "offline",
        "qos": qos,
        "components": {
            "emotion": sensor(
                "emotion",
                "Emotion",
                f"{topic_prefix}/state",
                device_class="enum",
                options=[*labels, NO_FACE_STATE],
                icon="mdi:emoticon-outline",
            ),
            "confidence": sensor(
                "confidence",
                "Confidence",
                emotion_topic,
                value_template="{{ ((value_json.confidence or 0) * 100) | round(1) }}",
                unit_of_measurement="%",
                state_class="measurement",
            ),
            "faces": sensor(
                "faces",
                "Faces",
                emotion_topic,
                value_template="{{ value_json.faces_detected }}",
                state_class="measurement",
                icon="mdi:account-multiple",
            ),
            "fps": sensor(
                "fps",
                "Processed frame rate",
                stats_topic,
                value_template="{{ value_json.processed_fps }}",
                unit_of_measurement="fps",
                state_class="measurement",
                entity_category="diagnostic",
            ),
            "inference": sensor(
                "inference",
                "Inference time",
                stats_topic,
                value_template="{{ value_json.inference_ms }}",
                unit_of_measurement="ms",
                device_class="duration",
                state_class="measurement",
                entity_category="diagnostic",
            ),
        },
    }
