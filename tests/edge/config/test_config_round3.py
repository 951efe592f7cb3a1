"""Config files a careless edit or an odd file type makes (issue 25, cases 6 and 10): refused
with one line naming the key or the file and the fix, and `check-config` refuses what `run`
would refuse, so the unit's ExecStartPre fails fast instead of a restart loop."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from edge.app.cli import check_runnable
from edge.config import load_config
from edge.errors import ConfigError, ModelError, SourceError
from tests.conftest import run_cli


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "mqtt:\n  enabled: true\n  host: a\nsource:\n  uri: '0'\nmqtt:\n  enabled: false\n",
            "mqtt is given twice, at lines 1 and 6: keep one",
        ),
        (
            "mqtt:\n  host: a\n  port: 1883\n  host: b\n",
            "mqtt.host is given twice, at lines 2 and 4",
        ),
        ("faces:\n  margin: 0.2\n  margin: 0.3\n", "faces.margin is given twice, at lines 2 and 3"),
    ],
)
def test_a_key_given_twice_is_refused_with_both_lines(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_the_same_name_in_two_sections_is_no_duplicate(tmp_path):
    text = "detector:\n  model: full_range\nclassifier:\n  model: models/x.tflite\n"
    config = load_config(write(tmp_path, text))
    assert config.detector.model == "full_range"
    assert config.classifier.model == "models/x.tflite"


def test_a_fifo_as_config_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    proc = run_cli("check-config", str(fifo), timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"emotion-edge: config error: {fifo}: not a regular file; give the path of a config.yaml"
    ]


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (
            "output:\n  jsonl: /proc/nope/x.jsonl\n",
            ConfigError,
            r"output.jsonl: /proc/nope/x.jsonl cannot be written \(No such file",
        ),
        (
            "output:\n  jsonl: ''\n",
            ConfigError,
            r"output.jsonl: String should have at least 1 character",
        ),
        ("source:\n  uri: /no/such/clip.mp4\n", SourceError, r"/no/such/clip.mp4: no such file"),
        (
            "detector:\n  model_path: /no/such/face.tflite\n",
            ModelError,
            r"/no/such/face.tflite: face detector model not found \(run ./setup.sh from the project folder, or set detector.model_path\)",
        ),
    ],
)
def test_check_config_refuses_what_run_refuses(tmp_path, text, error, message):
    with pytest.raises(error, match=message):
        check_runnable(load_config(write(tmp_path, text)), tmp_path / "config.yaml")
    path = write(tmp_path, text)
    checked = run_cli("check-config", str(path))
    ran = run_cli("run", "--config", str(path), "--max-frames", "1", "--display", "none")
    assert checked.returncode != 0 and ran.returncode != 0
    assert len(checked.stderr.strip().splitlines()) == 1, checked.stderr
    assert "Traceback" not in checked.stderr + ran.stderr
