"""What the MQTT link says about itself: one line per change of its state, the rest counted.

Called on paho's network thread only, so it needs no lock; the probes behind a hint (is the
port TLS, is anything listening) run once, when a state is first reported, never per retry.
"""

from __future__ import annotations

import logging
from typing import Any

from edge.config.mqtt import MqttConfig
from edge.sinks.mqtt.client import MAX_INCOMING_BYTES, diagnose_connect, why_closed_early

log = logging.getLogger("edge.sinks.mqtt.link")  # the name these lines always had


class LinkLog:
    def __init__(self, cfg: MqttConfig, paho_error_level: int) -> None:
        self.cfg = cfg
        self.state = "starting"
        self.callback_errors = 0
        self.oversize_skipped = 0
        self._paho_error_level = paho_error_level

    def _report(self, state: str, level: int, message: str, *args: Any) -> None:
        if state != self.state:
            self.state = state
            log.log(level, message, *args)

    def connected(self) -> None:
        cfg = self.cfg
        if self.state == "dropping":  # in a series of drops: said once, when it began
            log.debug("MQTT: connected to %s:%d again", cfg.host, cfg.port)
            return
        self._report("connected", logging.INFO, "MQTT: connected to %s:%d", cfg.host, cfg.port)

    def refused(self, reason: Any) -> None:
        text = str(reason).lower()
        hint = (
            "check mqtt.username and the password"
            if "auth" in text or "password" in text
            else "check the broker's log"
        )
        self._report(
            f"refused {reason}",
            logging.ERROR,
            "MQTT broker %s:%d refused the connection: %s (%s); retrying",
            self.cfg.host,
            self.cfg.port,
            reason,
            hint,
        )

    def lost(self, reason: Any) -> None:
        self._report(
            "disconnected",
            logging.WARNING,
            "MQTT: lost the broker %s:%d (%s); results are kept (newest %d) and "
            "publishing resumes on reconnect",
            self.cfg.host,
            self.cfg.port,
            reason,
            self.cfg.buffer_messages,
        )

    def closed_early(self) -> None:
        """No CONNACK: said once, with what the port itself shows (TLS, silence, a hang-up)."""
        if self.state.startswith(("refused", "dropping", "closed early")):
            return
        self._report(
            "closed early",
            logging.ERROR,
            "MQTT: %s:%d did not answer our connection (%s); retrying",
            self.cfg.host,
            self.cfg.port,
            why_closed_early(self.cfg),
        )

    def dropping(self, cause: str) -> None:
        """Dropped right after being accepted, for a reason seen: said once, not each time."""
        self._report(
            "dropping",
            logging.ERROR,
            "MQTT: %s:%d drops the connection %s; retrying with backoff up to %d s",
            self.cfg.host,
            self.cfg.port,
            cause,
            self.cfg.reconnect_max_s,
        )

    def unreachable(self) -> None:
        if self.state.startswith("unreachable"):
            return  # already said; do not probe the broker on every retry
        self._report(
            "unreachable",
            logging.ERROR,
            "MQTT: cannot connect to %s:%d: %s; retrying with backoff up to %d s",
            self.cfg.host,
            self.cfg.port,
            diagnose_connect(self.cfg),
            self.cfg.reconnect_max_s,
        )

    def oversize(self, size_bytes: int) -> None:
        self.oversize_skipped += 1
        if self.oversize_skipped == 1:  # then counted; one broker can send them all day
            log.warning(
                "MQTT: skipped a packet of %d bytes from %s:%d unread (we take up to %d); "
                "later ones are counted",
                size_bytes,
                self.cfg.host,
                self.cfg.port,
                MAX_INCOMING_BYTES,
            )

    def paho_said(self, client: Any, userdata: Any, level: int, text: str) -> None:
        # only a failing callback of ours; protocol errors (a port that is no broker) are
        # reported by the connection-state lines already
        if level != self._paho_error_level or not text.startswith("Caught exception"):
            return
        self.callback_errors += 1
        if self.callback_errors == 1:  # then counted; DEBUG shows each one
            log.error("MQTT: %s (going on; later ones are counted)", text)
        else:
            log.debug("MQTT: %s", text)
