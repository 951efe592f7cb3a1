"""The real clips labelled by hand, segment by segment, as a person watching them would.

Labelled from contact sheets of every clip (a frame each 0.2-0.5 s), before any model was
scored on them. A segment names what a viewer would say the face shows, or `no_face`; a
stretch a viewer could not name (a transition, a face half hidden) is left out. Scored: how
many of each segment's frames have the segment's label as their *reported* emotion (smoothed
and held: what MQTT and the screens show), and as the frame's own top-1; `no_face` is right
when no face is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convert.clips import real_clip
from convert.common import ConvertError
from edge.sources.video_file import VideoFile


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    label: str  # one of the seven emotions, or "no_face"


SEGMENTS = {
    "single_face": (Segment(0.0, 0.7, "neutral"), Segment(0.8, 2.4, "happy")),
    "crying_to_laughing": (
        Segment(0.0, 6.0, "sad"),  # crying, then a hand over the face
        # 6.0-10.0: tearful, hand over the mouth, looking up: a viewer cannot name it
        Segment(10.0, 19.7, "happy"),
    ),
    "face_noface": (
        Segment(0.0, 0.7, "neutral"),
        Segment(0.8, 2.7, "happy"),
        Segment(2.8, 6.4, "no_face"),
    ),
    "noface_face": (
        Segment(0.0, 3.7, "no_face"),
        Segment(3.8, 4.4, "neutral"),
        Segment(4.5, 6.4, "happy"),
    ),
}


def labels_per_frame(
    model: Path, clip: Path, smoothing: dict[str, Any] | None = None
) -> list[tuple[float, str | None, str | None]]:
    """(media time, reported emotion, the frame's own top-1) of every frame, None without a
    face, as `run` on the file gives them with the default config (reuse as auto decides,
    mirror average on) and `smoothing`."""
    from edge.analysis.stages import open_stages
    from edge.config import Config
    from edge.types import Frame

    config = Config.model_validate(
        {"classifier": {"model": str(model), "threads": 2}, "smoothing": smoothing or {}}
    )
    labels: list[tuple[float, str | None, str | None]] = []
    with VideoFile(clip, error=ConvertError, fix="give a video OpenCV can open") as video:
        fps = video.fps or 30.0
        with open_stages(config) as stages:
            for image in video.frames():
                at = len(labels) / fps
                result = stages.analyzer.analyze(
                    Frame(len(labels), image, at, 0.0, media_time_s=at)
                )
                face = result.primary_face if result.status == "ok" else None
                shown = result.decision.label if result.status == "ok" else None
                labels.append((at, shown, face.label if face else None))
    return labels


def segment_scores(model: Path, smoothing: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    rows = []
    for name, segments in SEGMENTS.items():
        frames = labels_per_frame(model, real_clip(name), smoothing)
        for segment in segments:
            inside = [(s, t) for at, s, t in frames if segment.start_s <= at < segment.end_s]
            want = None if segment.label == "no_face" else segment.label
            counts: dict[str, int] = {}
            for shown, _ in inside:
                counts[shown or "none"] = counts.get(shown or "none", 0) + 1
            rows.append(
                {
                    "clip": name,
                    "segment": f"{segment.start_s:.1f}-{segment.end_s:.1f} s",
                    "label": segment.label,
                    "frames": len(inside),
                    "right": sum(shown == want for shown, _ in inside),
                    "right_top1": sum(top1 == want for _, top1 in inside),
                    "reported": dict(sorted(counts.items(), key=lambda kv: -kv[1])),
                }
            )
    return rows
