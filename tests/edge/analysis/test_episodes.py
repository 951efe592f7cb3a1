"""Face episodes: start, changes of the shown word, end with duration and dominant emotion,
on a script of frames and on the real demo clip through the real analysis."""

from __future__ import annotations

import cv2
import pytest

from edge.analysis.episodes import EpisodeTracker
from edge.config import DEMO_SAMPLE
from edge.types import SEVERAL_FACES, UNCERTAIN, Frame


def test_an_episode_from_arrival_to_leaving():
    tracker = EpisodeTracker()
    assert tracker.update(False, None, 0.0) is None  # nobody yet: no episode
    start = tracker.update(True, "neutral", 1.0)
    assert start is not None and start.kind == "start" and start.emotion == "neutral"
    episode = start.episode_id
    assert tracker.update(True, "neutral", 2.0) is None  # the same word: no event
    change = tracker.update(True, "happy", 3.0)
    assert change is not None and change.kind == "change" and change.emotion == "happy"
    assert change.episode_id == episode and change.duration_s == 2.0
    assert tracker.update(True, UNCERTAIN, 3.5).kind == "change"  # type: ignore[union-attr]
    assert tracker.update(True, "happy", 4.0).kind == "change"  # type: ignore[union-attr]
    assert tracker.update(True, "happy", 8.0) is None
    end = tracker.update(False, None, 8.5)
    assert end is not None and end.kind == "end" and end.episode_id == episode
    assert end.duration_s == 7.0  # from the first frame with a face to the last one
    # neutral 2 s, happy 0.5 + 4 s, uncertain does not count
    assert end.dominant_emotion == "happy" and end.emotion == "happy"
    assert tracker.episode_id is None
    again = tracker.update(True, "sad", 9.0)
    assert again is not None and again.kind == "start" and again.episode_id != episode


def test_several_faces_and_uncertain_are_shown_but_never_dominant():
    tracker = EpisodeTracker()
    tracker.update(True, SEVERAL_FACES, 0.0)
    tracker.update(True, UNCERTAIN, 5.0)
    end = tracker.update(False, None, 6.0)
    assert end is not None and end.dominant_emotion is None and end.duration_s == 5.0


@pytest.fixture()
def demo_results(analyzer_for):
    # its no-face stretch is 2 s, smoothing.reset_after_s by default: the face would be
    # remembered across it, and the clip one episode
    analyzer = analyzer_for(smoothing={"reset_after_s": 0.5})
    capture = cv2.VideoCapture(str(DEMO_SAMPLE))
    fps = capture.get(cv2.CAP_PROP_FPS)
    results, index = [], 0
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            frame = Frame(index, image, 0.0, 0.0, media_time_s=index / fps)
            results.append(analyzer.analyze(frame))
            index += 1
    finally:
        capture.release()
    return results


def test_the_demo_clip_gives_whole_episodes_whose_ids_are_in_the_results(demo_results):
    events = [r.episode_event for r in demo_results if r.episode_event is not None]
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds.count("start") >= 1
    # every start is followed by its own end before the next start (the clip may end inside one)
    open_id = None
    for event in events:
        if event.kind == "start":
            assert open_id is None
            open_id = event.episode_id
        else:
            assert event.episode_id == open_id
            if event.kind == "end":
                open_id = None
    for result in demo_results:  # a result names its episode exactly while a face is present
        assert (result.episode_id is not None) == result.face_present
    several = [r for r in demo_results if r.status == "multiple_faces"]
    assert several and all(r.shown_label == SEVERAL_FACES for r in several)
    ends = [e for e in events if e.kind == "end"]
    assert ends and all(e.duration_s > 0 for e in ends)
    assert any(e.dominant_emotion == "happy" for e in ends)  # the astronaut smiles
