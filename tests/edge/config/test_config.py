from __future__ import annotations

import resource
import time
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
            "classifer: unknown key (allowed here: classifier, detector, display, faces, logging, mqtt, output, privacy, reuse, service, smoothing, source, stats, web)",
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
    ("content", "error"),
    [
        ("classifier:\n  threads: 2\n", None),
        (
            "classifier:\n  threads: -2\n",
            "classifier.threads: Input should be greater than or equal to 1 (got -2)",
        ),
        (
            "classifier:\n  model: nowhere.tflite\n",
            "classifier.model: nowhere.tflite does not exist",
        ),
        ("mystery: 1\n", "mystery: unknown key (allowed here: classifier, detector, "),
    ],
    ids=["valid", "out-of-range", "missing-model", "unknown-key"],
)
def test_check_config_command(tmp_path: Path, content, error):
    path = tmp_path / "c.yaml"
    path.write_text(content)
    proc = run_cli("check-config", str(path), timeout=60)
    if error is None:
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"{path}: OK\n", "")
    else:
        assert (proc.returncode, proc.stdout) == (2, ""), proc.stderr
        lines = proc.stderr.splitlines()
        assert len(lines) == 1, proc.stderr  # one line, no traceback
        assert lines[0].startswith(f"emotion-edge: config error: {path}: {error}"), lines[0]


def test_check_config_defaults_to_shipped_file():
    proc = run_cli("check-config", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "config.yaml: OK" in proc.stdout


def _billion_laughs() -> str:
    """Nine levels of nine aliases under `source:`: 9**9 strings once expanded."""
    lines = ["source:", "  a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 8)]
    lines.append("  uri: [" + ", ".join(["*a7"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _unknown_keys(total_bytes: int) -> str:
    line_count = total_bytes // len("unknown_0000000: 1\n") + 1
    return "".join(f"unknown_{i:07d}: 1\n" for i in range(line_count))


def _limit_memory() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


MEMORY_LIMIT = 1024**3  # check-config needs ~35 MB of RSS; the billion laughs took 4.5-8.3 GB
DEADLINE_S = 20  # the billion laughs ran past 60 s


# Each row: the config text ({tmp} is the test's folder), the exit code, and what its one
# line of stderr must say: the key (or problem) and the fix.
@pytest.mark.parametrize(
    ("content", "code", "expected"),
    [
        pytest.param(
            _billion_laughs(),
            2,
            ["more than 100,000 values once its aliases (*name) are expanded", "write them out"],
            id="billion-laughs",
        ),
        pytest.param(
            "source:\n  a: &a x\n  b: [" + ", ".join(["*a"] * 101) + "]\n",
            2,
            ["more than 100 YAML aliases (*name)", "write the values out"],
            id="too-many-aliases",
        ),
        pytest.param(
            "source: &s\n  uri: *s\n",
            2,
            ["contains an alias (*name) of itself", "remove it"],
            id="alias-loop",
        ),
        pytest.param(
            "source: " + "[" * 50_000 + "]" * 50_000 + "\n",
            2,
            ["nested too deeply", "two or three levels deep"],
            id="nested-50000-deep",
        ),
        pytest.param(
            _unknown_keys(50 * 1024**2),
            2,
            ["larger than 1 MB", "is this the right file?"],
            id="50MB-of-unknown-keys",
        ),
        pytest.param(
            "source:\n\tkind: auto\n",
            2,
            [
                "not valid YAML at line 2, column 1: found character '\\t' that cannot start any "
                "token",
                "check quotes, brackets and indentation",
            ],
            id="yaml-syntax-reason",
        ),
        pytest.param(
            "source:\n  width: " + "x" * 100_000 + "\n",
            2,
            ["source.width: Input should be a valid integer", "(got 'xxxx", "…)"],
            id="long-value-shortened",
        ),
        pytest.param(
            "mqtt:\n  enabled: true\n  discovery_prefix: ha/+\n",
            2,
            ["mqtt.discovery_prefix: contains the wildcard + or #", "remove it"],
            id="mqtt-discovery-prefix-wildcard",
        ),
        pytest.param(
            "mqtt:\n  enabled: true\n  topic_prefix: a/#\n",
            2,
            ["mqtt.topic_prefix: contains the wildcard + or #", "remove it"],
            id="mqtt-topic-prefix-wildcard",
        ),
        pytest.param(
            "mqtt:\n  enabled: true\n  client_id: " + "c" * 70_000 + "\n",
            2,
            ["mqtt.client_id: too long for MQTT: 70,000 bytes, at most 65,535", "shorten it"],
            id="mqtt-client-id-70000",
        ),
        pytest.param(
            "mqtt:\n  enabled: true\n  tls:\n    enabled: true\n    ca_file: {tmp}/absent.pem\n",
            2,
            ["mqtt.tls.ca_file: no such file", "give the CA certificate"],
            id="mqtt-ca-file-missing",
        ),
        pytest.param(
            "mqtt:\n  enabled: true\n  tls:\n    enabled: true\n    ca_file: {tmp}/garbage.pem\n",
            2,
            ["mqtt.tls.ca_file: not a PEM CA certificate", "in PEM form"],
            id="mqtt-ca-file-garbage",
        ),
        pytest.param(
            "mqtt:\n  enabled: true\n  password_file: {tmp}/latin1.txt\n",
            2,
            ["mqtt.password_file: not UTF-8 text", "write the password as UTF-8"],
            id="mqtt-password-file-not-utf8",
        ),
        pytest.param(
            "mqtt:\n  enabled: true\n  password_file: {tmp}/absent.txt\n",
            2,
            ["mqtt.password_file: No such file or directory", "create it, or fix the path"],
            id="mqtt-password-file-missing",
        ),
        pytest.param(
            "source:\n  uri: 'videotestsrc ! \"unterminated'\n",
            2,
            ["source.uri: the GStreamer pipeline cannot be split", "close the quote"],
            id="gstreamer-unbalanced-quote",
        ),
        pytest.param(  # used to reach cv2.VideoCapture and print OpenCV's traceback
            "source:\n  uri: '99999999999999999999'\n",
            2,
            ["source.uri: camera 99999999999999999999 cannot exist", "ls /dev/video*"],
            id="camera-index-too-large",
        ),
    ],
)
def test_hostile_config_is_one_line_in_bounded_time_and_memory(
    tmp_path: Path, content: str, code: int, expected: list[str]
):
    (tmp_path / "garbage.pem").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "latin1.txt").write_bytes("pässword\n".encode("latin-1"))
    path = tmp_path / "c.yaml"
    path.write_text(content.replace("{tmp}", str(tmp_path)), encoding="utf-8")
    started = time.monotonic()
    proc = run_cli("check-config", str(path), timeout=DEADLINE_S, preexec_fn=_limit_memory)
    assert proc.returncode == code, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr[-2000:]
    assert len(lines[0]) < 400, lines[0]
    for text in expected:
        assert text in lines[0], lines[0]
    assert time.monotonic() - started < DEADLINE_S


def test_many_problems_are_capped_at_five_lines(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text(_unknown_keys(200_000))  # under 1 MB: parsed, then ~10,500 unknown keys
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 6
    assert all("unknown key" in line for line in lines[:5])
    assert "…and " in lines[5] and "more problems" in lines[5]


def test_password_file_is_read_only_when_mqtt_is_on(tmp_path: Path):
    absent = tmp_path / "absent"
    assert load_config(None, {"mqtt.password_file": str(absent)}).mqtt.password_file
    with pytest.raises(ConfigError, match=r"mqtt\.password_file: No such file"):
        load_config(None, {"mqtt.enabled": True, "mqtt.password_file": str(absent)})
    (tmp_path / "pw").write_text("s3cret\n")
    config = load_config(None, {"mqtt.enabled": True, "mqtt.password_file": str(tmp_path / "pw")})
    assert config.mqtt.resolve_password() == "s3cret"


@pytest.mark.parametrize(
    "uri",
    ["videotestsrc ! appsink", "v4l2src device=/dev/video0 ! 'video/x-raw,width=640' ! x", "0"],
)
def test_good_sources_pass(uri: str):
    assert load_config(None, {"source.uri": uri}).source.uri == uri
