"""What this machine last put on the broker, remembered so that it can be taken back.

Retained messages outlive the process: a device id or topic prefix that changes, or
discovery turned off, would leave the old device in Home Assistant for good. Each run
records what it announced in a small JSON file; the next run (or `emotion-edge
mqtt-forget`) clears what the record names and the current config no longer does.

The file is `mqtt-announced-<owner>.json` in $STATE_DIRECTORY (systemd's
StateDirectory=, i.e. /var/lib/emotion-edge for the service), else
$XDG_STATE_HOME/emotion-edge, else ~/.local/state/emotion-edge, one per config file
(<owner> is a digest of its path; `mqtt-announced.json` for a run on defaults alone). So two
cameras sharing a state folder, each with its own config, never take back each other's
announcement, while a device id changed in one config file is cleared on its next run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from edge.config.mqtt import MqttConfig
from edge.config.paths import owner_digest, state_folder, write_state_file
from edge.sinks.mqtt.const import RETAINED_LEVELS
from edge.sinks.mqtt.homeassistant import discovery_topic

RECORD_NAME = "mqtt-announced.json"


@dataclass(frozen=True)
class Announcement:
    broker: str  # host:port, where the retained messages are
    device_id: str
    prefix: str
    discovery_topic: str | None  # None: discovery was off, only the retained topics are ours

    @classmethod
    def of(cls, cfg: MqttConfig) -> Announcement:
        discovery = discovery_topic(cfg.discovery_prefix, cfg.device_id)
        return cls(
            broker=f"{cfg.host}:{cfg.port}",
            device_id=cfg.device_id,
            prefix=cfg.prefix,
            discovery_topic=discovery if cfg.discovery else None,
        )

    def retained_topics(self) -> list[str]:
        """Every retained topic it owns, the discovery config first (Home Assistant then
        removes the entities before their availability disappears)."""
        owned = [f"{self.prefix}/{level}" for level in RETAINED_LEVELS]
        return [self.discovery_topic, *owned] if self.discovery_topic else owned

    def left_behind_by(self, current: Announcement) -> list[str]:
        """Topics this (earlier) announcement owns that `current` does not publish."""
        keep = set(current.retained_topics())
        return [topic for topic in self.retained_topics() if topic not in keep]


def record_path(environ: dict[str, str] | None = None, owner: Path | None = None) -> Path:
    """Where the announcement of the run configured by `owner` (its config file) is kept."""
    if owner is None:
        return state_folder(environ) / RECORD_NAME
    return state_folder(environ) / f"mqtt-announced-{owner_digest(owner)}.json"


def load_record(path: Path) -> Announcement | None:
    """The recorded announcement; None when there is none or the file is unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Announcement(
            broker=str(data["broker"]),
            device_id=str(data["device_id"]),
            prefix=str(data["prefix"]),
            discovery_topic=data["discovery_topic"] and str(data["discovery_topic"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_record(path: Path, announcement: Announcement) -> str | None:
    """Write the record atomically; the reason when it cannot be written, else None."""
    try:
        write_state_file(path, json.dumps(asdict(announcement), indent=1) + "\n")
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    return None


def drop_record(path: Path) -> None:
    path.unlink(missing_ok=True)
