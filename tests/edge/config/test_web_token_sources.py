"""web.token, web.token_file, web.token_env (issue 22): one source at most, each read as
mqtt.password_file/password_env are, and the weak-token rules applied to all of them; a
problem is one line naming the key, never the token."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge.config import load_config
from edge.config.view import WebConfig
from edge.errors import ConfigError
from tests.conftest import run_cli, start_program, stop_program, wait_until
from tests.edge.web.test_web import http_status
from tests.mqtt_broker import free_port

STRONG = "Tq8wXn3Rb6Lz-sources"
WEAK = "1234567890123456789"  # long enough, but digits only


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (STRONG.encode() + b"\n", STRONG),
        (STRONG.encode() + b"\r\n", STRONG),  # written on Windows
        (b"  " + STRONG.encode() + b"  ", STRONG),
    ],
    ids=["lf", "crlf", "spaces-around"],
)
def test_a_token_file_gives_its_token_stripped(tmp_path, content, expected):
    cfg = WebConfig(token_file=write(tmp_path / "t", content))
    assert cfg.resolve_token({}) == expected


def test_a_token_file_under_the_credentials_directory(tmp_path, monkeypatch):
    (tmp_path / "web_token").write_text(STRONG + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    cfg = WebConfig(token_file="${CREDENTIALS_DIRECTORY}/web_token")
    assert cfg.resolve_token() == STRONG


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda d: str(d / "absent"), "No such file or directory (create it, or fix the path)"),
        (lambda d: str(d), "not a regular file|Is a directory"),
        (lambda d: write(d / "t", b"\xff\xfetoken"), "not UTF-8 text (write the token as UTF-8)"),
        (lambda d: write(d / "t", WEAK.encode()), "the token is digits only"),
        (lambda d: write(d / "t", b"short-Tok3n"), "the token is 11 characters long"),
        (lambda d: write(d / "t", b""), "the token is 0 characters long"),
        (lambda d: write(d / "t", b"abcdefghijklmnopqrst"), "the token is mostly a run"),
        (lambda d: write(d / "t", b"Xq9" * 2000), "is over 4 kB"),
        (lambda d: "${EDGE_TEST_UNSET_DIR}/web_token", "names a variable that is not set"),
    ],
    ids=[
        "missing",
        "directory",
        "not-utf8",
        "digits",
        "short",
        "empty",
        "run",
        "huge",
        "unset-var",
    ],
)
def test_a_bad_token_file_is_refused_naming_the_key(tmp_path, setup, expected):
    setting = setup(tmp_path)
    with pytest.raises(ValueError) as caught:
        WebConfig(enabled=True, token_file=setting)  # read only for a view that runs
    message = str(caught.value)
    assert "token_file" in message and any(e in message for e in expected.split("|")), message
    assert WEAK not in message and "abcdefghijklmnopqrst" not in message  # never the token


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"EDGE_WEB_TOKEN": STRONG}, STRONG),
        ({"EDGE_WEB_TOKEN": f" {STRONG}\n"}, STRONG),
        ({}, ConfigError("web.token_env: environment variable EDGE_WEB_TOKEN is not set")),
        ({"EDGE_WEB_TOKEN": WEAK}, ConfigError("web.token_env: the token is digits only")),
        ({"EDGE_WEB_TOKEN": "abc"}, ConfigError("web.token_env: the token is 3 characters")),
        ({"EDGE_WEB_TOKEN": ""}, ConfigError("web.token_env: the token is 0 characters")),
    ],
    ids=["strong", "stripped", "unset", "digits", "short", "empty"],
)
def test_a_token_from_the_environment(environ, expected):
    cfg = WebConfig(token_env="EDGE_WEB_TOKEN")
    if isinstance(expected, Exception):
        with pytest.raises(type(expected)) as caught:
            cfg.resolve_token(environ)
        assert str(expected) in str(caught.value)
        assert WEAK not in str(caught.value)
    else:
        assert cfg.resolve_token(environ) == expected


@pytest.mark.parametrize(
    "sources",
    [
        {"token": STRONG, "token_file": "FILE"},
        {"token": STRONG, "token_env": "EDGE_WEB_TOKEN"},
        {"token_file": "FILE", "token_env": "EDGE_WEB_TOKEN"},
        {"token": STRONG, "token_file": "FILE", "token_env": "EDGE_WEB_TOKEN"},
    ],
    ids=["token+file", "token+env", "file+env", "all-three"],
)
def test_at_most_one_token_source(tmp_path, sources):
    secret = write(tmp_path / "t", STRONG.encode())
    config = tmp_path / "c.yaml"
    lines = [f"  {key}: {secret if value == 'FILE' else value}" for key, value in sources.items()]
    config.write_text("web:\n" + "\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    assert "give only one of token, token_file and token_env" in message
    assert STRONG not in message


def test_a_configured_token_is_used_as_it_is():
    assert WebConfig(token=STRONG).resolve_token({}) == STRONG
    assert WebConfig().resolve_token({}) is None  # none: `run` generates one if it must


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "web.token_file: No such file or directory"),
        (WEAK.encode(), "web.token_file: the token is digits only"),
        (b"\xff\xfe\x00", "web.token_file: not UTF-8 text"),
    ],
    ids=["missing", "weak", "not-utf8"],
)
def test_check_config_refuses_a_bad_token_file_in_one_line(tmp_path, content, expected):
    secret = tmp_path / "web_token"
    if content is not None:
        secret.write_bytes(content)
    config = tmp_path / "c.yaml"
    config.write_text(f"web:\n  enabled: true\n  token_file: {secret}\n")
    proc = run_cli("check-config", str(config), timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert WEAK not in proc.stderr and "Traceback" not in proc.stderr


def test_run_serves_with_the_token_from_the_environment(tmp_path):
    port, state = free_port(), tmp_path / "state"
    env = {**os.environ, "STATE_DIRECTORY": str(state), "EDGE_WEB_TOKEN": STRONG}
    config = tmp_path / "c.yaml"
    config.write_text("web:\n  token_env: EDGE_WEB_TOKEN\n")
    proc = start_program(
        *("run", "--demo", "--loop", "true", "--config", str(config)),
        *("--web", f"0.0.0.0:{port}", "--output", "/dev/null"),
        env=env,
    )
    base = f"http://127.0.0.3:{port}"  # another address of the loopback range
    try:
        assert wait_until(lambda: http_status(f"{base}/healthz") is not None, 60)
        assert http_status(f"{base}/api/result") == 401
        assert http_status(f"{base}/api/result?token=not-{STRONG}") == 401
        assert http_status(f"{base}/api/result?token={STRONG}") == 200
    finally:
        log = stop_program(proc)
    assert STRONG not in log and "web: open" not in log  # chosen, so never shown
    assert not state.exists()  # nothing generated, nothing kept


def test_run_refuses_a_weak_token_from_the_environment_in_one_line(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("web:\n  token_env: EDGE_WEB_TOKEN\n")
    proc = run_cli(
        *("run", "--demo", "--max-frames", "1", "--config", str(config)),
        *("--web", f"127.0.0.2:{free_port()}", "--output", "/dev/null"),
        env={**os.environ, "EDGE_WEB_TOKEN": WEAK},
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "web.token_env: the token is digits only" in lines[0]
    assert WEAK not in proc.stderr
