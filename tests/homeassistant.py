"""A real Home Assistant core for tests: loopback only, a free port, stopped by its pid.

The core, its Python 3.13 and every requirement come prepared by `.ci/homeassistant.sh`
(nothing is installed at run time: Home Assistant runs with --skip-pip). A test starts it on a
temporary configuration, onboards the owner through the REST API as the web UI would, adds the
MQTT integration through the config-flow API, then reads entity states over REST.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_until
from tests.mqtt_broker import free_port

REPO = Path(__file__).resolve().parent.parent
PREPARE = "bash .ci/homeassistant.sh"

# Start-up budget: about 3 s to RUNNING on an idle 2-core machine (see /api/config below); the
# rest is room for a loaded CI runner. Stopping: Home Assistant's own shutdown stages allow far
# more, but an idle test instance stops in about a second; SIGKILL after STOP_S.
START_S = 120.0
STOP_S = 30.0
REQUEST_S = 10.0  # one REST call; each is bounded on its own
# Home Assistant complains: "2025-04-26 10:00:00.123 ERROR (MainThread) [logger] text"
COMPLAINT = re.compile(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) \(\S+\) \[(?P<logger>[^\]]+)\]")


def find_install() -> Path:
    """The folder .ci/homeassistant.sh prepared; skip without it (fail when CI=true)."""
    try:
        found = subprocess.run(
            ["bash", str(REPO / ".ci" / "homeassistant.sh"), "--where"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        found = None
    if found is not None and found.returncode == 0:
        return Path(found.stdout.strip())
    message = f"Home Assistant is not prepared for these tests: run `{PREPARE}` (once, online)"
    if os.environ.get("CI") == "true":  # CI must prepare it: a skip there would hide a gap
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


class HomeAssistantError(RuntimeError):
    pass


@dataclass
class HomeAssistant:
    """One Home Assistant process on its own temporary configuration folder."""

    install: Path
    port: int = field(default_factory=free_port)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ha-test-")))
    process: subprocess.Popen[bytes] | None = None
    token: str | None = None
    startup_s: float | None = None  # launch to core state RUNNING
    version: str | None = None  # what its /api/config says, e.g. 2025.4.4

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def client_id(self) -> str:
        # an OAuth client id must be a URL; Home Assistant's own UI uses its address
        return f"{self.url}/"

    # --- life cycle ------------------------------------------------------------------------
    def start(self, timeout_s: float = START_S) -> HomeAssistant:
        """Launch it, onboard the owner, and wait until the core says RUNNING."""
        python = self.install / "root" / "usr" / "bin" / "python3"
        if not python.is_file():
            raise HomeAssistantError(f"{python}: missing (run `{PREPARE}`)")
        config = self.folder / "config"
        config.mkdir()
        # no default_config: only what http, the REST API, onboarding and config flows need
        # (Home Assistant adds its always-on integrations, frontend among them, by itself)
        (config / "configuration.yaml").write_text(
            "http:\n"
            "  server_host: 127.0.0.1\n"
            f"  server_port: {self.port}\n"
            "api:\n"
            "config:\n"
            "onboarding:\n"
        )
        started = time.monotonic()
        with open(self.folder / "stdout.log", "wb") as out:
            self.process = subprocess.Popen(
                [str(python), "-I", "-m", "homeassistant", "--config", str(config), "--skip-pip"],
                stdout=out,
                stderr=subprocess.STDOUT,
                # nothing of the caller's Python or locale settings; HOME for its caches
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(self.folder)},
                cwd=self.folder,
            )
        deadline = started + timeout_s
        self._wait(lambda: self._status("/api/onboarding") == 200, deadline, "its HTTP server")
        self.onboard()
        self._wait(lambda: self.get("/api/config").get("state") == "RUNNING", deadline, "RUNNING")
        self.startup_s = time.monotonic() - started
        self.version = self.get("/api/config")["version"]
        return self

    def stop(self, timeout_s: float = STOP_S) -> int | None:
        """SIGTERM, SIGKILL if it is still there after timeout_s; remove the folder. Exit code."""
        code = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(10)
            code = self.process.returncode
            self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)
        return code

    def __enter__(self) -> HomeAssistant:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def log_file(self) -> Path:
        return self.folder / "config" / "home-assistant.log"

    def log_size(self) -> int:
        """Where the log ends now: complaints(since=...) reads what comes after."""
        return self.log_file.stat().st_size if self.log_file.exists() else 0

    def complaints(self, since: int, loggers: tuple[str, ...]) -> list[str]:
        """Warnings and errors logged after byte `since` by these loggers or their children."""
        if not self.log_file.exists():
            return []
        with self.log_file.open("rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
        found = []
        for line in text.splitlines():
            match = COMPLAINT.match(line)
            if match and match["logger"].startswith(loggers):
                found.append(line)
        return found

    def log_tail(self, lines: int = 15) -> str:
        log = self.folder / "config" / "home-assistant.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        out = self.folder / "stdout.log"
        text += out.read_text(errors="replace") if out.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _wait(self, condition: Callable[[], object], deadline: float, what: str) -> None:
        def ready() -> bool:
            if self.process is None or self.process.poll() is not None:
                raise HomeAssistantError(f"Home Assistant exited before {what}:\n{self.log_tail()}")
            try:
                return bool(condition())
            except (OSError, HomeAssistantError):  # not listening yet, or 404 before set-up
                return False

        if not wait_until(ready, max(0.0, deadline - time.monotonic()), step_s=0.1):
            raise HomeAssistantError(f"Home Assistant: no {what} in time:\n{self.log_tail()}")

    # --- REST ------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        form: bool = False,
        parse: bool = True,
        raw: bool = False,
    ) -> tuple[int, Any]:
        headers = {}
        data = None
        if body is not None and form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_S) as response:
                status, body_bytes = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body_bytes = error.code, error.read()
        if raw:  # the body's bytes: a picture
            return status, body_bytes
        if not parse:
            return status, body_bytes.decode(errors="replace")
        try:
            return status, json.loads(body_bytes) if body_bytes else None
        except ValueError:
            return status, body_bytes.decode(errors="replace")

    def picture(self, entity_id: str) -> bytes | None:
        """What an image entity shows (GET /api/image_proxy/<id>); None while it has none."""
        status, body = self._request("GET", f"/api/image_proxy/{entity_id}", raw=True)
        return body if status == 200 else None

    def _status(self, path: str) -> int:
        return self._request("GET", path)[0]

    def get(self, path: str) -> Any:
        status, reply = self._request("GET", path)
        if status != 200:
            raise HomeAssistantError(f"GET {path}: HTTP {status} {reply}")
        return reply

    def post(self, path: str, body: dict[str, Any], *, form: bool = False) -> Any:
        status, reply = self._request("POST", path, body, form=form)
        if status != 200:
            raise HomeAssistantError(f"POST {path}: HTTP {status} {reply}")
        return reply

    def onboard(self) -> None:
        """Create the owner as the onboarding UI does; keep an access token for it."""
        reply = self.post(
            "/api/onboarding/users",
            {
                "client_id": self.client_id,
                "name": "Test Owner",
                "username": "owner",
                "password": "owner-password-for-tests",
                "language": "en",
            },
        )
        tokens = self.post(
            "/auth/token",
            {
                "grant_type": "authorization_code",
                "code": reply["auth_code"],
                "client_id": self.client_id,
            },
            form=True,
        )
        self.token = tokens["access_token"]

    def add_mqtt(self, host: str, port: int) -> dict[str, Any]:
        """The MQTT integration on host:port, through the config flow the UI drives."""
        flow = self.post("/api/config/config_entries/flow", {"handler": "mqtt"})
        if flow.get("type") != "form" or flow.get("step_id") != "broker":
            raise HomeAssistantError(f"MQTT config flow: expected the broker form, got {flow}")
        done = self.post(
            f"/api/config/config_entries/flow/{flow['flow_id']}", {"broker": host, "port": port}
        )
        if done.get("type") != "create_entry":
            raise HomeAssistantError(f"MQTT config flow for {host}:{port} failed: {done}")
        entry: dict[str, Any] = done["result"]
        return entry

    def states(self) -> dict[str, dict[str, Any]]:
        """Every entity's state object (GET /api/states), by entity id."""
        return {item["entity_id"]: item for item in self.get("/api/states")}

    def state(self, entity_id: str) -> dict[str, Any] | None:
        """One entity's state object (GET /api/states/<id>); None while it does not exist."""
        status, reply = self._request("GET", f"/api/states/{entity_id}")
        if status == 404:
            return None
        if status != 200:
            raise HomeAssistantError(f"GET /api/states/{entity_id}: HTTP {status} {reply}")
        return dict(reply)

    def render(self, template: str) -> str:
        """A template rendered by Home Assistant (POST /api/template), as text."""
        status, reply = self._request("POST", "/api/template", {"template": template}, parse=False)
        if status != 200:
            raise HomeAssistantError(f"POST /api/template: HTTP {status} {reply}")
        return str(reply)

    def device(self, name: str) -> dict[str, Any] | None:
        """The device registry's entry called `name`: {"id", "entities"}; None if none is.

        Through templates (device_id() also finds a device by its name), which the REST API
        renders: the registries themselves are only on the websocket API.
        """
        found = json.loads(
            self.render(
                f"{{% set id = device_id({json.dumps(name)}) %}}"
                "{{ {'id': id, 'entities': device_entities(id) if id else []} | tojson }}"
            )
        )
        return None if found["id"] is None else dict(found)
