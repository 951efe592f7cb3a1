"""FER+ as Microsoft's FERPlus lays it out: FER2013{Train,Valid,Test}/ with label.csv votes.

Each row of label.csv is `name, "(x, y, w, h)", ten vote counts` in the order of VOTE_COLUMNS.
The rule for what is not one of our seven emotions, used everywhere (training, metrics, the
README): a face is *kept* when every column with its top vote count is one of the seven,
so faces whose most-voted answer is contempt, unknown or not-a-face (NF), or tied with one
of them, are left out. A kept face trains on its seven emotions' votes as a probability
distribution (contempt/unknown/NF votes dropped, the rest renormalised). Figures count only
the kept faces with a *strict majority*: one emotion has more votes than every other answer
(the plurality, as ../shared/data/ferplus/README.md defines it; not necessarily more than half
of the ten), so ties between two emotions train but are never scored.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convert.common import ConvertError

VOTE_COLUMNS = (
    "neutral",
    "happy",
    "surprise",
    "sad",
    "angry",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
)
LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]  # our order
SPLITS = {"train": "FER2013Train", "valid": "FER2013Valid", "test": "FER2013Test"}
# where the project keeps it: ../shared/data/ferplus beside the checkout (never inside it)
SHARED_FERPLUS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ferplus"
_TO_OURS = [VOTE_COLUMNS.index(label) for label in LABELS]


@dataclass(frozen=True)
class VotedFace:
    name: str
    votes: tuple[int, ...]  # ten counts in VOTE_COLUMNS order

    @property
    def kept(self) -> bool:
        top = max(self.votes)
        return top > 0 and all(
            VOTE_COLUMNS[i] in LABELS for i, n in enumerate(self.votes) if n == top
        )

    @property
    def majority(self) -> int | None:
        """Index into LABELS of the strict majority, or None (a tie, or not one of ours)."""
        top = max(self.votes)
        winners = [i for i, n in enumerate(self.votes) if n == top]
        if top == 0 or len(winners) != 1 or VOTE_COLUMNS[winners[0]] not in LABELS:
            return None
        return LABELS.index(VOTE_COLUMNS[winners[0]])

    def distribution(self) -> np.ndarray:
        ours = np.array([self.votes[i] for i in _TO_OURS], dtype=np.float32)
        return ours / ours.sum()


def is_ferplus(folder: Path) -> bool:
    return any((folder / name / "label.csv").is_file() for name in SPLITS.values())


def read_votes(label_csv: Path) -> list[VotedFace]:
    """Every row of one split's label.csv; a malformed row is one line naming file and row."""
    try:
        rows = list(csv.reader(label_csv.read_text(encoding="utf-8-sig").splitlines()))
    except OSError as exc:
        raise ConvertError(f"{label_csv}: cannot be read ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConvertError(f"{label_csv}: not a FER+ label file ({exc})") from None
    faces = []
    for number, row in enumerate(rows, start=1):
        if not row:
            continue
        try:
            votes = tuple(int(v) for v in row[2:])
        except ValueError:
            votes = ()
        if len(votes) != len(VOTE_COLUMNS) or min(votes) < 0:
            raise ConvertError(
                f"{label_csv}, row {number}: expected `name, box, ten vote counts` "
                f"({', '.join(VOTE_COLUMNS)}), got {','.join(row)[:80]!r}"
            )
        faces.append(VotedFace(row[0].strip(), votes))
    if not faces:
        raise ConvertError(f"{label_csv}: no rows (expected one per image, ten votes each)")
    return faces


def split_folder(root: Path, split: str) -> Path:
    folder = root / SPLITS[split]
    if not (folder / "label.csv").is_file():
        raise ConvertError(
            f"{folder / 'label.csv'}: missing (a FER+ folder has "
            f"{', '.join(f'{name}/label.csv' for name in SPLITS.values())})"
        )
    return folder


def is_split(folder: Path) -> bool:
    return (folder / "label.csv").is_file()


def scored_files(folder: Path, labels: list[str]) -> tuple[list[tuple[Path, int]], list[str]]:
    """(image, index in `labels`) of one split's strictly-majority faces, and labels with none.

    `labels` is the model's order, which may differ from ours; a FER+ emotion the model
    lacks is an error, since its faces could never be right.
    """
    lacking = [label for label in LABELS if label not in labels]
    if lacking:
        raise ConvertError(
            f"{folder}: FER+ has faces of {', '.join(lacking)}, which the model's labels "
            f"({', '.join(labels)}) lack"
        )
    files = [
        (folder / face.name, labels.index(LABELS[face.majority]))
        for face in read_votes(folder / "label.csv")
        if face.majority is not None
    ]
    present = {index for _, index in files}
    return files, [label for i, label in enumerate(labels) if i not in present]
