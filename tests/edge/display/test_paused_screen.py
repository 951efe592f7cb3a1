"""While paused (the pause switch) a screen shows the paused card, not the last frame
before the pause for as long as the pause lasts; frames come back when it ends. A real
pipeline on a real clip; the panel is the one thing faked (no HDMI here)."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from edge.config import SourceConfig
from edge.display import DisplayViewer
from edge.display.overlay import paused_card, paused_card_rgba
from edge.pipeline.live import LiveState
from edge.pipeline.stats import PipelineStats
from edge.pipeline.threads import Pipeline
from edge.sources import FeedPolicy, make_source
from tests.conftest import wait_until, write_video


class Panel:
    """An HDMI panel: keeps the last picture it was given."""

    description = "panel"

    def __init__(self) -> None:
        self.frames_shown = 0
        self.last: np.ndarray | None = None

    def show_image(self, image_bgr: np.ndarray) -> None:
        self.last, self.frames_shown = image_bgr, self.frames_shown + 1

    def close(self) -> None:
        pass


def is_paused_card(image: np.ndarray | None) -> bool:
    return image is not None and image.mean() < 15 and (image > 200).any()  # black, a word


def test_the_screen_shows_the_paused_card_and_frames_again_after(tmp_path, analyzer, astronaut_bgr):
    clip = write_video(tmp_path / "c.avi", [cv2.resize(astronaut_bgr, (640, 480))] * 15)
    cfg = SourceConfig(uri=str(clip), loop=True, realtime=True)
    panel, stats, live, stop = Panel(), PipelineStats(), LiveState(), threading.Event()
    pipeline = Pipeline(
        make_source(cfg),
        analyzer,
        [],
        stop=stop,
        policy=FeedPolicy.from_config(cfg),
        stats=stats,
        viewers=[DisplayViewer(panel, stats)],
        live=live,
    )
    runner = threading.Thread(target=pipeline.run)
    runner.start()
    try:
        assert wait_until(lambda: panel.frames_shown > 3, 30)
        assert not is_paused_card(panel.last)
        live.set_paused(True)
        assert wait_until(lambda: is_paused_card(panel.last), 10)
        shown = panel.frames_shown
        assert not wait_until(lambda: panel.frames_shown > shown, 1.0)  # once, then nothing
        live.set_paused(False)
        assert wait_until(lambda: not is_paused_card(panel.last), 10)
    finally:
        stop.set()
        runner.join(10)
    assert not runner.is_alive()


def test_the_cards_are_black_with_the_word_and_opaque_for_an_overlay_plane():
    card = paused_card((1920, 1080))
    assert card.shape == (1080, 1920, 3) and is_paused_card(card)
    plane = paused_card_rgba((640, 480))
    assert plane.shape == (480, 640, 4) and (plane[..., 3] == 255).all()  # hides the preview
