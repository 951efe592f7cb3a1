from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import Config, load_config, resolve_app_path
from edge.errors import ConfigError
from tests.conftest import ROOT, run_cli


def test_shipped_config_is_valid_and_matches_defaults():
    shipped = load_config(ROOT / "config.yaml")
    assert shipped.classifier.model == Config().classifier.model
    assert resolve_app_path(shipped.classifier.model).is_file()


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "classifier:\n  threads: 0\n",
            "classifier.threads: Input should be greater than or equal to 1 (got 0)",
        ),
        ("classifier:\n  threads: many\n", "classifier.threads: Input should be a valid integer"),
        (
            "faces:\n  policy: biggest\n",
            "faces.policy: Input should be 'multiple_faces', 'largest' or 'all' (got 'biggest')",
        ),
        (
            "detector:\n  min_score: 1.5\n",
            "detector.min_score: Input should be less than or equal to 1 (got 1.5)",
        ),
        (
            "detector:\n  model: long_range\n",
            "detector.model: Input should be 'short_range' or 'full_range'",
        ),
        ("source:\n  realtime: maybe\n", "source.realtime: Input should be a valid boolean"),
        (
            "source:\n  reconnect_initial_s: 10\n  reconnect_max_s: 5\n",
            "source: reconnect_max_s (5.0) is below reconnect_initial_s (10.0)",
        ),
        ("source:\n  uri: ''\n", "source.uri: String should have at least 1 character"),
        ("smoothing:\n  alpha: 0\n", "smoothing.alpha: Input should be greater than 0"),
        ("logging:\n  level: LOUD\n", "logging.level: Input should be"),
        (
            "classifer:\n  threads: 2\n",
            "classifer: unknown key (allowed here: classifier, detector, display, faces, logging, mqtt, output, reuse, service, smoothing, source, stats, web)",
        ),
        (
            "source:\n  url: rtsp://cam\n",
            "source.url: unknown key (allowed here: fps, height, kind, loop,",
        ),
        ("source: 5\n", "source: Input should be a valid dictionary or instance of SourceConfig"),
        ("- a\n- b\n", "top level must be a mapping of sections, got list"),
        ("source: [unclosed\n", "not valid YAML at line 2"),
    ],
)
def test_bad_config_names_key_value_and_allowed(tmp_path: Path, yaml_text: str, expected: str):
    path = tmp_path / "config.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert expected in message, message


def test_every_error_is_reported_not_just_the_first(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text("classifier:\n  threads: 0\nfaces:\n  margin: -1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert any("classifier.threads" in line for line in lines)
    assert any("faces.margin" in line for line in lines)


def test_missing_config_file_is_one_line(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"config file not found \(pass --config FILE\)"):
        load_config(tmp_path / "absent.yaml")


def test_overrides_apply_with_key_path():
    config = load_config(None, {"source.uri": "clip.mp4", "classifier.threads": 2})
    assert config.source.uri == "clip.mp4"
    assert config.classifier.threads == 2
    with pytest.raises(ConfigError, match=r"command line: faces.margin: Input should be less"):
        load_config(None, {"faces.margin": 3})


def test_every_field_has_a_description():
    def walk(model: type, prefix: str):
        for name, field in model.model_fields.items():
            assert field.description, f"{prefix}{name} has no description"
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                walk(annotation, f"{prefix}{name}.")

    walk(Config, "")


@pytest.mark.parametrize(
    ("content", "exit_code", "stdout", "stderr"),
    [
        ("classifier:\n  threads: 2\n", 0, "OK", ""),
        ("classifier:\n  threads: -2\n", 2, "", "classifier.threads: Input should be greater"),
        (
            "classifier:\n  model: nowhere.tflite\n",
            2,
            "",
            "classifier.model: nowhere.tflite does not exist",
        ),
        ("mystery: 1\n", 2, "", "mystery: unknown key"),
    ],
)
def test_check_config_command(tmp_path: Path, content, exit_code, stdout, stderr):
    path = tmp_path / "c.yaml"
    path.write_text(content)
    proc = run_cli("check-config", str(path), timeout=60)
    assert proc.returncode == exit_code, proc.stderr
    assert stdout in proc.stdout
    assert stderr in proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_config_defaults_to_shipped_file():
    proc = run_cli("check-config", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "config.yaml: OK" in proc.stdout
