"""edge/sources/video_file.py: the one plain reader of a whole video file (bench, convert)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.errors import ConfigError, EdgeError, SourceError
from edge.sources.video_file import VideoFile, video_frames

FPS = 12.0
COUNT = 7


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """COUNT frames, frame i a flat grey of level 30 * i, so each frame says its index."""
    path = tmp_path_factory.mktemp("video") / "levels.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (64, 48))
    assert writer.isOpened(), f"cannot write {path}"
    for i in range(COUNT):
        writer.write(np.full((48, 64, 3), 30 * i, np.uint8))
    writer.release()
    return path


def _levels(frames) -> list[int]:
    return [round(float(frame.mean()) / 30) for frame in frames]


def test_every_frame_in_order_with_the_rate(clip: Path):
    with VideoFile(clip) as video:
        assert video.fps == pytest.approx(FPS)
        frames = list(video.frames())
    assert _levels(frames) == list(range(COUNT))
    assert frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8


@pytest.mark.parametrize(("every_nth", "levels"), [(1, [0, 1, 2, 3, 4, 5, 6]), (3, [0, 3, 6])])
def test_every_nth_frame(clip: Path, every_nth: int, levels: list[int]):
    assert _levels(video_frames(clip, every_nth)) == levels


def test_frames_are_read_one_at_a_time(clip: Path):
    frames = video_frames(clip)
    assert _levels([next(frames), next(frames)]) == [0, 1]
    frames.close()  # a generator left early releases the file


@pytest.mark.parametrize(
    ("content", "error", "fix"),
    [
        (None, SourceError, "give a video file"),  # no such file
        (b"", ConfigError, "give --source a video file"),  # empty
        (np.random.default_rng(0).bytes(50_000), EdgeError, "give a photo"),  # noise
    ],
)
def test_a_file_that_is_no_video_is_one_line_naming_it(
    tmp_path: Path, content: bytes | None, error: type[EdgeError], fix: str
):
    path = tmp_path / "junk.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error) as caught:
        list(video_frames(path, error=error, fix=fix))
    assert str(caught.value) == f"{path}: no video frame could be decoded ({fix})"
    assert type(caught.value) is error


def test_a_video_that_opens_but_holds_no_frame_is_the_same_line(tmp_path: Path):
    path = tmp_path / "empty.avi"
    cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (64, 48)).release()
    unreadable = r"empty\.avi: no video frame could be decoded"
    # the container opens (VideoFile is outside pytest.raises): only reading finds nothing
    with VideoFile(path) as video, pytest.raises(SourceError, match=unreadable):
        next(video.frames())


def test_a_folder_is_no_video(tmp_path: Path):
    with pytest.raises(SourceError, match="no video frame could be decoded"):
        VideoFile(tmp_path)


def test_every_nth_below_one_is_refused(clip: Path):
    with VideoFile(clip) as video, pytest.raises(ValueError, match="every_nth must be 1"):
        next(video.frames(0))
