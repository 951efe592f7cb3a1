"""The `mqtt:` section of config.yaml, and where its password comes from."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from edge.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def default_device_id() -> str:
    """The host name, reduced to what topics and Home Assistant ids accept."""
    return re.sub(r"[^a-zA-Z0-9_-]+", "_", socket.gethostname()).strip("_").lower() or "device"


class MqttTlsConfig(_Section):
    enabled: bool = Field(default=False, description="connect with TLS (usually port 8883)")
    ca_file: str | None = Field(default=None, description="CA certificate file (PEM) to trust")
    cert_file: str | None = Field(default=None, description="client certificate (PEM)")
    key_file: str | None = Field(default=None, description="client private key (PEM)")
    insecure: bool = Field(
        default=False, description="skip the host name check (self-signed test brokers only)"
    )


class MqttConfig(_Section):
    enabled: bool = Field(default=False, description="publish results over MQTT")
    host: str = Field(default="localhost", min_length=1, description="broker host name or IP")
    port: int = Field(default=1883, ge=1, le=65535, description="broker port")
    protocol: Literal["3.1.1", "5"] = Field(default="3.1.1", description="MQTT version")
    device_id: str = Field(
        default_factory=default_device_id,
        pattern=r"^[a-zA-Z0-9_-]+$",
        description="this device's id in topics and in Home Assistant (default: host name)",
    )
    client_id: str | None = Field(
        default=None, description="MQTT client id (default: emotion-edge-<device_id>)"
    )
    topic_prefix: str | None = Field(
        default=None, description="topic prefix (default: emotion-edge/<device_id>)"
    )
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="keepalive interval")
    qos: Literal[0, 1, 2] = Field(default=0, description="QoS of result messages")
    username: str | None = Field(default=None, description="user name, if the broker wants one")
    password_env: str | None = Field(
        default=None, description="name of the environment variable holding the password"
    )
    password_file: str | None = Field(
        default=None,
        description="file holding the password; ${CREDENTIALS_DIRECTORY}/mqtt_password is "
        "where systemd's LoadCredential= puts it (an empty file means no password)",
    )
    password: SecretStr | None = Field(
        default=None, description="the password in plain text: only with allow_plain_password"
    )
    allow_plain_password: bool = Field(
        default=False, description="accept `password` written in this file"
    )
    tls: MqttTlsConfig = Field(default_factory=MqttTlsConfig, description="TLS settings")
    publish: Literal["every", "rate", "change"] = Field(
        default="rate",
        description="which results go to …/emotion: every one, at most max_rate_hz, or only "
        "when the smoothed emotion or the status changes",
    )
    max_rate_hz: float = Field(default=2.0, gt=0, le=100, description="limit for publish: rate")
    stats_interval_s: float = Field(
        default=30.0, ge=1.0, le=86400, description="how often …/stats is published"
    )
    buffer_messages: int = Field(
        default=50,
        ge=1,
        le=10000,
        description="results kept while the broker is away; older ones are dropped and counted",
    )
    reconnect_max_s: int = Field(default=30, ge=1, le=600, description="longest reconnect wait")
    discovery: bool = Field(default=True, description="announce to Home Assistant")
    discovery_prefix: str = Field(
        default="homeassistant", min_length=1, description="Home Assistant's discovery prefix"
    )

    @model_validator(mode="after")
    def _password_sources(self) -> MqttConfig:
        sources = [s for s in (self.password_env, self.password_file, self.password) if s]
        if len(sources) > 1:
            raise ValueError("give only one of password_env, password_file and password")
        if self.password is not None and not self.allow_plain_password:
            raise ValueError(
                "a plain-text password in the config file needs allow_plain_password: true; "
                "prefer password_env or password_file"
            )
        return self

    @property
    def prefix(self) -> str:
        return (self.topic_prefix or f"emotion-edge/{self.device_id}").rstrip("/")

    def resolve_password(self, environ: dict[str, str] | None = None) -> str | None:
        """Read the password from where the config says; ConfigError naming the key if not."""
        env = os.environ if environ is None else environ
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_env:
            value = env.get(self.password_env)
            if value is None:
                raise ConfigError(
                    f"mqtt.password_env: environment variable {self.password_env} "
                    "is not set (export it, or use mqtt.password_file)"
                )
            return value
        if self.password_file:
            path = Path(os.path.expandvars(self.password_file))
            if "$" in str(path):
                raise ConfigError(
                    f"mqtt.password_file: {self.password_file} names a variable "
                    "that is not set (CREDENTIALS_DIRECTORY is set by systemd)"
                )
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"mqtt.password_file: {path}: {exc.strerror}") from None
            return value or None
        return None
