"""web.token: weak tokens refused when the config loads (check-config too), never echoed."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from edge.config import load_config
from edge.config.view import WebConfig, token_problem
from edge.errors import ConfigError
from tests.conftest import run_cli

HOW = 'make a strong one with python3 -c "import secrets; print(secrets.token_urlsafe(24))"'


@pytest.mark.parametrize(
    ("yaml_value", "problem"),
    [
        ('"        "', "contains spaces or control characters"),  # 8 spaces
        ("12345678", "is 8 characters long; at least 16 are needed"),  # YAML reads a number
        ('"12345678"', "is 8 characters long; at least 16 are needed"),
        ("s3cret-token-42", "is 15 characters long; at least 16 are needed"),
        ("1234567890123456789", "is digits only"),
        ("aaaaaaaaaaaaaaaaaaaa", "has only 1 different characters; at least 8"),
        ("abababab-abababab-ab", "has only 3 different characters; at least 8"),
        ("abcdefghijklmnopqrst", "is mostly a run or a repeated pattern"),
        ("zyxwvutsrqponmlkjihg", "is mostly a run or a repeated pattern"),
        ("password-password", "is mostly a run or a repeated pattern"),
        ('"my camera token 2024"', "contains spaces or control characters"),
        ('"tab\\there-and-long-enough"', "contains spaces or control characters"),
        ("true", "must be text (put it in quotes)"),
        ("[Xq9zLm2vR7kT4wB8]", "must be text (put it in quotes)"),
    ],
)
def test_weak_tokens_are_refused_with_how_to_make_one(tmp_path: Path, yaml_value, problem):
    config = tmp_path / "c.yaml"
    config.write_text(f"web:\n  token: {yaml_value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    message = str(caught.value)
    assert f"web.token: {problem}" in message
    assert HOW in message and "(got '***')" in message
    assert len(message.splitlines()) == 1
    shown = yaml_value.strip('"[]')
    assert shown.strip() == "" or shown not in message  # the token itself is not quoted


@pytest.mark.parametrize(
    "token",
    [
        secrets.token_urlsafe(24),
        secrets.token_hex(16),
        "Vq7-Lm2xR9kTz4Wb8Nc3",
        "correct-horse-battery-staple",
    ],
)
def test_strong_tokens_are_accepted(token):
    assert token_problem(token) is None
    assert WebConfig(token=token).token == token
    assert WebConfig(token=None).token is None


def test_random_tokens_are_never_refused():
    made = [secrets.token_urlsafe(24) for _ in range(2000)] + [
        secrets.token_hex(16) for _ in range(2000)
    ]
    assert [token for token in made if token_problem(token)] == []


def test_check_config_refuses_a_weak_token(tmp_path: Path):
    config = tmp_path / "c.yaml"
    config.write_text("web:\n  enabled: true\n  token: '12345678'\n")
    proc = run_cli("check-config", str(config), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "web.token: is 8 characters long" in proc.stderr and HOW in proc.stderr
    assert "12345678" not in proc.stderr and "Traceback" not in proc.stderr
