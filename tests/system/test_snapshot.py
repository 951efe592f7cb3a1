"""`emotion-edge snapshot`: one annotated frame for set-up checks and bug reports."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tests.conftest import run_cli

HAPPY_BGR = np.array((0, 215, 255))


def test_snapshot_writes_an_annotated_frame(tmp_path: Path, photo_files):
    out = tmp_path / "shot.png"
    proc = run_cli("snapshot", str(out), "--source", str(photo_files["one"]))
    assert proc.returncode == 0, proc.stderr
    assert f"{out}: ok" in proc.stdout
    image = cv2.imread(str(out))
    assert image.shape == (512, 512, 3)
    assert (np.abs(image.astype(int) - HAPPY_BGR).max(axis=2) < 30).sum() > 200  # the box


def test_snapshot_of_two_faces_says_so(tmp_path: Path, photo_files):
    proc = run_cli("snapshot", str(tmp_path / "two.jpg"), "--source", str(photo_files["two"]))
    assert proc.returncode == 0, proc.stderr
    assert "multiple_faces" in proc.stdout


def test_snapshot_errors(tmp_path: Path, photo_files):
    proc = run_cli("snapshot", str(tmp_path / "shot.gif"), "--source", str(photo_files["one"]))
    assert proc.returncode == 2 and "give a .png or .jpg file name" in proc.stderr
    proc = run_cli("snapshot", str(tmp_path / "s.png"), "--source", str(tmp_path / "none.mp4"))
    assert proc.returncode == 1 and "none.mp4: no such file" in proc.stderr
    assert "Traceback" not in proc.stderr
