"""Results over MQTT, and what Home Assistant needs to show them truthfully.

Topics under the prefix:
  availability  online/offline, retained, the last will
  camera        starting | streaming | stalled | reconnecting | ended, retained, on change
  state         the reported emotion (or none), retained, on change
  sensors       Home Assistant's values: on a change of emotion or face presence, else at
                most every sensor_interval_s (mqtt_policy.SensorPolicy)
  emotion       the result JSON, by the publish policy
  stats         every stats_interval_s
plus Home Assistant device discovery. Results come through emit() (analysis thread); the
camera state, stats and the retained values again come from tick() (the pipeline's
supervisor calls it every ~0.1 s from the main thread), so they stay true while no
result comes. The connection itself is edge.sinks.mqtt.link's.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from edge.config.mqtt import MqttConfig
from edge.pipeline.stats import PipelineStats
from edge.sinks.mqtt.homeassistant import NO_FACE_STATE, discovery_payload, discovery_topic
from edge.sinks.mqtt.link import MqttLink
from edge.sinks.mqtt.policy import (
    PublishPolicy,
    SensorPolicy,
    camera_state,
    cpu_temperature_c,
    sensor_values,
    stats_payload,
)
from edge.sinks.mqtt.record import Announcement, load_record, record_path, save_record
from edge.sinks.payload import result_to_dict
from edge.types import Result

log = logging.getLogger(__name__)

REANNOUNCE_MIN_INTERVAL_S = 10.0
TOPIC_LEVELS = ("availability", "camera", "emotion", "sensors", "state", "stats")


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
    ) -> None:
        self.cfg, self.stats, self.labels, self.model_name = cfg, stats, labels, model_name
        self.web_url = web_url
        self.description = f"mqtt://{cfg.host}:{cfg.port}/{cfg.prefix}"
        self.topics = {name: f"{cfg.prefix}/{name}" for name in TOPIC_LEVELS}
        self._state = NO_FACE_STATE
        self._camera = camera_state(stats, time.monotonic())
        self._values: dict[str, Any] | None = None  # the newest sensor values sent
        self._policy = PublishPolicy(cfg.publish, cfg.max_rate_hz)
        self._sensors = SensorPolicy(cfg.sensor_interval_s)
        self._next_tick_s = time.monotonic() + cfg.stats_interval_s
        self._stopping = False
        self._has_cpu_temperature = cpu_temperature_c() is not None
        self._record_path = record_path(environ)
        self._announcement = Announcement.of(cfg)
        self._recorded = False  # what an earlier run announced is handled once per process
        self._reannounced_at_s = -REANNOUNCE_MIN_INTERVAL_S
        self.reannounce_skipped = 0  # "online" messages within the interval, not answered
        client_id = cfg.process_client_id(environ)
        self.link = MqttLink(
            cfg,
            password,
            client_id,
            self.topics["availability"],
            on_online=self._on_online,
            on_message=self._on_message,
        )
        self.link.start()
        log.info(
            "MQTT: connecting to %s:%d as %s (client id %s), topics under %s",
            cfg.host,
            cfg.port,
            cfg.device_id,
            client_id,
            cfg.prefix,
        )

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
        values = sensor_values(payload)
        link = self.link
        with link.lock:
            if values["emotion"] != self._state:
                self._state = values["emotion"]
                link.send(self.topics["state"], self._state, qos=1, retain=True)
            if self._sensors.due(values, now):
                self._values = values
                link.send(self.topics["sensors"], compact(values), qos=self.cfg.qos)
            if self._policy.should_publish(result.status, label, now):
                link.send(self.topics["emotion"], compact(payload), qos=self.cfg.qos, keep=True)

    # -- the pipeline's supervisor (main thread) -----------------------------------------
    def tick(self, stats: PipelineStats) -> None:
        """Camera state on change; stats and the retained values every stats_interval_s."""
        now = time.monotonic()
        camera = camera_state(stats, now)
        due = now >= self._next_tick_s
        snapshot = stats.snapshot() if due else None  # outside the link's lock
        link = self.link
        with link.lock:
            if self._stopping:
                return
            if camera != self._camera:
                self._camera = camera
                link.send(self.topics["camera"], camera, qos=1, retain=True)
            if snapshot is None:
                return
            self._next_tick_s = now + self.cfg.stats_interval_s
            stats_json = json.dumps(stats_payload(snapshot, link.dropped))
            link.send(self.topics["stats"], stats_json, qos=self.cfg.qos)
            # again on a timer: a retained value someone cleared (mqtt-forget run by hand,
            # a broker's admin) comes back without waiting for a reconnect
            link.send(self.topics["availability"], "online", qos=1, retain=True)
            link.send(self.topics["camera"], camera, qos=1, retain=True)

    def stopping(self) -> None:
        with self.link.lock:
            self._stopping = True

    def close(self) -> None:
        with self.link.lock:
            self._stopping = True
        self.link.close(self.topics["availability"])
        log.info(
            "MQTT: closed (%d published, %d not delivered: the broker was away or slow)",
            self.link.published,
            self.link.dropped,
        )

    # -- paho's network thread, under the link's lock -----------------------------------
    def _on_online(self, client: Any) -> None:
        send_now = self.link.send_now
        send_now(self.topics["availability"], "online")
        send_now(self.topics["camera"], self._camera)
        send_now(self.topics["state"], self._state)
        self._forget_earlier()
        self._announce()
        if self._values is not None:  # Home Assistant's values need not wait for a change
            send_now(self.topics["sensors"], compact(self._values), self.cfg.qos, retain=False)
        if self.cfg.discovery:
            client.subscribe(f"{self.cfg.discovery_prefix}/status", qos=1)

    def _announce(self) -> None:
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
        )
        self.link.send_now(discovery_topic(cfg.discovery_prefix, cfg.device_id), compact(payload))

    def _forget_earlier(self) -> None:
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
                    self.link.send_now(topic, "")
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

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        if message.topic != f"{self.cfg.discovery_prefix}/status" or message.payload != b"online":
            return
        now = time.monotonic()
        with self.link.lock:
            # anyone may publish "online" there: one re-announcement per interval, the
            # rest counted, so a flood costs neither the broker nor the journal
            if now - self._reannounced_at_s < REANNOUNCE_MIN_INTERVAL_S:
                self.reannounce_skipped += 1
                return
            self._reannounced_at_s = now
            self._announce()
        log.info("MQTT: Home Assistant came online; announced the device again")
