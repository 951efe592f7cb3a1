"""edge/app/outfile.py: the one "can this be written" rule and wording, device and convert."""

from __future__ import annotations

from pathlib import Path

import pytest

from convert.common import ConvertError
from edge.app.outfile import require_writable, require_writable_folder, write_file
from edge.errors import ConfigError


def test_a_new_file_in_missing_folders_is_proved_and_leaves_no_file(tmp_path: Path):
    path = tmp_path / "a" / "b" / "out.jsonl"
    assert require_writable(path, "output.jsonl", "a writable file") == path
    assert path.parent.is_dir() and not path.exists()


def test_an_existing_file_is_kept_as_it_was(tmp_path: Path):
    path = tmp_path / "out.jsonl"
    path.write_text("kept\n")
    require_writable(path, "output.jsonl", "a writable file")
    assert path.read_text() == "kept\n"


@pytest.mark.parametrize(
    ("make", "error", "expected"),
    [
        ("folder", ConfigError, "--summary-json: {path} is a folder; give a writable file"),
        (
            "parent is a file",
            ConvertError,
            "--summary-json: {path} cannot be written (File exists); give a writable file",
        ),
        (
            "under /proc",
            ConfigError,
            "--summary-json: {path} cannot be written (No such file or directory); "
            "give a writable file",
        ),
    ],
)
def test_a_file_that_cannot_be_written_is_one_line_naming_it_and_the_fix(
    tmp_path: Path, make: str, error: type, expected: str
):
    if make == "folder":
        path = tmp_path
    elif make == "parent is a file":
        (tmp_path / "taken").write_bytes(b"")
        path = tmp_path / "taken" / "s.json"
    else:
        path = Path("/proc/nope/s.json")
    with pytest.raises(error) as caught:
        require_writable(path, "--summary-json", "a writable file", error=error)
    assert str(caught.value) == expected.format(path=path)
    assert type(caught.value) is error


def test_a_folder_no_one_may_write_is_refused_before_anything_runs():
    # sysfs: refused to root as well (a chmod'ed folder is not, and CI runs as root)
    folder = Path("/sys")
    refused = r"\((Permission denied|Read-only file system)\)"
    with pytest.raises(ConvertError, match=r"/sys cannot be written " + refused):
        require_writable_folder(folder, "--out", "another folder", error=ConvertError)
    with pytest.raises(ConfigError, match=r"/sys/x\.json cannot be written " + refused):
        write_file(folder / "x.json", b"{}", "--out", "another folder")


def test_a_folder_is_made_and_left_empty(tmp_path: Path):
    folder = tmp_path / "new" / "report"
    assert require_writable_folder(folder, "--out", "another folder") == folder
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_a_file_where_the_folder_should_go_is_one_line(tmp_path: Path):
    (tmp_path / "taken").write_bytes(b"")
    with pytest.raises(ConvertError) as caught:
        require_writable_folder(tmp_path / "taken", "--out", "another folder", error=ConvertError)
    assert str(caught.value).startswith(f"--out: {tmp_path / 'taken'} cannot be written (")
    assert str(caught.value).endswith("); give another folder")


def test_write_file_makes_the_folder_and_writes_the_bytes(tmp_path: Path):
    path = write_file(tmp_path / "m" / "x.tflite", b"\x00\x01", "--out", "a writable --out")
    assert path.read_bytes() == b"\x00\x01"


def test_write_file_into_a_folder_says_so(tmp_path: Path):
    with pytest.raises(ConvertError, match=r"^--out: .* cannot be written \(Is a directory\); "):
        write_file(tmp_path, b"x", "--out", "a writable --out", error=ConvertError)
