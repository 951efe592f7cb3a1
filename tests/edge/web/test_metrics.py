"""/metrics in the Prometheus text format, read back with prometheus_client's own parser."""

from __future__ import annotations

import itertools
import json
import math
import re
import sys
import threading
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

import tests.edge.web.test_web as web_tests
from edge.pipeline.stats import TIMING_BUCKETS_S, PipelineStats
from edge.types import Detection, FaceResult, Result, Timings
from edge.web.metrics import format_value, metrics_text
from tests.conftest import ROOT, wait_until

device = web_tests.device  # the real program with its web view on, as test_web starts it

# family name as the parser reports it (counters lose `_total`) -> its TYPE
FAMILIES = {
    "emotion_edge_build_info": "gauge",
    "emotion_edge_frames_captured": "counter",
    "emotion_edge_frames_processed": "counter",
    "emotion_edge_frames_dropped": "counter",
    "emotion_edge_capture_frames_per_second": "gauge",
    "emotion_edge_processed_frames_per_second": "gauge",
    "emotion_edge_last_frame_timestamp_seconds": "gauge",
    "emotion_edge_detection_seconds": "histogram",
    "emotion_edge_inference_seconds": "histogram",
    "emotion_edge_faces_detected": "gauge",
    "emotion_edge_faces": "counter",
}
# the version pyproject.toml declares (read as text: tomllib is not in Python 3.10)
VERSION = re.findall(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M)[0]


def parse(text: str) -> dict[str, list[Sample]]:
    """Samples by family; every family the page has must be one we expect, with its type."""
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {name: f.type for name, f in families.items()} == FAMILIES
    return {name: f.samples for name, f in families.items()}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) == 1, (name, labels, samples)
    return found[0]


def histogram(samples: list[Sample]) -> tuple[dict[str, float], float, float]:
    """Its buckets by `le`, sum and count, after checking the format's rules for them."""
    buckets = [(s.labels["le"], s.value) for s in samples if s.name.endswith("_bucket")]
    bounds = [float(le) for le, _ in buckets]
    assert bounds == sorted(bounds) and buckets[-1][0] == "+Inf"
    assert [float(le) for le, _ in buckets[:-1]] == list(TIMING_BUCKETS_S)
    counts = [n for _, n in buckets]
    assert all(a <= b for a, b in itertools.pairwise(counts)), f"not cumulative: {buckets}"
    name = samples[0].name.removesuffix("_bucket")
    count = value(samples, f"{name}_count")
    assert buckets[-1][1] == count  # le="+Inf" holds every observation
    return dict(buckets), value(samples, f"{name}_sum"), count


def face(label: str, at_x: int = 10) -> FaceResult:
    return FaceResult(Detection((at_x, 10, 50, 50), 0.9), label, 0.8, {label: 0.8})


def result(
    detect_ms: float,
    inference_ms: float = 0.0,
    labels: tuple[str, ...] = (),
    model: str = "mini_xception",
) -> Result:
    faces = tuple(face(label, 10 + 60 * i) for i, label in enumerate(labels))
    return Result(
        frame_index=0,
        captured_at_s=time.monotonic(),
        wall_time_s=time.time(),
        status="ok" if len(labels) == 1 else "multiple_faces" if labels else "no_face",
        detections=tuple(f.detection for f in faces),
        faces=faces,
        timings=Timings(detect_ms=detect_ms, inference_ms=inference_ms, total_ms=detect_ms),
        latency_ms=detect_ms + inference_ms,
        model_name=model,
    )


def test_an_idle_page_parses_with_every_family_and_empty_histograms():
    text = metrics_text(PipelineStats(), None)
    assert text.endswith("\n") and not text.endswith("\n\n")  # the format ends on a line feed
    page = parse(text)
    for name in ("emotion_edge_detection_seconds", "emotion_edge_inference_seconds"):
        buckets, total, count = histogram(page[name])
        assert count == 0 and total == 0 and set(buckets.values()) == {0}
    stamp = "emotion_edge_last_frame_timestamp_seconds"
    assert value(page[stamp], stamp) == 0  # nothing analysed yet
    assert page["emotion_edge_faces"] == []


def test_known_results_give_known_values():
    stats = PipelineStats()
    for dropped in (False, True, False, True, True):
        stats.captured(dropped)
    before = time.time()
    fed = [
        result(3.0, 12.0, ("happy",)),
        result(4.0, 0.0, ("happy",)),  # scores reused: no classifier time, no inference sample
        result(30.0, 700.0, ("sad", "happy")),
        result(0.1),  # no face
    ]
    for r in fed:
        stats.processed(r)
    after = time.time()
    latest = fed[2]
    page = parse(metrics_text(stats, latest))

    def one(name: str, **labels: str) -> float:
        return value(page[name], name + ("_total" if FAMILIES[name] == "counter" else ""), **labels)

    assert one("emotion_edge_frames_captured") == 5
    assert one("emotion_edge_frames_dropped") == 3
    assert one("emotion_edge_frames_processed") == 4
    assert one("emotion_edge_faces_detected") == 2  # the latest frame's
    assert one("emotion_edge_faces", emotion="happy") == 3
    assert one("emotion_edge_faces", emotion="sad") == 1
    assert before <= one("emotion_edge_last_frame_timestamp_seconds") <= after
    build = page["emotion_edge_build_info"][0]
    assert build.value == 1
    assert build.labels == {
        "version": VERSION,
        "model": "mini_xception",
        "python": ".".join(map(str, sys.version_info[:3])),
    }

    buckets, total, count = histogram(page["emotion_edge_detection_seconds"])
    assert count == 4 and total == pytest.approx((3.0 + 4.0 + 30.0 + 0.1) / 1000)
    assert buckets == {  # in seconds: 0.0001, 0.003, 0.004, 0.03
        **dict.fromkeys(["0.0002", "0.0005", "0.001", "0.002"], 1),
        **dict.fromkeys(["0.005", "0.01", "0.02"], 3),
        **dict.fromkeys(["0.05", "0.1", "0.2", "0.5", "1.0", "2.0", "+Inf"], 4),
    }
    buckets, total, count = histogram(page["emotion_edge_inference_seconds"])
    assert count == 2 and total == pytest.approx(0.712)
    assert buckets["0.01"] == 0 and buckets["0.02"] == 1
    assert buckets["0.5"] == 1 and buckets["1.0"] == 2


@pytest.mark.parametrize(
    ("inference_ms", "first_bucket_holding_it"),
    [
        (0.1, "0.0002"),
        (0.2, "0.0002"),  # on the bound: le means "less than or equal"
        (0.25, "0.0005"),
        (1.0, "0.001"),
        (1.01, "0.002"),
        (150.0, "0.2"),
        (2000.0, "2.0"),
        (2000.5, "+Inf"),
        (60_000.0, "+Inf"),
    ],
)
def test_an_observation_lands_in_the_first_bucket_whose_bound_holds_it(
    inference_ms, first_bucket_holding_it
):
    stats = PipelineStats()
    stats.processed(result(1.0, inference_ms, ("happy",)))
    buckets, total, _ = histogram(
        parse(metrics_text(stats, None))["emotion_edge_inference_seconds"]
    )
    les = list(buckets)
    at = les.index(first_bucket_holding_it)
    assert [buckets[le] for le in les] == [0] * at + [1] * (len(les) - at)
    assert total == pytest.approx(inference_ms / 1000)


HOSTILE = 'mini "x" \\ception\nemotion_edge_frames_processed_total 1e9'


def test_label_values_are_escaped():
    stats = PipelineStats()
    stats.processed(result(2.0, 5.0, (HOSTILE,), model=HOSTILE))
    text = metrics_text(stats, None)
    assert all(line.startswith(("# ", "emotion_edge_")) for line in text.splitlines())
    page = parse(text)
    assert page["emotion_edge_build_info"][0].labels["model"] == HOSTILE
    assert value(page["emotion_edge_faces"], "emotion_edge_faces_total", emotion=HOSTILE) == 1
    assert value(page["emotion_edge_frames_processed"], "emotion_edge_frames_processed_total") == 1


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (3, "3"),
        (0.25, "0.25"),
        (1e-05, "1e-05"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_values_are_written_as_the_format_spells_them(number, text):
    assert format_value(number) == text


def analyse(stats: PipelineStats, frames: int) -> None:
    for _ in range(frames):
        stats.processed(result(0.3, 1.5, ("happy",)))


def test_scrapes_while_results_arrive_stay_consistent():
    """Four analysis threads and a scraper: every page obeys the histogram rules."""
    stats, threads, per_thread = PipelineStats(), 4, 4000
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to expose races
    try:
        workers = [
            threading.Thread(target=analyse, args=(stats, per_thread)) for _ in range(threads)
        ]
        for worker in workers:
            worker.start()
        scrapes = 0
        while any(worker.is_alive() for worker in workers) or scrapes == 0:
            page = parse(metrics_text(stats, None))
            for name in ("emotion_edge_detection_seconds", "emotion_edge_inference_seconds"):
                histogram(page[name])
            for _ in range(200):  # cheaper than a page: many more chances to catch a half update
                for h in stats.timing_histograms().values():
                    assert h.cumulative[-1] == h.count
            scrapes += 1
        for worker in workers:
            worker.join(10)
    finally:
        sys.setswitchinterval(old_interval)
    page = parse(metrics_text(stats, None))
    buckets, total, count = histogram(page["emotion_edge_inference_seconds"])
    assert count == buckets["0.002"] == threads * per_thread  # no observation lost
    assert total == pytest.approx(count * 0.0015)
    assert value(page["emotion_edge_faces"], "emotion_edge_faces_total", emotion="happy") == count
    assert scrapes > 1


def test_the_running_program_serves_metrics_prometheus_can_read(device):
    base, _, _ = device

    def scrape() -> dict[str, list[Sample]]:
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
            return parse(response.read().decode())

    def classified() -> bool:
        return histogram(scrape()["emotion_edge_inference_seconds"])[2] > 0

    assert wait_until(classified, 20)
    page = scrape()
    detections = histogram(page["emotion_edge_detection_seconds"])[2]
    processed = value(page["emotion_edge_frames_processed"], "emotion_edge_frames_processed_total")
    assert detections >= processed > 0  # histograms are read just after the counters
    assert value(page["emotion_edge_faces"], "emotion_edge_faces_total", emotion="happy") > 0
    shown = json.loads(web_tests.get(f"{base}/api/result")[1])
    build = page["emotion_edge_build_info"][0].labels
    assert build["model"] == shown["model"] != "" and build["version"] == VERSION
    stamp = "emotion_edge_last_frame_timestamp_seconds"
    assert time.time() - 30 < value(page[stamp], stamp) <= time.time()
