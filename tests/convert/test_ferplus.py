"""FER+ as it lies on disk: the vote rule, the two dataset layouts, their one-line errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from convert import ferplus
from convert.common import ConvertError
from convert.trainset import layout_of, load
from tests.conftest import FERPLUS, needs_ferplus

# votes in FER+'s order: neutral, happy, surprise, sad, angry, disgust, fear, contempt, unknown, NF
RULE = [
    # votes, kept (trains), strict majority (scored) or None
    ((4, 0, 0, 1, 3, 2, 0, 0, 0, 0), True, "neutral"),
    ((0, 10, 0, 0, 0, 0, 0, 0, 0, 0), True, "happy"),
    ((0, 5, 5, 0, 0, 0, 0, 0, 0, 0), True, None),  # a tie of two emotions: trains, not scored
    ((2, 0, 0, 0, 0, 0, 0, 6, 2, 0), False, None),  # contempt's majority: left out
    ((3, 0, 0, 0, 0, 0, 0, 3, 0, 4), False, None),  # not a face
    ((4, 0, 0, 0, 0, 0, 0, 0, 4, 2), False, None),  # tied with unknown
    ((0, 0, 0, 0, 0, 3, 1, 2, 0, 0), True, "disgust"),  # contempt votes below the top: dropped
    ((0,) * 10, False, None),
]


@pytest.mark.parametrize(("votes", "kept", "majority"), RULE)
def test_the_vote_rule(votes, kept, majority):
    face = ferplus.VotedFace("x.png", votes)
    assert face.kept is kept
    assert face.majority == (None if majority is None else ferplus.LABELS.index(majority))
    if kept:
        distribution = face.distribution()
        assert distribution.sum() == pytest.approx(1.0)
        ours = {label: votes[ferplus.VOTE_COLUMNS.index(label)] for label in ferplus.LABELS}
        total = sum(ours.values())
        for label, p in zip(ferplus.LABELS, distribution, strict=True):
            assert p == pytest.approx(ours[label] / total)


def _fake_ferplus(root: Path, rows: dict[str, list[tuple[int, ...]]]) -> Path:
    """A FER+-shaped folder of noise faces (our own pixels: FER+ images never leave ../shared)."""
    rng = np.random.default_rng(0)
    for split, votes in rows.items():
        folder = root / ferplus.SPLITS[split]
        folder.mkdir(parents=True)
        lines = []
        for k, v in enumerate(votes):
            name = f"face{k:04d}.png"
            cv2.imwrite(str(folder / name), rng.integers(0, 255, (48, 48), dtype=np.uint8))
            lines.append(f'{name},"(0, 0, 48, 48)",{",".join(map(str, v))}')
        (folder / "label.csv").write_text("\n".join(lines) + "\n")
    return root


def test_a_ferplus_folder_loads_with_distributions_and_scored_faces(tmp_path: Path):
    votes = [row[0] for row in RULE]
    root = _fake_ferplus(tmp_path / "fp", {s: votes for s in ("train", "valid", "test")})
    (root / "FER2013Train" / "face0001.png").write_bytes(b"broken")
    data = load(root, 48, 1, cache=tmp_path / "cache")
    assert data.layout == "ferplus" and data.classes == ferplus.LABELS
    train, test = data.splits["train"], data.splits["test"]
    kept = [r for r in RULE if r[1]]
    assert len(test.images) == len(kept) and train.skipped == 1
    assert len(train.images) == len(kept) - 1
    assert [ferplus.LABELS[i] for i in test.scored_labels] == [r[2] for r in kept if r[2]]
    assert test.images.shape[1:] == (48, 48, 1) and test.images.dtype == np.uint8
    # the second load is the cache's, and the same
    again = load(root, 48, 1, cache=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 3
    np.testing.assert_array_equal(again.splits["test"].images, test.images)
    np.testing.assert_array_equal(again.splits["train"].targets, train.targets)


def test_a_changed_label_file_is_decoded_again(tmp_path: Path):
    root = _fake_ferplus(tmp_path / "fp", {s: [RULE[0][0], RULE[1][0]] for s in ferplus.SPLITS})
    assert len(load(root, 48, 1, cache=tmp_path / "c").splits["test"].images) == 2
    label_csv = root / "FER2013Test" / "label.csv"
    label_csv.write_text(label_csv.read_text().splitlines()[0] + "\n")
    assert len(load(root, 48, 1, cache=tmp_path / "c").splits["test"].images) == 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            'a.png,"(0, 0, 48, 48)",1,2,3',
            r"label.csv, row 1: expected `name, box, ten vote counts`",
        ),
        ('a.png,"(0, 0, 48, 48)",1,2,3,4,5,6,7,8,9,x', "row 1: expected"),
        ('a.png,"(0, 0, 48, 48)",1,2,3,4,5,6,7,8,9,-1', "row 1: expected"),
        ("", "no rows"),
    ],
)
def test_a_malformed_label_file_is_one_line(tmp_path: Path, row, message):
    (tmp_path / "label.csv").write_text(row + "\n")
    with pytest.raises(ConvertError, match=message):
        ferplus.read_votes(tmp_path / "label.csv")


def test_a_folder_in_neither_layout_names_both(tmp_path: Path):
    (tmp_path / "train").mkdir()
    with pytest.raises(ConvertError) as error:
        layout_of(tmp_path)
    message = str(error.value)
    assert "FER2013Train/label.csv" in message and "train/<class>/" in message
    assert "valid/, test/ missing" in message and "\n" not in message
    with pytest.raises(ConvertError, match="data folder not found"):
        layout_of(tmp_path / "nowhere")


def test_a_ferplus_folder_missing_a_split_says_which(tmp_path: Path):
    root = _fake_ferplus(tmp_path / "fp", {"train": [RULE[0][0]], "valid": [RULE[0][0]]})
    with pytest.raises(ConvertError, match=r"FER2013Test/label.csv: missing"):
        load(root, 48, 1, cache=tmp_path / "c")


@needs_ferplus
def test_the_shared_ferplus_counts_match_its_readme():
    """The README of ../shared/data/ferplus: 26,775 / 3,370 / 3,344 strict-majority faces."""
    counts = {
        split: sum(
            f.majority is not None
            for f in ferplus.read_votes(ferplus.split_folder(FERPLUS, split) / "label.csv")
        )
        for split in ferplus.SPLITS
    }
    assert counts == {"train": 26775, "valid": 3370, "test": 3344}
    files, missing = ferplus.scored_files(FERPLUS / "FER2013Test", ferplus.LABELS)
    assert len(files) == 3344 and not missing
    by_label = np.bincount([i for _, i in files], minlength=7)
    assert dict(zip(ferplus.LABELS, by_label.tolist(), strict=True)) == {
        "angry": 312, "disgust": 20, "fear": 96, "happy": 908, "neutral": 1160, "sad": 424,
        "surprise": 424,
    }  # fmt: skip


def test_a_ferplus_folder_without_its_images_says_how_to_make_them(tmp_path: Path):
    root = _fake_ferplus(tmp_path / "fp", {s: [RULE[0][0]] * 3 for s in ferplus.SPLITS})
    for png in (root / "FER2013Train").glob("*.png"):
        png.unlink()  # FERPlus's repository ships the votes, not the images
    with pytest.raises(
        ConvertError, match=r"FER2013Train: none of the 3 images .* generate_training_data.py"
    ):
        load(root, 48, 1, cache=tmp_path / "c")


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 truncated"])
def test_a_damaged_cache_is_decoded_again(tmp_path: Path, damage):
    root = _fake_ferplus(tmp_path / "fp", {s: [RULE[0][0], RULE[1][0]] for s in ferplus.SPLITS})
    first = load(root, 48, 1, cache=tmp_path / "c").splits["test"].images
    for cached in (tmp_path / "c").glob("*.npz"):
        cached.write_bytes(damage)
    again = load(root, 48, 1, cache=tmp_path / "c").splits["test"].images
    np.testing.assert_array_equal(first, again)


def test_a_label_file_that_is_not_text_is_one_line(tmp_path: Path):
    (tmp_path / "label.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConvertError, match=r"label.csv: not a FER\+ label file"):
        ferplus.read_votes(tmp_path / "label.csv")
