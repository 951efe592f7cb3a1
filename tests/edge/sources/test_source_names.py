"""Names a file can have (issue 25, cases 4 and 5): an existing file or folder is read as a
path whatever its name holds (`!`, `[`, `?`, `*`); `source.kind` decides when given; a
pipeline or a glob only when no such path exists."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import pytest

from edge.config import DEMO_SAMPLE, SourceConfig
from edge.config.source import resolve_source
from edge.errors import SourceError
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def astronaut_png(tmp_path_factory) -> Path:
    from skimage import data

    folder = tmp_path_factory.mktemp("photo")
    path = folder / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    return path


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Hello!.png", "images"),
        ("wow!.mp4", "video"),
        ("Title [dQw4w9WgXcQ].mp4", "video"),
        ("what?.png", "images"),
        ("star*.png", "images"),
        ("Photos! 2024", "images"),
        ("photos [2024]", "images"),
    ],
)
def test_an_existing_path_is_a_path_whatever_its_name_holds(tmp_path, astronaut_png, name, kind):
    path = tmp_path / name
    if name.endswith(".mp4"):
        shutil.copy(DEMO_SAMPLE, path)
    elif "." in name:
        shutil.copy(astronaut_png, path)
    else:
        path.mkdir()
        shutil.copy(astronaut_png, path / "a.png")
    assert resolve_source(SourceConfig(uri=str(path))).kind == kind
    assert resolve_source(SourceConfig(uri=str(path))).target == str(path)


def test_kind_decides_when_given(tmp_path):
    assert resolve_source(SourceConfig(uri="0", kind="images")).kind == "images"
    spec = resolve_source(SourceConfig(uri="a ! b ! appsink", kind="images"))
    assert spec == resolve_source(SourceConfig(uri="a ! b ! appsink", kind="images"))
    assert spec.kind == "images"


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("videotestsrc ! videoconvert ! appsink", "gstreamer"),
        ("filesrc location=/x/y.mp4 ! decodebin ! appsink", "gstreamer"),
        ("/no/such/frames/*.png", "images"),
        ("0", "camera"),
        ("rtsp://cam/live", "stream"),
    ],
)
def test_pipelines_and_globs_when_no_such_path_exists(uri, kind):
    assert resolve_source(SourceConfig(uri=uri)).kind == kind


def test_only_ascii_digits_are_a_camera_number(tmp_path):
    # "²".isdigit() is true, and int("²") fails: it used to end in a traceback
    assert resolve_source(SourceConfig(uri="255")).target == 255
    with pytest.raises(SourceError, match="no such file"):
        resolve_source(SourceConfig(uri="²"))
    (tmp_path / "²").write_bytes(b"")  # a file of that name is a file
    assert resolve_source(SourceConfig(uri=str(tmp_path / "²"))).kind == "video"


@pytest.mark.parametrize(
    "uri", ["/no/such/Hello!.png", "clips/wow!.mp4", "~/gone!/x.jpg", "/no/such/Bob's!.png"]
)
def test_a_missing_file_with_a_bang_is_a_missing_file_not_a_pipeline(uri):
    with pytest.raises(SourceError, match="no such file"):
        resolve_source(SourceConfig(uri=uri))


def test_an_image_named_with_a_bang_is_processed_once_and_the_run_ends(tmp_path, astronaut_png):
    photo = tmp_path / "Hello! [1].png"
    shutil.copy(astronaut_png, photo)
    out = tmp_path / "out.jsonl"
    proc = run_cli("run", "--source", str(photo), "--display", "none", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    (line,) = out.read_text().splitlines()
    result = json.loads(line)
    assert result["file"] == str(photo) and result["status"] == "ok"
