"""The view from another machine without editing YAML (issue 22): `--web HOST:PORT`, a token
generated for a view others can reach and kept across restarts, and the token read from a
file or the environment. The real program; other addresses of the loopback range stand in
for the network (Linux routes all of 127.0.0.0/8 to lo)."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest

from edge.config.view import web_address
from tests.conftest import run_cli, start_program, stop_program, wait_until
from tests.edge.web.test_web import http_status
from tests.mqtt_broker import free_port

STRONG = "Vq7Lm2xR9kTz-reachable"


def run_with_web(web: str, state: Path, *extra: str, env: dict[str, str] | None = None):
    environment = {**os.environ, "STATE_DIRECTORY": str(state), **(env or {})}
    return start_program(
        *("run", "--demo", "--loop", "true", "--web", web, "--output", "/dev/null", *extra),
        env=environment,
    )


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("8080", (None, 8080)),
        ("0.0.0.0:8080", ("0.0.0.0", 8080)),
        ("mypi.local:81", ("mypi.local", 81)),
        ("[::]:8080", ("::", 8080)),
        ("[fd00::1]:9000", ("fd00::1", 9000)),
    ],
)
def test_the_forms_of_web(text, parsed):
    assert web_address(text) == parsed


@pytest.mark.parametrize("text", [":", "host:", ":8080", "[::1", "[::1]", "a:b:c", "80x", ""])
def test_what_is_not_a_web_address(text):
    with pytest.raises(ValueError, match="is not PORT or HOST:PORT"):
        web_address(text)


def test_a_view_for_the_network_gets_a_token_kept_across_restarts(tmp_path):
    port, state = free_port(), tmp_path / "state"
    other = f"http://127.0.0.3:{port}"  # another address than the one a browser on lo uses
    outputs = []
    for _ in range(2):  # a restart with the same state folder keeps the token
        proc = run_with_web(f"0.0.0.0:{port}", state)
        try:
            assert wait_until(lambda: http_status(f"{other}/healthz") is not None, 60)
            (kept,) = state.glob("web-token-*.txt")
            token = kept.read_text().strip()
            assert oct(kept.stat().st_mode & 0o777) == "0o600"
            assert http_status(f"{other}/api/result") == 401
            assert http_status(f"{other}/api/result?token={token}") == 200
        finally:
            outputs.append((token, stop_program(proc)))
    (first, first_log), (second, second_log) = outputs
    assert first == second
    for log in (first_log, second_log):
        opened = [line for line in log.splitlines() if "web: open http://" in line]
        assert len(opened) == 1, log
        assert f"http://{socket.gethostname()}:{port}/?token=***" in opened[0]
        assert str(state) in opened[0] and first not in log  # the file, never the token


def test_a_host_given_is_the_one_listened_on(tmp_path):
    port = free_port()
    proc = run_with_web(f"127.0.0.2:{port}", tmp_path / "state")
    try:
        assert wait_until(lambda: http_status(f"http://127.0.0.2:{port}/healthz") is not None, 60)
        assert http_status(f"http://127.0.0.2:{port}/api/result") == 200  # loopback: no token
        assert http_status(f"http://127.0.0.1:{port}/api/result") is None  # not listened on
    finally:
        log = stop_program(proc)
    assert "token" not in log and not (tmp_path / "state").exists()


def test_a_token_from_a_file_or_the_environment(tmp_path):
    port, state = free_port(), tmp_path / "state"
    secret = tmp_path / "web_token"
    secret.write_text(STRONG + "\n")
    config = tmp_path / "c.yaml"
    config.write_text(f"web:\n  token_file: {secret}\n")
    base = f"http://127.0.0.3:{port}"
    proc = run_with_web(f"0.0.0.0:{port}", state, "--config", str(config))
    try:
        assert wait_until(lambda: http_status(f"{base}/healthz") is not None, 60)
        assert http_status(f"{base}/api/result") == 401
        assert http_status(f"{base}/api/result?token={STRONG}") == 200
    finally:
        log = stop_program(proc)
    assert STRONG not in log and "web: open" not in log and not state.exists()

    config.write_text("web:\n  token_env: EDGE_WEB_TOKEN\n")
    proc = run_with_web(f"0.0.0.0:{port}", state, "--config", str(config))
    proc.wait(60)
    refused = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 2 and "web.token_env: environment variable EDGE_WEB_TOKEN" in refused


@pytest.mark.parametrize(
    ("web", "expected"),
    [
        (
            "  token_file: {tmp}/absent\n",
            "web.token_file: No such file or directory (create it, or fix the path) (got '{tmp}/absent')",
        ),
        ("  token_file: {tmp}/weak\n", "the token is digits only"),
        (f"  token: {STRONG}\n  token_env: X\n", "give only one of token, token_file"),
    ],
    ids=["missing-file", "weak-token-in-file", "two-sources"],
)
def test_check_config_refuses_what_run_would(tmp_path, web, expected):
    (tmp_path / "weak").write_text("1234567890123456789\n")
    config = tmp_path / "c.yaml"
    config.write_text("web:\n  enabled: true\n" + web.replace("{tmp}", str(tmp_path)))
    proc = run_cli("check-config", str(config), timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and re.search(
        re.escape(expected.replace("{tmp}", str(tmp_path))), lines[0]
    )


def test_a_fifo_as_the_token_file_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "token"
    os.mkfifo(fifo)
    config = tmp_path / "c.yaml"
    config.write_text(f"web:\n  enabled: true\n  token_file: {fifo}\n")
    proc = run_cli("check-config", str(config), timeout=30)
    assert proc.returncode == 2 and "not a regular file" in proc.stderr, proc.stderr


def test_no_folder_for_the_token_is_one_line_saying_what_to_do(tmp_path):
    # a token nobody can read back would lock everyone out: the run says so and stops
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where the state folder should be: nothing is made in it
    proc = run_cli(
        *("run", "--demo", "--max-frames", "2", "--web", f"0.0.0.0:{free_port()}"),
        env={**os.environ, "STATE_DIRECTORY": str(blocker / "state")},
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if "token" in x]
    assert "none can be kept in" in line and "set web.token_file or web.token_env" in line
    assert "Traceback" not in proc.stderr and not list(tmp_path.rglob("*.partial"))


def test_check_config_reads_the_token_only_of_a_view_that_runs(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("web:\n  enabled: false\n  token_file: ${CREDENTIALS_DIRECTORY}/web_token\n")
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    assert run_cli("check-config", str(config), env=env, timeout=60).returncode == 0
    config.write_text("web:\n  enabled: true\n  token_env: EDGE_UNSET_TOKEN\n")
    proc = run_cli("check-config", str(config), env=env, timeout=60)
    assert proc.returncode == 2 and "web.token_env: environment variable" in proc.stderr
