"""One drawing function for every display: frame + result -> annotated frame.

Sizes follow the frame's height, so the text is as legible at 1920x1080 as at
640x480. Each emotion has its own colour; the box, the label and the score bars of
a face use it.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from edge.types import Result

# BGR, chosen to be told apart on a TV across a room
EMOTION_COLORS = {
    "angry": (40, 40, 230),
    "disgust": (40, 150, 40),
    "fear": (180, 60, 160),
    "happy": (0, 215, 255),
    "neutral": (200, 200, 200),
    "sad": (200, 120, 30),
    "surprise": (0, 140, 255),
}
DEFAULT_COLOR = (255, 255, 255)
UNCLASSIFIED_COLOR = (160, 160, 160)
STATUS_TEXT = {"no_face": "no face", "multiple_faces": "several faces"}
FONT = cv2.FONT_HERSHEY_SIMPLEX


def color_of(label: str) -> tuple[int, int, int]:
    return EMOTION_COLORS.get(label, DEFAULT_COLOR)


def _text(
    image: np.ndarray,
    text: str,
    org: tuple[int, int],
    scale: float,
    color: tuple[int, int, int],
    thickness: int,
) -> None:
    """Text with a dark outline, readable on any background."""
    cv2.putText(image, text, org, FONT, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(image, text, org, FONT, scale, color, thickness, cv2.LINE_AA)


def draw_overlay(
    image_bgr: np.ndarray,
    result: Result | None,
    fps: float | None = None,
    inference_ms: float | None = None,
) -> np.ndarray:
    """A copy of `image_bgr` with the faces, labels, score bars, status and rates drawn."""
    out = image_bgr.copy()
    height, width = out.shape[:2]
    unit = max(1.0, height / 480)  # 1 at 480 lines, 2.25 at 1080
    scale, thick = 0.6 * unit, max(1, round(2 * unit))
    if result is not None:
        classified = [face.detection for face in result.faces]
        for detection in result.detections:
            if detection not in classified:  # found but not classified (face policy)
                x, y, w, h = detection.box_xywh
                cv2.rectangle(out, (x, y), (x + w, y + h), UNCLASSIFIED_COLOR, thick)
        primary, decision = result.primary_face, result.decision
        for face in result.faces:
            x, y, w, h = face.box_xywh
            # the primary face shows what every output reports (held steady, or uncertain);
            # the others, this frame's own classification
            name, confidence, scores = face.label, face.confidence, face.scores
            if face is primary and decision.label is not None:
                name, confidence = decision.label, decision.confidence or 0.0
                scores = result.smoothed_scores
            color = color_of(name)
            cv2.rectangle(out, (x, y), (x + w, y + h), color, thick + 1)
            label = f"{name} {confidence:.0%}"
            _text(out, label, (x, max(round(20 * unit), y - round(8 * unit))), scale, color, thick)
            _score_bars(out, scores, (min(x + w + round(8 * unit), width - 1), y), unit)
        status = STATUS_TEXT.get(result.status)
        if status:
            (tw, _), _ = cv2.getTextSize(status, FONT, scale * 1.4, thick)
            org = ((width - tw) // 2, round(40 * unit))
            _text(out, status, org, scale * 1.4, (255, 255, 255), thick)
    rates = []
    if fps is not None:
        rates.append(f"{fps:.1f} fps")
    if inference_ms is not None:
        rates.append(f"inference {inference_ms:.1f} ms")
    if rates:
        _text(
            out,
            "  ".join(rates),
            (round(10 * unit), height - round(12 * unit)),
            scale * 0.8,
            (255, 255, 255),
            max(1, thick - 1),
        )
    return out


def _score_bars(
    image: np.ndarray, scores: Mapping[str, float], origin: tuple[int, int], unit: float
) -> None:
    """One small bar per class beside the face; skipped where it would leave the frame."""
    x, y = origin
    bar_h, gap, length = round(10 * unit), round(4 * unit), round(60 * unit)
    text_w = round(34 * unit)
    height, width = image.shape[:2]
    if x + length + text_w >= width or y + len(scores) * (bar_h + gap) >= height:
        return
    for i, (label, score) in enumerate(scores.items()):
        top = y + i * (bar_h + gap)
        color = color_of(label)
        cv2.rectangle(image, (x, top), (x + length, top + bar_h), (60, 60, 60), -1)
        cv2.rectangle(image, (x, top), (x + round(length * score), top + bar_h), color, -1)
        _text(image, label[:3], (x + length + round(4 * unit), top + bar_h), 0.4 * unit, color, 1)


def draw_overlay_rgba(size_wh: tuple[int, int], result: Result | None) -> np.ndarray:
    """The same drawing on a transparent RGBA layer, for a hardware overlay plane."""
    width, height = size_wh
    sentinel = (1, 2, 3)  # a colour the drawing never uses marks "nothing drawn here"
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = sentinel
    drawn = draw_overlay(canvas, result)
    rgba = np.empty((height, width, 4), np.uint8)
    rgba[..., :3] = cv2.cvtColor(drawn, cv2.COLOR_BGR2RGB)
    rgba[..., 3] = np.where((drawn != np.array(sentinel, np.uint8)).any(axis=2), 255, 0)
    return rgba
