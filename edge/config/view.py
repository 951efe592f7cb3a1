"""The `display:` and `web:` sections of config.yaml."""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from edge.config.base import Section
from edge.config.secret_file import read_secret_env, read_secret_file
from edge.errors import ConfigError

_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
MIN_TOKEN_CHARS = 16
MIN_TOKEN_DISTINCT = 8
MAKE_TOKEN = 'python3 -c "import secrets; print(secrets.token_urlsafe(24))"'


WEB_FORMS = "PORT or HOST:PORT, e.g. 8080, 0.0.0.0:8080, [::]:8080"
MAX_TOKEN_FILE_BYTES = 4096


def web_address(text: str) -> tuple[str | None, int]:
    """`--web`'s value: (host or None, port). ValueError names what is wrong.

    The port's range and the host's form are the config's to check (they name --web)."""
    text = text.strip()
    host: str | None
    if text.startswith("["):  # [IPv6]:PORT
        host, sep, port = text[1:].partition("]:")
        if not sep or not host:
            raise ValueError(f"{text!r} is not {WEB_FORMS} (an IPv6 address goes in brackets)")
    elif ":" in text:
        host, _, port = text.rpartition(":")
        if not host or ":" in host:
            raise ValueError(f"{text!r} is not {WEB_FORMS} (an IPv6 address goes in brackets)")
    else:
        host, port = None, text
    if not port.isascii() or not port.isdigit():
        raise ValueError(f"{text!r} is not {WEB_FORMS}")
    return host, int(port)


def read_token_file(setting: str) -> str:
    """The token in the file `setting` names (after $VARIABLES), checked like any token.

    ValueError says what is wrong with the file, so check-config and `run` agree."""
    token, size, where = read_secret_file(setting, MAX_TOKEN_FILE_BYTES, "token")
    problem = token_problem(token) if size <= MAX_TOKEN_FILE_BYTES else "is over 4 kB"
    if problem:
        raise ValueError(f"{where}the token {problem}: make a strong one with {MAKE_TOKEN}")
    return token


def is_host(value: str) -> bool:
    """An IP address (v4 or v6) or a host name: something a server can be asked to bind."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    name = value.removesuffix(".")
    return 0 < len(name) <= 253 and all(_HOST_LABEL.fullmatch(p) for p in name.split("."))


def token_problem(token: str) -> str | None:
    """What makes `token` easy to guess (or unusable in a URL), or None if nothing does.

    Someone who can reach the view can try hundreds of tokens a second (724/s measured on
    loopback), and tries short ones, numbers and patterns first: 8 digits fall within two
    days. A random 24-byte token (32 characters) does not fall in any lifetime.
    """
    if any(c.isspace() or not c.isprintable() for c in token):
        return "contains spaces or control characters, which a URL or header cannot carry"
    if len(token) < MIN_TOKEN_CHARS:
        return f"is {len(token)} characters long; at least {MIN_TOKEN_CHARS} are needed"
    if token.isdigit():
        return "is digits only, a number that is quickly guessed"
    distinct = len(set(token))
    if distinct < MIN_TOKEN_DISTINCT:
        return f"has only {distinct} different characters; at least {MIN_TOKEN_DISTINCT} are needed"
    if _is_run(token) or _repeats(token):
        return "is mostly a run or a repeated pattern (abcdef..., 123123..., word-word)"
    return None


def _is_run(token: str) -> bool:
    """Most steps from one character to the next go up or down by one, or stay: abc, cba, aaa."""
    steps = [ord(b) - ord(a) for a, b in itertools.pairwise(token)]
    return sum(step in (-1, 0, 1) for step in steps) * 2 > len(steps)


def _repeats(token: str) -> bool:
    """Most of `token` repeats its own start: abcabc..., word-word."""
    for period in range(1, (len(token) + 1) // 2 + 1):
        same = sum(token[i] == token[i - period] for i in range(period, len(token)))
        if same * 5 >= (len(token) - period) * 4:
            return True
    return False


class DisplayConfig(Section):
    backend: Literal["auto", "none", "window", "framebuffer", "drm"] = Field(
        default="auto",
        description="auto: the Pi camera's DRM preview when the source is picamera2, there is "
        "no desktop and the screen is free, else a desktop window if there is a desktop, else "
        "the framebuffer if it can be opened, else headless; drm: the Pi camera's own DRM "
        "preview, full screen, with our overlay (picamera2 source only); an explicitly "
        "chosen backend that cannot open is an error",
    )
    fullscreen: bool = Field(default=True, description="window backend: full screen")
    framebuffer_device: str = Field(
        default="/dev/fb0", min_length=1, description="framebuffer backend: the device"
    )


class WebConfig(Section):
    enabled: bool = Field(default=False, description="serve the live view over HTTP")
    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="address to listen on; 0.0.0.0 to reach it from the network",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="port to listen on")
    token: str | None = Field(
        default=None,
        description="if set, required as ?token=... or 'Authorization: Bearer ...'; at "
        f"least {MIN_TOKEN_CHARS} characters, not easy to guess (make one with {MAKE_TOKEN})",
    )
    token_file: str | None = Field(
        default=None,
        description="read the token from this file ($VARIABLES expanded; as a service "
        "${CREDENTIALS_DIRECTORY}/web_token)",
    )
    token_env: str | None = Field(
        default=None, min_length=1, description="read the token from this environment variable"
    )
    max_fps: float = Field(default=15.0, gt=0, le=60, description="stream frame-rate cap")
    video: bool = Field(
        default=True,
        description="serve pictures: the page, /stream.mjpg and /latest.jpg; false serves "
        "/api/result, /healthz and /metrics alone (no picture leaves the device this way)",
    )
    stall_after_s: float = Field(
        default=5.0, gt=0, le=3600, description="/healthz says 503 after this long without a frame"
    )

    @field_validator("token_file")
    @classmethod
    def _token_file_reads(cls, value: str | None, info: ValidationInfo) -> str | None:
        # only for a view that will run (a service's ${CREDENTIALS_DIRECTORY} is not set
        # for a hand-run check-config of a config whose view is off)
        if value is not None and info.data.get("enabled"):
            read_token_file(value)  # as `run` reads it; ValueError names the problem
        return value

    @model_validator(mode="after")
    def _one_token_source(self) -> WebConfig:
        if len([s for s in (self.token, self.token_file, self.token_env) if s]) > 1:
            raise ValueError("give only one of token, token_file and token_env")
        return self

    def resolve_token(self, environ: dict[str, str] | None = None) -> str | None:
        """The token from where the config says; ConfigError naming the key if it fails."""
        env = os.environ if environ is None else environ
        if self.token_env:
            value = read_secret_env(env, self.token_env, "web.token_env", "web.token_file")
            problem = token_problem(value.strip())
            if problem:
                raise ConfigError(f"web.token_env: the token {problem}: make one with {MAKE_TOKEN}")
            return value.strip()
        if self.token_file:
            try:
                return read_token_file(self.token_file)
            except ValueError as exc:
                raise ConfigError(f"web.token_file: {exc}") from None
        return self.token

    @field_validator("host")
    @classmethod
    def _bindable(cls, value: str) -> str:
        if not is_host(value):
            raise ValueError(
                "must be an IP address or a host name (e.g. 127.0.0.1, 0.0.0.0, ::, mypi.local)"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _strong_token(cls, data: Any) -> Any:
        """A weak token is refused; the error quotes it as *** (it is meant to be a secret)."""
        if not isinstance(data, dict) or data.get("token") is None:
            return data
        token = data["token"]
        if isinstance(token, bool) or not isinstance(token, str | int | float):
            problem: str | None = "must be text (put it in quotes)"
        else:
            problem = token_problem(str(token))  # YAML reads 12345678 as a number
        if problem is None:
            return {**data, "token": str(token)}
        error = PydanticCustomError(
            "weak_token",
            "{problem}: make a strong one with {make}",
            {"problem": problem, "make": MAKE_TOKEN},
        )
        details = InitErrorDetails(type=error, loc=("token",), input="***")
        raise ValidationError.from_exception_data(cls.__name__, [details])
