"""A frame with its result drawn, as JPEG: what the web view, /latest.jpg and the MQTT
snapshot send. One place, so privacy.blur_faces holds for every picture that leaves."""

from __future__ import annotations

import cv2

from edge.display.overlay import draw_overlay
from edge.types import Frame, Result

JPEG_QUALITY = 80


def annotated_jpeg(
    frame: Frame, result: Result | None, blur: bool = False, max_width: int | None = None
) -> bytes | None:
    """`frame` with `result` drawn on it (faces pixelated with `blur`), scaled down to
    `max_width` when wider, as JPEG; None if OpenCV cannot encode it."""
    picture = draw_overlay(frame.image_bgr, result, blur=blur)
    height, width = picture.shape[:2]
    if max_width is not None and width > max_width:
        size_wh = (max_width, max(1, round(height * max_width / width)))
        picture = cv2.resize(picture, size_wh, interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return jpeg.tobytes() if ok else None
