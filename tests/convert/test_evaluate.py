"""`python -m convert evaluate` on a labelled folder built here from real photos.

The expected figures come from this file: each image is classified here through the
device's stages (the analyzer on the whole photo, the classifier on a small image without a
face), and the confusion matrix, accuracy, macro-F1, recall and precision are computed here.
Which images are unreadable, faceless or too small to hold a face is known by construction.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from convert.evaluate import EvaluateOptions, evaluate
from convert.report_files import CELL_PX, PAD_PX
from edge.errors import EdgeError
from tests.conftest import FER_MODEL as MODEL  # 64 px, FER2013's label order
from tests.conftest import ROOT

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]  # sidecar order
UNREADABLE = {"surprise/broken.png", "surprise/truncated.jpg"}
NO_FACE = {"sad/coffee.jpg"}  # a 600x400 photo without a face: too big to be a crop
WHOLE = {"surprise/coffee_small.png", "happy/tiny_face.png"}  # no face of >= 20 px can be found
CROP_MAX_PX = 128  # twice the default model's 64x64 input


def _lfw(count: int, start: int) -> list[np.ndarray]:
    from skimage import data

    faces = (data.lfw_subset()[start : start + count] * 255).round().astype(np.uint8)
    return [cv2.cvtColor(face, cv2.COLOR_GRAY2BGR) for face in faces]


def _rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    height, width = image.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, turn, (width, height), borderMode=cv2.BORDER_REPLICATE)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory, astronaut_bgr, two_faces_bgr, no_face_bgr) -> Path:
    """Whole photos and crops in six of the seven class folders (no `disgust/`)."""
    root = tmp_path_factory.mktemp("faces")
    face = astronaut_bgr[67:190, 162:285]  # the smiling face with a 15 % margin, 123x123
    images = {
        "happy/astronaut.png": astronaut_bgr,
        "happy/face_crop.png": face,
        "happy/two_faces.png": two_faces_bgr,
        "happy/tiny_face.png": cv2.resize(face, (18, 18), interpolation=cv2.INTER_AREA),
        "sad/astronaut_flipped.png": astronaut_bgr[:, ::-1],
        "sad/coffee.jpg": no_face_bgr,
        "fear/face_crop_flipped.png": face[:, ::-1],
        "neutral/astronaut_turned.png": _rotated(astronaut_bgr, 20),
        "surprise/coffee_small.png": cv2.resize(no_face_bgr, (96, 64)),
        "surprise/face_crop_turned.png": _rotated(face, -15),
    }
    for folder, start in (("angry", 0), ("sad", 6), ("neutral", 12), ("fear", 18)):
        for i, lfw in enumerate(_lfw(6, start)):
            images[f"{folder}/lfw_{i}.png"] = lfw if i % 2 else cv2.resize(lfw, (64, 64))
    for name, image in images.items():
        (root / name).parent.mkdir(exist_ok=True)
        assert cv2.imwrite(str(root / name), np.ascontiguousarray(image))
    (root / "surprise/broken.png").write_bytes(b"not an image")
    whole_jpeg = cv2.imencode(".jpg", astronaut_bgr)[1].tobytes()
    (root / "surprise/truncated.jpg").write_bytes(whole_jpeg[: len(whole_jpeg) // 2])
    (root / "happy/notes.txt").write_text("not an image: ignored")
    (root / ".ipynb_checkpoints").mkdir()  # hidden folders are not classes
    return root


def expected_outcomes(data: Path) -> dict[str, tuple[str, str | None]]:
    """file -> (path taken, predicted label), through the device's own stages, here."""
    from edge.analysis.stages import open_stages
    from edge.config import Config
    from edge.types import Frame

    config = Config(
        classifier={"model": str(MODEL)},
        faces={"policy": "largest"},
        reuse={"enabled": False},
    )
    outcomes: dict[str, tuple[str, str | None]] = {}
    with open_stages(config) as stages:
        labels = stages.classifier.labels
        for index, path in enumerate(sorted(data.glob("*/*.*"))):
            name = path.relative_to(data).as_posix()
            if name in UNREADABLE or path.suffix == ".txt":
                outcomes[name] = ("unreadable", None) if name in UNREADABLE else ("", None)
                continue
            image = cv2.imread(str(path))
            result = stages.analyzer.analyze(Frame(index, image, time.monotonic(), time.time()))
            if result.faces:
                outcomes[name] = (
                    "face",
                    max(result.faces, key=lambda f: f.detection.area_px).label,
                )
            elif max(image.shape[:2]) <= CROP_MAX_PX:
                scores = stages.classifier.classify(image).probabilities
                outcomes[name] = ("whole_image", labels[int(np.argmax(scores))])
            else:
                outcomes[name] = ("no_face", None)
    return {name: outcome for name, outcome in outcomes.items() if outcome[0]}


@pytest.fixture(scope="module")
def expected(labelled: Path) -> dict[str, tuple[str, str | None]]:
    outcomes = expected_outcomes(labelled)
    # what the folder was built to contain, so that every path is exercised
    assert {n for n, (p, _) in outcomes.items() if p == "unreadable"} == UNREADABLE
    assert {n for n, (p, _) in outcomes.items() if p == "no_face"} == NO_FACE
    assert {n for n, (p, _) in outcomes.items() if p == "whole_image"} >= WHOLE
    assert outcomes["happy/astronaut.png"][0] == "face"
    return outcomes


@pytest.fixture(scope="module")
def report(labelled: Path, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("report")
    evaluate(EvaluateOptions(MODEL, labelled, out=out))
    return json.loads((out / "report.json").read_text()) | {"_out": str(out)}


def expected_matrix(expected: dict[str, tuple[str, str | None]]) -> np.ndarray:
    matrix = np.zeros((7, 7), int)
    for name, (_, predicted) in expected.items():
        if predicted is not None:
            matrix[LABELS.index(name.split("/")[0]), LABELS.index(predicted)] += 1
    return matrix


def test_the_report_holds_figures_computed_independently(report: dict, expected, labelled):
    matrix = expected_matrix(expected)
    assert report["labels"] == LABELS
    assert report["confusion"] == matrix.tolist()
    assert matrix.sum() >= 30 and np.count_nonzero(matrix - np.diag(np.diag(matrix))) >= 3
    truth_n, predicted_n, hits = matrix.sum(axis=1), matrix.sum(axis=0), np.diag(matrix)
    assert report["accuracy"] == round(hits.sum() / matrix.sum(), 4)
    f1s = []
    for i, label in enumerate(LABELS):
        recall = hits[i] / truth_n[i] if truth_n[i] else None
        precision = hits[i] / predicted_n[i] if predicted_n[i] else None
        assert report["recall"][label] == (None if recall is None else round(recall, 4))
        assert report["precision"][label] == (None if precision is None else round(precision, 4))
        assert report["support"][label] == truth_n[i]
        if truth_n[i]:  # macro-F1 over the classes that have images
            p, r = precision or 0.0, recall or 0.0
            f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    assert report["macro_f1"] == round(sum(f1s) / len(f1s), 4)
    assert report["classes_evaluated"] == 6
    assert report["data"] == {
        "folder": str(labelled.resolve()),
        "classes_without_images": ["disgust"],
    }


def test_the_report_counts_each_path_and_names_the_model(report: dict, expected):
    paths = [path for path, _ in expected.values()]
    assert report["counts"] == {
        "files": len(expected),
        "classified": paths.count("face") + paths.count("whole_image"),
        "face": paths.count("face"),
        "whole_image": paths.count("whole_image"),
        "no_face": 1,
        "unreadable": 2,
        "several_faces": 1,  # the two-faces frame
    }
    images = {image["file"]: image for image in report["images"]}
    assert {name: (i["path"], i["predicted"]) for name, i in images.items()} == expected
    assert images["happy/two_faces.png"]["faces"] == 2
    assert "no face found in a 600x400 image" in images["sad/coffee.jpg"]["reason"]
    assert "truncated JPEG" in images["surprise/truncated.jpg"]["reason"]
    sha = hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert report["model"]["sha256"] == sha
    assert report["model"]["name"] == "fer-mini-xception-int8"
    assert report["rule"]["crop_max_px"] == CROP_MAX_PX
    markdown = (Path(report["_out"]) / "report.md").read_text()
    assert f"Accuracy **{report['accuracy']:.1%}**" in markdown
    assert "| surprise | " in markdown and "![confusion matrix](confusion.png)" in markdown


def test_the_confusion_picture_shades_rows_and_labels_both_axes(report: dict, expected):
    picture = cv2.imread(str(Path(report["_out"]) / "confusion.png"))
    assert picture is not None
    matrix = expected_matrix(expected)
    grid = 7 * CELL_PX
    height, width = picture.shape[:2]
    assert height > grid + PAD_PX + 60 and width > grid + PAD_PX + 60  # room for the labels
    left, top = width - PAD_PX - grid, height - PAD_PX - grid
    assert (picture[:, width - PAD_PX :] == 255).all() and (picture[height - PAD_PX :] == 255).all()
    share = matrix / matrix.sum(axis=1, keepdims=True).clip(min=1)
    shade = np.array(
        [
            [int(picture[top + i * CELL_PX + 4, left + j * CELL_PX + 4].sum()) for j in range(7)]
            for i in range(7)
        ]
    )
    assert ((shade == 3 * 255) == (matrix == 0)).all(), shade  # empty cells, and only they, white
    cells = [(share[i, j], shade[i, j]) for i in range(7) for j in range(7)]
    for a_share, a_shade in cells:  # a larger share of its row, in any row: a darker cell
        for b_share, b_shade in cells:
            if a_share > b_share + 0.02:
                assert a_shade < b_shade, (a_share, b_share)
    for i in range(7):
        row_label = picture[top + i * CELL_PX : top + (i + 1) * CELL_PX, :left]
        column_label = picture[top - 40 : top, left + i * CELL_PX : left + (i + 1) * CELL_PX]
        assert (row_label.min(axis=2) < 100).sum() > 20, f"no label left of row {LABELS[i]}"
        assert (column_label.min(axis=2) < 100).sum() > 20, f"no label over {LABELS[i]}"


def test_the_device_config_is_used(labelled: Path, tmp_path: Path):
    data = tmp_path / "data"
    (data / "happy").mkdir(parents=True)
    shutil.copy(labelled / "happy/astronaut.png", data / "happy")
    config = tmp_path / "config.yaml"
    config.write_text("faces:\n  min_size_px: 200\n")  # the 95 px face is now too small
    shutil.copy(labelled / "happy/face_crop.png", data / "happy")
    plain = evaluate(EvaluateOptions(MODEL, data, out=tmp_path / "a"))
    strict = evaluate(EvaluateOptions(MODEL, data, out=tmp_path / "b", config=config))
    assert plain["counts"]["face"] == 2 and plain["counts"]["no_face"] == 0
    assert strict["counts"] == {
        "files": 2,
        "classified": 1,
        "face": 0,
        "whole_image": 1,  # the 123 px crop, classified whole
        "no_face": 1,  # the 512 px photo
        "unreadable": 0,
        "several_faces": 0,
    }
    assert strict["config"] == str(config)


def test_the_default_output_folder_is_beside_the_model(labelled: Path, tmp_path: Path):
    model = tmp_path / "models" / "mine.tflite"
    model.parent.mkdir()
    shutil.copy(MODEL, model)
    shutil.copy(MODEL.with_suffix(".json"), model.with_suffix(".json"))
    data = tmp_path / "test"
    (data / "happy").mkdir(parents=True)
    shutil.copy(labelled / "happy/face_crop.png", data / "happy")
    evaluate(EvaluateOptions(model, data))
    out = tmp_path / "models" / "mine.eval-test"
    assert sorted(p.name for p in out.iterdir()) == ["confusion.png", "report.json", "report.md"]


def _folder(tmp_path: Path, layout: dict[str, bytes | None]) -> Path:
    """A data folder: name -> file bytes, or None for a folder."""
    data = tmp_path / "data"
    data.mkdir()
    for name, content in layout.items():
        if content is None:
            (data / name).mkdir(parents=True)
        else:
            (data / name).parent.mkdir(parents=True, exist_ok=True)
            (data / name).write_bytes(content)
    return data


FACE = "face"  # stands for a real face crop, written by the test


@pytest.mark.parametrize(
    ("case", "layout", "expected"),
    [
        ("model missing", {"happy/a.png": FACE}, r"nothere\.tflite: model not found"),
        ("sidecar missing", {"happy/a.png": FACE}, r"bare\.json: sidecar not found"),
        ("keras model", {"happy/a.png": FACE}, r"m\.keras: evaluate runs the \.tflite .* build"),
        ("data missing", None, r"data: data folder not found \(one sub-folder per class\)"),
        ("data is a file", {}, r"data/file: not a folder"),
        ("no class folders", {"a.png": FACE}, r"data: no class sub-folders \(put the images"),
        ("no images", {"happy/readme.txt": b"x"}, r"data: no images in its class folders"),
        (
            "unknown folder",
            {"happy/a.png": FACE, "happpy/b.png": FACE, "misc": None},
            r"data: folder\(s\) happpy, misc are not among the model's labels \(angry, disgust, "
            r"fear, happy, sad, surprise, neutral\); rename each .* or move it out",
        ),
        ("wrong case", {"Happy/a.png": FACE}, r"case-sensitive: rename Happy -> happy"),
        ("dataset root", {"test/happy/a.png": FACE}, r"give one split, e\.g\. .*data/test"),
        ("all unreadable", {"happy/a.png": b"x"}, r"none of its 1 images could be classified"),
        ("out not writable", {"happy/a.png": FACE}, r"taken/report cannot be written .* --out"),
        ("crop size", {"happy/a.png": FACE}, r"--crop-max-px: must be 1 or more \(got 0\)"),
        ("config error", {"happy/a.png": FACE}, r"config\.yaml: faces\.margin"),
    ],
)
def test_errors_a_user_meets_are_one_line_with_the_fix(
    case: str, layout, expected: str, tmp_path: Path, labelled: Path
):
    crop = (labelled / "happy/face_crop.png").read_bytes()
    if layout is None:
        data = tmp_path / "data"
    else:
        data = _folder(tmp_path, {k: crop if v == FACE else v for k, v in layout.items()})
    if case == "data is a file":
        data = data / "file"
        data.write_bytes(b"")
    options = EvaluateOptions(MODEL, data, out=tmp_path / "out")
    if case == "model missing":
        options = replace(options, model=tmp_path / "nothere.tflite")
    elif case == "sidecar missing":
        shutil.copy(MODEL, tmp_path / "bare.tflite")
        options = replace(options, model=tmp_path / "bare.tflite")
    elif case == "keras model":
        (tmp_path / "m.keras").write_bytes(b"")
        options = replace(options, model=tmp_path / "m.keras")
    elif case == "out not writable":
        (tmp_path / "taken").write_bytes(b"")  # a file where the folder should go
        options = replace(options, out=tmp_path / "taken" / "report")
    elif case == "crop size":
        options = replace(options, crop_max_px=0)
    elif case == "config error":
        (tmp_path / "config.yaml").write_text("faces:\n  margin: 7\n")
        options = replace(options, config=tmp_path / "config.yaml")
    with pytest.raises(EdgeError, match=expected) as caught:
        evaluate(options)
    assert "\n" not in str(caught.value)
    if case not in ("out not writable", "all unreadable"):
        assert not (tmp_path / "out").exists(), "refused before anything is written"


def test_the_command_line_end_to_end(labelled: Path, tmp_path: Path, expected):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "convert", "evaluate", str(MODEL), str(labelled)]
    done = subprocess.run(
        [*command, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    first, second = done.stdout.strip().splitlines()
    assert first.startswith(f"fer-mini-xception-int8 on {labelled.resolve()}: accuracy ")
    assert (
        f"macro-F1 {report['macro_f1']:.3f} over {report['counts']['classified']} images" in first
    )
    assert "skipped 1 without a face, 2 unreadable" in first
    assert second == f"report: {out / 'report.json'}, {out / 'report.md'}, {out / 'confusion.png'}"
    assert report["confusion"] == expected_matrix(expected).tolist()
    assert "broken.png: not a decodable image, skipped" in done.stderr

    refused = subprocess.run(
        [*command[:-1], str(tmp_path / "none"), "--out", str(tmp_path / "refused")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and refused.stdout == ""
    assert not (tmp_path / "refused").exists(), "refused before anything is written"
    missing = tmp_path / "none"
    assert (
        refused.stderr == f"convert: {missing}: data folder not found (one sub-folder per class)\n"
    )


def test_build_and_train_list_a_dataset_by_the_same_rules(tmp_path: Path):
    """convert.dataset.scan (build, train) and evaluate share one lister: a hidden folder is
    not a class, and a misspelt one is refused with the same fix evaluate gives."""
    from convert.common import ConvertError
    from convert.dataset import list_classes, scan

    for name in ("happy/a.png", "sad/b.jpg", "sad/notes.txt", ".ipynb_checkpoints/x.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert list_classes(tmp_path) == ["happy", "sad"]
    images = scan(tmp_path)
    assert [p.name for p in images.paths] == ["a.png", "b.jpg"] and images.labels == [0, 1]
    reordered = scan(tmp_path, ["sad", "happy"])  # the model's label order, not the folders'
    assert [
        (p.name, label) for p, label in zip(reordered.paths, reordered.labels, strict=True)
    ] == [
        ("b.jpg", 0),
        ("a.png", 1),
    ]
    with pytest.raises(ConvertError, match=r"folder\(s\) happy are not among .* rename each"):
        scan(tmp_path, ["sad", "angry"])
    with pytest.raises(ConvertError, match=r"data folder not found"):
        list_classes(tmp_path / "nowhere")
