"""The demo clip behind `emotion-edge run --demo`, made from public-domain photos.

scikit-image ships the photos: `astronaut` (NASA, Eileen Collins, smiling), `coffee`
and `chelsea` (a cat: a face, but not a human one). Segments: one face moving
slowly, no face, two faces, one face again. Every frame is checked with the real
short-range BlazeFace, so the clip shows what it claims to.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from convert.common import ConvertError
from edge.sources.video_file import VideoFile

WRITTEN_BADLY = "the clip just written is not readable: OpenCV without FFmpeg?"
SIZE_WH = (640, 480)
FPS = 15.0
BACKGROUND = 90


def _fit(image_rgb: np.ndarray) -> np.ndarray:
    return cv2.resize(
        cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), SIZE_WH, interpolation=cv2.INTER_AREA
    )


def _one_face(astronaut: np.ndarray, t: float) -> np.ndarray:
    """The astronaut on a grey canvas, panning right and zooming in slowly as t goes 0..1."""
    side = round(480 * (1.0 + 0.12 * t))
    scaled = cv2.resize(astronaut, (side, side), interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), BACKGROUND, np.uint8)
    left = round(40 + 100 * t)
    top = -round((side - 480) / 2)
    src = scaled[-top : -top + 480, max(0, -left) : min(side, 640 - left)]
    canvas[:, max(0, left) : max(0, left) + src.shape[1]] = src
    return canvas


def _two_faces(astronaut: np.ndarray, shift: int) -> np.ndarray:
    head = cv2.resize(astronaut[20:340, 60:380], (320, 320), interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), BACKGROUND, np.uint8)
    canvas[80:400, 0:320] = np.roll(head, shift, axis=1)
    canvas[80:400, 320:640] = head[:, ::-1]
    return canvas


def demo_frames() -> tuple[list[np.ndarray], list[int], list[tuple[str, int, int]]]:
    """Frames, the face count each must show, and (segment, first, last) frame ranges."""
    from skimage import data

    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    segments: list[tuple[str, list[np.ndarray], int]] = [
        ("one face", [_one_face(astronaut, i / 29) for i in range(30)], 1),
        ("no face (coffee)", [_fit(data.coffee())] * 15, 0),
        ("no face (cat)", [_fit(data.chelsea())] * 15, 0),
        ("two faces", [_two_faces(astronaut, i % 6 - 3) for i in range(30)], 2),
        ("one face again", [_one_face(astronaut, 1 - i / 14) for i in range(15)], 1),
    ]
    frames: list[np.ndarray] = []
    counts: list[int] = []
    ranges: list[tuple[str, int, int]] = []
    for name, seg_frames, faces in segments:
        ranges.append((name, len(frames), len(frames) + len(seg_frames) - 1))
        frames.extend(seg_frames)
        counts.extend([faces] * len(seg_frames))
    return frames, counts, ranges


def build_demo_sample(out: Path) -> list[tuple[str, int, int]]:
    from edge.analysis.blazeface import BlazeFaceDetector
    from edge.config import DetectorConfig

    frames, counts, ranges = demo_frames()
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), FPS, SIZE_WH)
    if not writer.isOpened():
        raise ConvertError(f"{out}: cannot write an mp4v video here (OpenCV without FFmpeg?)")
    for frame in frames:
        writer.write(frame)
    writer.release()

    # check what was written, as the device will read it
    detector = BlazeFaceDetector(DetectorConfig())
    try:
        with VideoFile(out, error=ConvertError, fix=WRITTEN_BADLY) as video:
            decoded = 0
            for index, (image, expected) in enumerate(zip(video.frames(), counts, strict=False)):
                found = len(detector.detect(image))
                if found != expected:
                    raise ConvertError(
                        f"{out}: frame {index} shows {found} faces, expected "
                        f"{expected}; adjust the segment layout"
                    )
                decoded += 1
        if decoded < len(counts):
            raise ConvertError(f"{out}: frame {decoded} does not decode")
    finally:
        detector.close()
    return ranges
