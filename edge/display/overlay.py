"""One drawing function for every display: frame + result -> annotated frame.

What is written is decided first, from the result alone (`overlay_texts`), then drawn.
An emotion is shown as current only on a face found in this frame. While there is no face,
or several under the default policy, that state is the headline; the emotion the outputs
still hold for a moment is shown beneath it, small and grey, as "last seen: happy, 1.2 s
ago", without bars.

Sizes follow the frame's height (with a floor at 480 lines), so the text is as legible at
1920x1080 as at 640x480. Each emotion has its own colour; the box, the label and the score
bars of a face use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import cv2
import numpy as np

from edge.display.blur import blur_faces
from edge.display.text import draw_text, text_size
from edge.types import SEVERAL_FACES, Result

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
HEADLINE_COLOR = (255, 255, 255)
HELD_COLOR = (175, 175, 175)  # grey: the held emotion is not this frame's
BAR_BACKGROUND = (60, 60, 60)
STATUS_TEXT = {"no_face": "no face", "multiple_faces": SEVERAL_FACES}


def color_of(label: str) -> tuple[int, int, int]:
    return EMOTION_COLORS.get(label, DEFAULT_COLOR)


@dataclass(frozen=True)
class FaceText:
    """What is written at one classified face: its box, label and bars."""

    box_xywh: tuple[int, int, int, int]
    label: str  # "happy 87%"
    emotion: str  # the class whose colour the box and label take
    scores: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scores", MappingProxyType(dict(self.scores)))


@dataclass(frozen=True)
class OverlayTexts:
    """Everything the overlay writes for a result, before any pixel is drawn."""

    headline: str | None = None  # the frame's state when no face's emotion is current
    held: str | None = None  # "last seen: happy, 1.2 s ago" beneath the headline
    faces: tuple[FaceText, ...] = ()  # classified faces, each with its emotion
    unclassified: tuple[tuple[int, int, int, int], ...] = ()  # boxes found, not classified


def held_text(label: str, age_s: float) -> str:
    return f"last seen: {label}, {age_s:.1f} s ago"


def overlay_texts(result: Result | None) -> OverlayTexts:
    """What the overlay says about `result`: an emotion as current only with status "ok"."""
    if result is None:
        return OverlayTexts()
    if result.status != "ok":  # no face's emotion is this frame's, whatever is held
        held, age_s = result.held_label, result.decision_age_s
        return OverlayTexts(
            headline=STATUS_TEXT.get(result.status, result.status),
            held=held_text(held, age_s) if held is not None and age_s is not None else None,
            unclassified=tuple(d.box_xywh for d in result.detections),
        )
    classified = [face.detection for face in result.faces]
    unclassified = tuple(d.box_xywh for d in result.detections if d not in classified)
    primary, decision = result.primary_face, result.decision
    faces = []
    for face in result.faces:
        # the primary face shows what every output reports (held steady, or uncertain);
        # the others, this frame's own classification
        name, confidence, scores = face.label, face.confidence, face.scores
        if face is primary and decision.label is not None:
            name, confidence = decision.label, decision.confidence or 0.0
            scores = result.smoothed_scores
        faces.append(FaceText(face.box_xywh, f"{name} {confidence:.0%}", name, scores))
    return OverlayTexts(faces=tuple(faces), unclassified=unclassified)


@dataclass(frozen=True)
class Sizes:
    """Pixel sizes for a frame `height` lines tall: 1 unit at 480 lines, 2.25 at 1080.

    Text thickness: OpenCV 5 draws 1 as the regular weight and anything above as bold
    (OpenCV 4 thickens the strokes instead)."""

    unit: float

    @classmethod
    def for_height(cls, height: int) -> Sizes:
        return cls(max(1.0, height / 480))  # smaller frames keep the 480-line sizes

    def px(self, at_480: float) -> int:
        return max(1, round(at_480 * self.unit))

    @property
    def outline_px(self) -> int:
        return self.px(1)


def draw_overlay(
    image_bgr: np.ndarray,
    result: Result | None,
    fps: float | None = None,
    inference_ms: float | None = None,
    blur: bool = False,
) -> np.ndarray:
    """A copy of `image_bgr` with the faces, labels, score bars, status and rates drawn;
    with `blur`, every detected face pixelated first (privacy.blur_faces)."""
    if blur and result is not None:
        out = blur_faces(image_bgr, (d.box_xywh for d in result.detections))
    else:
        out = image_bgr.copy()
    sizes = Sizes.for_height(out.shape[0])
    texts = overlay_texts(result)
    for x, y, w, h in texts.unclassified:
        cv2.rectangle(out, (x, y), (x + w, y + h), UNCLASSIFIED_COLOR, sizes.px(2))
    for face in texts.faces:
        _draw_face(out, face, sizes)
    if texts.headline:
        _draw_headline(out, texts.headline, texts.held, sizes)
    rates = []
    if fps is not None:
        rates.append(f"{fps:.1f} fps")
    if inference_ms is not None:
        rates.append(f"inference {inference_ms:.1f} ms")
    if rates:
        org = (sizes.px(10), out.shape[0] - sizes.px(12))
        scale, thick = 0.5 * sizes.unit, sizes.px(2)
        draw_text(out, "   ".join(rates), org, scale, HEADLINE_COLOR, thick, sizes.outline_px)
    return out


def _draw_face(image: np.ndarray, face: FaceText, sizes: Sizes) -> None:
    x, y, w, h = face.box_xywh
    color = color_of(face.emotion)
    cv2.rectangle(image, (x, y), (x + w, y + h), color, sizes.px(3))
    scale, thick = 0.65 * sizes.unit, sizes.px(2)
    text_w, text_h, _ = text_size(face.label, scale, thick)
    org_x = max(sizes.px(2), min(x, image.shape[1] - text_w - sizes.px(4)))
    org_y = max(text_h + sizes.px(6), y - sizes.px(8))
    draw_text(image, face.label, (org_x, org_y), scale, color, thick, sizes.outline_px)
    if face.scores:
        _score_bars(image, face.scores, face.box_xywh, sizes)


def _draw_headline(image: np.ndarray, headline: str, held: str | None, sizes: Sizes) -> None:
    """The frame's state, large and centred at the top; a held emotion small and grey below."""
    width = image.shape[1]
    scale, thick = 0.9 * sizes.unit, sizes.px(2)
    text_w, text_h, depth = text_size(headline, scale, thick)
    baseline = sizes.px(14) + text_h
    org = ((width - text_w) // 2, baseline)
    draw_text(image, headline, org, scale, HEADLINE_COLOR, thick, sizes.outline_px)
    if held:
        small, small_thick = 0.55 * sizes.unit, 1  # regular weight at every size
        held_w, held_h, _ = text_size(held, small, small_thick)
        org = ((width - held_w) // 2, baseline + depth + sizes.px(8) + held_h)
        draw_text(image, held, org, small, HELD_COLOR, small_thick, sizes.outline_px)


def _score_bars(
    image: np.ndarray, scores: Mapping[str, float], box: tuple[int, int, int, int], sizes: Sizes
) -> None:
    """A bar per class with its whole name, beside the face: right of it, else left of it,
    else left out; the column is as wide as the longest label given."""
    x, y, w, _ = box
    scale, thick = 0.5 * sizes.unit, sizes.px(2)
    label_w = max(text_size(label, scale, thick)[0] for label in scores)
    _, label_h, depth = text_size("Mg", scale, thick)
    bar_len, gap = sizes.px(50), sizes.px(6)
    row_h = label_h + depth + sizes.px(4)
    block_w, block_h = bar_len + gap + label_w + sizes.outline_px, row_h * len(scores)
    height, width = image.shape[:2]
    left = x + w + sizes.px(8)
    if left + block_w >= width:
        left = x - sizes.px(8) - block_w
    if left < 0 or block_h >= height:
        return
    top = max(0, min(y, height - block_h - 1))
    for i, (label, score) in enumerate(scores.items()):
        row = top + i * row_h
        bar_top, bar_bottom = row + depth // 2, row + label_h + depth
        color = color_of(label)
        cv2.rectangle(image, (left, bar_top), (left + bar_len, bar_bottom), BAR_BACKGROUND, -1)
        fill = left + round(bar_len * min(1.0, max(0.0, score)))
        if fill > left:
            cv2.rectangle(image, (left, bar_top), (fill, bar_bottom), color, -1)
        org = (left + bar_len + gap, row + label_h + depth // 2)
        draw_text(image, label, org, scale, color, thick, sizes.outline_px)


PAUSED_HEADLINE, PAUSED_NOTE = "paused", "nothing is analysed or shown"


def paused_card(size_wh: tuple[int, int]) -> np.ndarray:
    """What a screen shows while paused (the pause switch): black, and the word, so the
    last picture before the pause does not stay up."""
    card = np.zeros((size_wh[1], size_wh[0], 3), np.uint8)
    _draw_headline(card, PAUSED_HEADLINE, PAUSED_NOTE, Sizes.for_height(size_wh[1]))
    return card


def paused_card_rgba(size_wh: tuple[int, int]) -> np.ndarray:
    """The same, opaque, for a hardware overlay plane: it hides the camera's own preview."""
    rgba = np.full((size_wh[1], size_wh[0], 4), 255, np.uint8)
    rgba[..., :3] = cv2.cvtColor(paused_card(size_wh), cv2.COLOR_BGR2RGB)
    return rgba


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
