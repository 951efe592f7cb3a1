"""What `emotion-edge mqtt-forget` clears (edge.app.forget.targets), without a broker.

The command against a real Mosquitto is in test_mqtt_forget.py.
"""

from __future__ import annotations

import dataclasses

import pytest

from edge.app.forget import targets
from edge.config.mqtt import MqttConfig
from edge.sinks.mqtt.record import Announcement

CFG = MqttConfig(enabled=True, host="broker.lan", port=1883, device_id="kitchen")
CURRENT = Announcement.of(CFG)
RENAMED = dataclasses.replace(CURRENT, device_id="old-name", prefix="emotion-edge/old-name")
ELSEWHERE = dataclasses.replace(CURRENT, broker="other.lan:1883")


@pytest.mark.parametrize(
    ("enabled", "earlier", "cleared", "note"),
    [
        (True, None, [CURRENT], ""),
        (False, None, [], ""),  # MQTT off and nothing recorded: nothing of ours on the broker
        (False, CURRENT, [CURRENT], ""),  # off now, but the last run announced this one
        (True, RENAMED, [RENAMED, CURRENT], ""),  # the earlier name first, then today's
        (True, ELSEWHERE, [CURRENT], "; device kitchen was announced on other.lan:1883"),
    ],
)
def test_targets(enabled, earlier, cleared, note):
    cfg = CFG.model_copy(update={"enabled": enabled})
    found, said = targets(cfg, earlier)
    assert found == cleared
    assert said.startswith(note) and bool(said) is bool(note), said
    if earlier is ELSEWHERE:
        assert "run this again" in said  # what to do about the other broker
