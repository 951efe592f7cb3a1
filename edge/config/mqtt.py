"""The `mqtt:` section of config.yaml, and where its password comes from."""

from __future__ import annotations

import os
import re
import socket
import ssl
from pathlib import Path
from typing import Literal, get_args

from pydantic import (
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from edge.config.base import Section, show
from edge.config.secret_file import read_secret_env, read_secret_file
from edge.errors import ConfigError, first_line

# MQTT strings carry a two-byte length: 65535 bytes is the hard limit for client ids,
# topics and passwords. Client ids are allowed all of it: 23 is only the minimum a 3.1.1
# broker must accept, and our own default (emotion-edge-<device_id>) is already longer;
# Mosquitto, EMQX and HiveMQ accept up to 65535.
MQTT_MAX_BYTES = 65535
MAX_PREFIX_BYTES = 65000  # leaves room for the topic levels added after a prefix
# The service's client id (systemd/emotion-edge.service sets it): stable across restarts, so a
# restarted service takes over its own half-open session at once instead of having that
# session's last will ("offline") arrive after its new "online". {device_id} is replaced.
CLIENT_ID_ENV = "EMOTION_EDGE_MQTT_CLIENT_ID"


PublishMode = Literal["every", "rate", "change"]
PUBLISH_MODES: tuple[PublishMode, ...] = get_args(PublishMode)


def _mqtt_string_problem(value: str, limit: int) -> str | None:
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return "not valid UTF-8 text, which MQTT requires"
    if "\x00" in value:
        return "contains a NUL character, which MQTT forbids: remove it"
    if size > limit:
        return f"too long for MQTT: {size:,} bytes, at most {limit:,} (shorten it)"
    return None


def _topic_prefix_problem(value: str) -> str | None:
    if "+" in value or "#" in value:
        return "contains the wildcard + or #, which no published topic may contain: remove it"
    if value.startswith("$"):
        return "starts with $, which brokers keep for their own topics ($SYS): remove it"
    return _mqtt_string_problem(value, MAX_PREFIX_BYTES)


def read_password_file(setting: str) -> str | None:
    """The password in the file `setting` names (after $VARIABLES); None if it is empty.

    ValueError says what is wrong with the file, so the config model and `run` agree.
    """
    value, size, where = read_secret_file(setting, MQTT_MAX_BYTES, "password")
    if size > MQTT_MAX_BYTES + 2 or len(value.encode("utf-8")) > MQTT_MAX_BYTES:
        raise ValueError(f"{where}longer than MQTT's {MQTT_MAX_BYTES}-byte password limit")
    return value or None


def _ssl_reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else re.sub(r"\s*\(_ssl\.c:\d+\)", "", first_line(exc))


def default_device_id() -> str:
    """The host name, reduced to what topics and Home Assistant ids accept."""
    return re.sub(r"[^a-zA-Z0-9_-]+", "_", socket.gethostname()).strip("_").lower() or "device"


class MqttTlsConfig(Section):
    enabled: bool = Field(default=False, description="connect with TLS (usually port 8883)")
    ca_file: str | None = Field(default=None, description="CA certificate file (PEM) to trust")
    cert_file: str | None = Field(default=None, description="client certificate (PEM)")
    key_file: str | None = Field(default=None, description="client private key (PEM)")
    insecure: bool = Field(
        default=False, description="skip the host name check (self-signed test brokers only)"
    )

    @field_validator("ca_file")
    @classmethod
    def _ca_loads(cls, value: str | None, info: ValidationInfo) -> str | None:
        """The check paho's tls_set makes at run time, made when the config is loaded."""
        if value is None or not info.data.get("enabled"):
            return value
        if not Path(value).is_file():
            raise ValueError("no such file (give the CA certificate the broker uses)")
        try:
            ssl.create_default_context(cafile=value)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise ValueError(
                f"not a PEM CA certificate ({_ssl_reason(exc)}): "
                "give the broker's CA certificate in PEM form"
            ) from None
        return value

    @model_validator(mode="after")
    def _client_cert_loads(self) -> MqttTlsConfig:
        if not self.enabled or self.cert_file is None:
            return self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:  # an encrypted key would ask for a passphrase nobody can type in a service
            context.load_cert_chain(self.cert_file, self.key_file, password=lambda: b"")
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise ValueError(
                f"cert_file/key_file cannot be loaded ({_ssl_reason(exc)}): give a PEM "
                "certificate and its unencrypted key"
            ) from None
        return self


class MqttConfig(Section):
    enabled: bool = Field(default=False, description="publish results over MQTT")
    host: str = Field(default="localhost", min_length=1, description="broker host name or IP")
    port: int = Field(default=1883, ge=1, le=65535, description="broker port")
    protocol: Literal["3.1.1", "5"] = Field(default="3.1.1", description="MQTT version")
    device_id: str = Field(
        default_factory=default_device_id,
        pattern=r"^[a-zA-Z0-9_-]+$",
        max_length=128,
        description="this device's id in topics and in Home Assistant (default: host name)",
    )
    client_id: str | None = Field(
        default=None,
        description="MQTT client id; unique per connection, or the broker drops the older one "
        f"(default: ${CLIENT_ID_ENV} as the service sets it, else emotion-edge-<device_id>-<pid>)",
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
    publish: PublishMode = Field(
        default="rate",
        description="which results go to …/emotion: every one, at most max_rate_hz, or only "
        "when the reported emotion or the status changes",
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
    sensor_interval_s: float = Field(
        default=60.0,
        ge=1.0,
        le=3600,
        description="Home Assistant's numbers (confidence, faces, scores) are sent at most this "
        "often; a change of the emotion or of face presence goes out at once. Result entities "
        "expire after three intervals without results",
    )
    snapshot: bool = Field(
        default=False,
        description="publish a JPEG of the annotated frame to …/snapshot for Home Assistant's "
        "image entity: a picture leaves the device (privacy.blur_faces applies)",
    )
    snapshot_interval_s: float = Field(
        default=60.0,
        ge=5.0,
        le=86400,
        description="…/snapshot: at once when the shown emotion changes (at most every 5 s), "
        "else at most this often",
    )
    snapshot_width: int = Field(
        default=640, ge=64, le=1920, description="…/snapshot: wider frames are scaled down"
    )
    reconnect_max_s: int = Field(default=30, ge=1, le=600, description="longest reconnect wait")
    discovery: bool = Field(default=True, description="announce to Home Assistant")
    discovery_prefix: str = Field(
        default="homeassistant", min_length=1, description="Home Assistant's discovery prefix"
    )

    @field_validator("client_id")
    @classmethod
    def _client_id_fits(cls, value: str | None) -> str | None:
        problem = None if value is None else _mqtt_string_problem(value, MQTT_MAX_BYTES)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("topic_prefix", "discovery_prefix")
    @classmethod
    def _prefix_is_a_topic(cls, value: str | None) -> str | None:
        problem = None if value is None else _topic_prefix_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("password_file")
    @classmethod
    def _password_file_reads(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and info.data.get("enabled"):
            read_password_file(value)  # as `run` reads it; ValueError names the problem
        return value

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

    def process_client_id(self, environ: dict[str, str] | None = None, pid: int = 0) -> str:
        """This process's client id: the configured one, the service's, or one of its own.

        A manual run beside the service must not share its id: the broker would drop one
        connection for the other, and the two would take turns reconnecting.
        """
        if self.client_id:
            return self.client_id
        env = os.environ if environ is None else environ
        fixed = env.get(CLIENT_ID_ENV, "").strip().replace("{device_id}", self.device_id)
        if fixed:
            problem = _mqtt_string_problem(fixed, MQTT_MAX_BYTES)
            if problem:
                raise ConfigError(f"{CLIENT_ID_ENV}: {problem}")
            return fixed
        return f"emotion-edge-{self.device_id}-{pid or os.getpid()}"

    def resolve_password(self, environ: dict[str, str] | None = None) -> str | None:
        """Read the password from where the config says; ConfigError naming the key if not."""
        env = os.environ if environ is None else environ
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_env:
            return read_secret_env(
                env, self.password_env, "mqtt.password_env", "mqtt.password_file"
            )
        if self.password_file:
            try:
                return read_password_file(self.password_file)
            except ValueError as exc:
                shown = show(self.password_file)
                raise ConfigError(f"mqtt.password_file: {exc} (got {shown})") from None
        return None
