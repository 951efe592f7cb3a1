"""The command line in-process (edge.app.cli): flags become config values, errors an exit code.

The end-to-end runs of the real program are in test_cli.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from edge.app.cli import build_parser, config_from_args, main, parse_bool
from edge.config import DEMO_SAMPLE
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        (" Yes ", True),
        ("1", True),
        ("on", True),
        ("FALSE", False),
        ("no", False),
        ("0", False),
        ("off", False),
        ("maybe", argparse.ArgumentTypeError),
        ("", argparse.ArgumentTypeError),
    ],
)
def test_parse_bool(text, expected):
    if expected is argparse.ArgumentTypeError:
        with pytest.raises(expected, match=f"expected true or false, got {text!r}"):
            parse_bool(text)
    else:
        assert parse_bool(text) is expected


def config_for(*args: str):
    return config_from_args(
        build_parser().parse_args(["run", "--config", str(ROOT / "config.yaml"), *args])
    )


def test_run_flags_override_the_config_file():
    config = config_for("--source", "clip.mp4", "--loop", "yes", "--threads", "3")
    assert (config.source.uri, config.source.loop, config.classifier.threads) == (
        "clip.mp4",
        True,
        3,
    )


@pytest.mark.parametrize(
    ("args", "mqtt", "web"),
    [
        ((), False, False),
        (("--mqtt-host", "broker.lan"), True, False),  # naming a broker turns MQTT on
        (("--web", "8080"), False, True),  # naming a port turns the web view on
    ],
)
def test_naming_a_broker_or_a_port_turns_the_output_on(args, mqtt, web):
    config = config_for(*args)
    assert (config.mqtt.enabled, config.web.enabled) == (mqtt, web)


def test_the_demo_is_headless_on_the_bundled_clip_unless_told_otherwise():
    demo = config_for("--demo")
    assert (demo.source.uri, demo.display.backend) == (str(DEMO_SAMPLE), "none")
    shown = config_for("--demo", "--display", "window", "--source", "other.mp4")
    assert (shown.source.uri, shown.display.backend) == ("other.mp4", "window")


@pytest.mark.usefixtures("signal_handlers_restored", "root_logging_restored")
def test_check_config_names_a_missing_model_and_exits_2(tmp_path: Path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(f"classifier:\n  model: {tmp_path / 'gone.tflite'}\n")
    assert main(["check-config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"emotion-edge: config error: {config}: classifier.model: "
        f"{tmp_path / 'gone.tflite'} does not exist\n"
    )
