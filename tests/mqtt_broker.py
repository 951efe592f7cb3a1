"""A real Mosquitto for tests: loopback only, a free port, stopped by its pid; and a subscriber."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt

from tests.conftest import wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_test_ca(
    folder: Path, name: str, names: str = "IP:127.0.0.1,DNS:localhost"
) -> dict[str, Path]:
    """A CA and a server certificate for `names`, made with the openssl CLI."""
    ca_key, ca_crt = folder / f"{name}-ca.key", folder / f"{name}-ca.crt"
    key, csr, crt = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.crt"
    ext = folder / f"{name}.ext"
    ext.write_text(f"subjectAltName={names}\n")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        f"/CN={name} CA",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_crt),
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        str(key),
        "-out",
        str(csr),
    )
    run(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca_crt),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(ext),
        "-out",
        str(crt),
    )
    return {"ca": ca_crt, "cert": crt, "key": key}


@dataclass
class Broker:
    folder: Path
    port: int = field(default_factory=free_port)
    users: dict[str, str] = field(default_factory=dict)
    tls: dict[str, Path] | None = None
    persistent: bool = False  # keep sessions (and retained messages) across a restart
    extra: list[str] = field(default_factory=list)  # more mosquitto.conf lines (limits)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Broker:
        assert shutil.which("mosquitto"), "mosquitto missing: ./setup.sh --dev installs it"
        # started as root, mosquitto would switch to its own user, who cannot read pytest's
        # private temporary folders: keep it as whoever runs the tests
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"user {pwd.getpwuid(os.getuid()).pw_name}",
            f"log_dest file {self.folder / 'mosquitto.log'}",
        ]
        if self.persistent:
            lines += [
                "persistence true",
                f"persistence_location {self.folder}/",
                "queue_qos0_messages true",  # for a persistent subscriber that is away
            ]
        else:
            lines.append("persistence false")
        if self.users:
            passwd = self.folder / "passwd"
            passwd.unlink(missing_ok=True)
            for user, password in self.users.items():
                flags = ["-b", "-c"] if not passwd.exists() else ["-b"]
                subprocess.run(
                    ["mosquitto_passwd", *flags, str(passwd), user, password],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls:
            lines += [
                f"cafile {self.tls['ca']}",
                f"certfile {self.tls['cert']}",
                f"keyfile {self.tls['key']}",
            ]
        conf = self.folder / "mosquitto.conf"
        conf.write_text("\n".join([*lines, *self.extra]) + "\n")
        self.process = subprocess.Popen(
            ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not wait_until(self._accepts, 10):
            self.stop()
            raise RuntimeError(f"mosquitto did not start: {(self.folder / 'mosquitto.log')}")
        return self

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


class Subscriber:
    """Collects every message under `topics`, retained ones included."""

    def __init__(self, port: int, topics: list[str], session: str | None = None) -> None:
        """`session`: a client id whose subscriptions the broker keeps while it is away."""
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=session or f"test-{id(self)}",
            clean_session=session is None,
        )
        self.client.reconnect_delay_set(1, 1)  # back soon after a broker restart
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: [c.subscribe(t, qos=1) for t in topics]
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def _on_message(self, client: object, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, bool(message.retain)))

    def payloads(self, topic: str) -> list[bytes]:
        with self._lock:
            return [payload for t, payload, _ in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def retained_now(port: int, topic_filter: str = "#", timeout_s: float = 10) -> dict[str, bytes]:
    """The retained messages the broker holds under `topic_filter` at this moment.

    The broker sends them when it handles the SUBSCRIBE; a message published after the
    SUBACK on a second topic arrives after all of them, so its arrival ends the list.
    """
    held: dict[str, bytes] = {}
    subscribed, complete = threading.Event(), threading.Event()
    marker = f"test-marker/{uuid.uuid4().hex}"

    def on_message(client: object, userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic == marker:
            complete.set()
        elif message.retain:
            held[message.topic] = message.payload

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"held-{marker[12:]}")
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    try:
        client.subscribe([(topic_filter, 1), (marker, 1)])
        assert subscribed.wait(timeout_s), "no SUBACK"
        client.publish(marker, "end", qos=1)
        assert complete.wait(timeout_s), "the marker did not come back"
    finally:
        client.disconnect()
        client.loop_stop()
    return held
