"""Results over MQTT, and what Home Assistant needs to show them truthfully.

Topics under the prefix:
  availability  online/offline, retained, the last will
  camera        starting | streaming | stalled | reconnecting | ended, retained, on change
  state         the reported emotion (or none), retained, on change
  sensors       Home Assistant's values: on a change of emotion or face presence, else at
                most every sensor_interval_s (policy.SensorPolicy)
  emotion       the result JSON, by the publish policy
  events        face episodes: start, change of the shown emotion, end (each one)
  stats         every stats_interval_s
  snapshot      a JPEG for Home Assistant's image entity (mqtt.snapshot), not retained
  paused        ON or OFF, retained: the pause switch's state (…/paused/set takes commands)
plus Home Assistant device discovery. Results come through emit() (analysis thread); the
camera state, stats and the retained values again come from tick() (the pipeline's
supervisor calls it every ~0.1 s from the main thread), so they stay true while no
result comes. The connection itself is edge.sinks.mqtt.link's.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from edge.config.mqtt import MqttConfig
from edge.pipeline.live import LiveState
from edge.pipeline.stats import PipelineStats
from edge.sinks.mqtt.batch import Batch
from edge.sinks.mqtt.const import (
    AVAILABILITY,
    CAMERA,
    EMOTION,
    EVENTS,
    NO_FACE_STATE,
    ONLINE,
    PAUSED,
    PAUSED_CAMERA,
    PAUSED_SET,
    SENSORS,
    SNAPSHOT,
    STATE,
    STATS,
    TOPIC_LEVELS,
    CameraState,
)
from edge.sinks.mqtt.homeassistant import discovery_payload, discovery_topic
from edge.sinks.mqtt.link import MqttLink
from edge.sinks.mqtt.pause import PauseSwitch
from edge.sinks.mqtt.policy import (
    PublishPolicy,
    SensorPolicy,
    camera_state,
    cpu_temperature_c,
    sensor_values,
    stats_payload,
)
from edge.sinks.mqtt.record import Announcement, load_record, record_path, save_record
from edge.sinks.mqtt.snapshot import Snapshots
from edge.sinks.payload import episode_to_dict, result_to_dict
from edge.types import Result

log = logging.getLogger(__name__)

REANNOUNCE_MIN_INTERVAL_S = 10.0


def compact(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


class MqttSink:
    def __init__(
        self,
        cfg: MqttConfig,
        labels: list[str],
        model_name: str,
        stats: PipelineStats,
        password: str | None,
        *,
        web_url: str | None = None,
        environ: dict[str, str] | None = None,
        config_file: Path | None = None,
        live: LiveState | None = None,
        blur: bool = False,
    ) -> None:
        self.cfg, self.stats, self.labels, self.model_name = cfg, stats, labels, model_name
        self.web_url = web_url
        self.description = f"mqtt://{cfg.host}:{cfg.port}/{cfg.prefix}"
        # results are state: while the broker is away the newest few wait and older ones
        # give way by design (counted in `dropped` and …/stats), so none counts as unwritten
        self.not_written = 0
        self.topics = {name: f"{cfg.prefix}/{name}" for name in TOPIC_LEVELS}
        self._state = NO_FACE_STATE
        self._camera: CameraState = camera_state(stats, time.monotonic())
        self._values: dict[str, Any] | None = None  # the newest sensor values sent
        self._policy = PublishPolicy(cfg.publish, cfg.max_rate_hz)
        self._sensors = SensorPolicy(cfg.sensor_interval_s)
        self._next_tick_s = time.monotonic() + cfg.stats_interval_s
        self._stopping = False
        self._has_cpu_temperature = cpu_temperature_c() is not None
        self._record_path = record_path(environ, config_file)  # one record per config
        self.pause = self._pause_switch(live)
        self.snapshots = Snapshots(cfg, live, blur) if cfg.snapshot and live is not None else None
        self._announcement = Announcement.of(cfg)
        self._recorded = False  # what an earlier run announced is handled once per process
        self._reannounced_at_s = -REANNOUNCE_MIN_INTERVAL_S
        self.reannounce_skipped = 0  # "online" messages within the interval, not answered
        client_id = cfg.process_client_id(environ)
        self.link = MqttLink(
            cfg,
            password,
            client_id,
            self.topics[AVAILABILITY],
            on_online=self._on_online,
            on_message=self._on_message,
        )
        if cfg.discovery:  # Home Assistant says "online" there when it (re)starts
            self.link.subscribe_on_connect(f"{cfg.discovery_prefix}/status", qos=1)
        if self.pause is not None:
            self.link.subscribe_on_connect(f"{cfg.prefix}/{PAUSED_SET}", qos=1)
        self.link.start()
        log.info(
            "MQTT: connecting to %s:%d as %s (client id %s), topics under %s",
            cfg.host,
            cfg.port,
            cfg.device_id,
            client_id,
            cfg.prefix,
        )

    def _picture(self, changed: bool, now_s: float) -> bytes | None:
        snapshots = self.snapshots
        if snapshots is None or not snapshots.due(changed, now_s):
            return None
        return snapshots.take(now_s)

    def _pause_switch(self, live: LiveState | None) -> PauseSwitch | None:
        """Only where there are frames to pause (the run's live state); kept beside the
        announcement record, one per config file as it is."""
        if live is None:
            return None
        name = self._record_path.name.replace("mqtt-announced", "paused", 1)
        return PauseSwitch(live, self._record_path.with_name(name))

    @property
    def connected(self) -> bool:
        return self.link.connected

    @property
    def dropped(self) -> int:
        return self.link.dropped

    @property
    def published(self) -> int:
        return self.link.published

    # -- analysis thread ---------------------------------------------------------------
    def emit(self, result: Result) -> None:
        now = time.monotonic()
        payload = result_to_dict(result)
        label = payload["emotion"]
        values = sensor_values(result, payload)
        picture = self._picture(values["emotion"] != self._state, now)  # outside the lock
        with self.link.batch() as out:  # the sink's state changes with what it sends
            if picture is not None:
                out.send(self.topics[SNAPSHOT], picture, qos=0)
            if values["emotion"] != self._state:
                self._state = values["emotion"]
                out.send(self.topics[STATE], self._state, qos=1, retain=True)
            if self._sensors.due(values, now):
                self._values = values
                out.send(self.topics[SENSORS], compact(values), qos=self.cfg.qos)
            if self._policy.should_publish(result.status, label, now):
                out.send(self.topics[EMOTION], compact(payload), qos=self.cfg.qos, keep=True)
            if result.episode_event is not None:  # each one, kept while the broker is away
                event = episode_to_dict(result.episode_event, result.wall_time_s)
                out.send(self.topics[EVENTS], compact(event), qos=self.cfg.qos, keep=True)

    # -- the pipeline's supervisor (main thread) -----------------------------------------
    def tick(self, stats: PipelineStats) -> None:
        """Camera state on change; stats and the retained values every stats_interval_s."""
        now = time.monotonic()
        self.link.steady()
        camera = self._camera_now(stats, now)
        due = now >= self._next_tick_s
        snapshot = stats.snapshot() if due else None  # outside the link's lock
        with self.link.batch() as out:
            if self._stopping:
                return
            if camera != self._camera:
                self._camera = camera
                out.send(self.topics[CAMERA], camera, qos=1, retain=True)
            if snapshot is None:
                return
            self._next_tick_s = now + self.cfg.stats_interval_s
            stats_json = json.dumps(stats_payload(snapshot, self.link.dropped))
            out.send(self.topics[STATS], stats_json, qos=self.cfg.qos)
            # again on a timer: a retained value someone cleared (mqtt-forget run by hand,
            # a broker's admin) comes back without waiting for a reconnect
            out.send(self.topics[AVAILABILITY], ONLINE, qos=1, retain=True)
            out.send(self.topics[CAMERA], camera, qos=1, retain=True)

    def reopen(self) -> None:
        pass  # no file: the broker connection stays as it is

    def stopping(self) -> None:
        with self.link.batch():
            self._stopping = True

    def close(self) -> None:
        self.stopping()
        self.link.close(self.topics[AVAILABILITY])
        log.info(
            "MQTT: closed (%d published, %d not delivered: the broker was away or slow)",
            self.link.published,
            self.link.dropped,
        )

    # -- paho's network thread, composing under the link's lock ------------------------
    def _on_online(self, out: Batch) -> None:
        out.send_now(self.topics[AVAILABILITY], ONLINE)
        out.send_now(self.topics[CAMERA], self._camera)
        out.send_now(self.topics[STATE], self._state)
        if self.pause is not None:
            out.send_now(self.topics[PAUSED], self.pause.word)
        self._forget_earlier(out)
        self._announce(out)
        if self._values is not None:  # Home Assistant's values need not wait for a change
            out.send_now(self.topics[SENSORS], compact(self._values), self.cfg.qos, False)

    def _announce(self, out: Batch) -> None:
        if not self.cfg.discovery:
            return
        cfg = self.cfg
        payload = discovery_payload(
            cfg.device_id,
            cfg.prefix,
            self.labels,
            self.model_name,
            cfg.qos,
            sensor_interval_s=cfg.sensor_interval_s,
            configuration_url=self.web_url,
            cpu_temperature=self._has_cpu_temperature,
            pause_switch=self.pause is not None,
            snapshot=self.snapshots is not None,
        )
        out.send_now(discovery_topic(cfg.discovery_prefix, cfg.device_id), compact(payload))

    def _forget_earlier(self, out: Batch) -> None:
        """Clear what an earlier run announced and this one does not (another device id or
        prefix, discovery turned off), then record what this run announces."""
        if self._recorded:
            return
        self._recorded = True
        current, earlier = self._announcement, load_record(self._record_path)
        if earlier is not None and earlier != current:
            if earlier.broker != current.broker:
                log.warning(
                    "MQTT: device %s was announced on %s before; its retained messages stay "
                    "there (point mqtt.host/port at it and run: emotion-edge mqtt-forget)",
                    earlier.device_id,
                    earlier.broker,
                )
            else:
                gone = earlier.left_behind_by(current)
                for topic in gone:
                    out.send_now(topic, "")
                log.info(
                    "MQTT: cleared %d retained topics an earlier run left (device %s%s)",
                    len(gone),
                    earlier.device_id,
                    ", removed from Home Assistant" if earlier.discovery_topic in gone else "",
                )
        problem = save_record(self._record_path, current)
        if problem:
            log.warning(
                "MQTT: cannot record what was announced (%s): a later device_id change will "
                "leave this device behind in Home Assistant",
                problem,
            )

    def _camera_now(self, stats: PipelineStats, now_s: float) -> CameraState:
        if self.pause is not None and self.pause.live.paused:
            return PAUSED_CAMERA
        return camera_state(stats, now_s)

    def _on_pause(self, payload: bytes) -> None:
        assert self.pause is not None
        changed = self.pause.command(payload)
        with self.link.batch() as out:  # the state, also when unchanged: the switch follows
            out.send(self.topics[PAUSED], self.pause.word, qos=1, retain=True)
            if changed:  # …/camera at once, not at the next tick
                self._camera = camera = self._camera_now(self.stats, time.monotonic())
                out.send(self.topics[CAMERA], camera, qos=1, retain=True)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        if self.pause is not None and message.topic == f"{self.cfg.prefix}/{PAUSED_SET}":
            self._on_pause(message.payload)
            return
        if (
            message.topic != f"{self.cfg.discovery_prefix}/status"
            or message.payload != ONLINE.encode()
        ):
            return
        now = time.monotonic()
        with self.link.batch() as out:
            # anyone may publish "online" there: one re-announcement per interval, the
            # rest counted, so a flood costs neither the broker nor the journal
            if now - self._reannounced_at_s < REANNOUNCE_MIN_INTERVAL_S:
                self.reannounce_skipped += 1
                return
            self._reannounced_at_s = now
            self._announce(out)
        log.info("MQTT: Home Assistant came online; announced the device again")
