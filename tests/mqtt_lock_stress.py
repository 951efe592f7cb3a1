"""A broker that accepts every connection and drops it at once, and a sink publishing into it
from two threads: `python -m tests.mqtt_lock_stress SECONDS` prints `done N` when it ended.

Each accepted connection runs paho's connect and disconnect callbacks on its network thread
while results and stats are being sent from the analysis and main threads: the interleaving
that deadlocked when our link held its lock while calling into paho (issue 25, case 0).
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time

from edge.config.mqtt import MqttConfig
from edge.pipeline.stats import PipelineStats
from edge.sinks.mqtt.sink import MqttSink
from edge.types import Detection, FaceResult, Result, Timings

CONNACK_ACCEPTED = bytes([0x20, 0x02, 0x00, 0x00])
LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def serve_and_drop(server: socket.socket, stop: threading.Event, accepted: list[int]) -> None:
    server.settimeout(0.1)
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        with conn:
            conn.settimeout(1.0)
            # closed with a reset, so that paho's next write fails at once: while it
            # sends the QoS 1 messages again after the CONNACK, under its own mutex
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            try:
                conn.recv(4096)  # the CONNECT
                conn.sendall(CONNACK_ACCEPTED)
            except OSError:
                pass
        accepted[0] += 1


def a_result(index: int) -> Result:
    scores = {label: 0.7 if label == "happy" else 0.05 for label in LABELS}
    face = FaceResult(Detection((10, 10, 50, 50), 0.9), "happy", 0.7, scores)
    return Result(
        frame_index=index,
        captured_at_s=time.monotonic(),
        wall_time_s=time.time(),
        status="ok",
        detections=(face.detection,),
        faces=(face,),
        timings=Timings(1.0, 1.0, 1.0, 3.0),
        latency_ms=3.0,
        model_name="stress",
    )


def main(seconds: float) -> int:
    server = socket.create_server(("127.0.0.1", 0))
    stop, accepted = threading.Event(), [0]
    broker = threading.Thread(target=serve_and_drop, args=(server, stop, accepted), daemon=True)
    broker.start()
    cfg = MqttConfig(
        host="127.0.0.1",
        port=server.getsockname()[1],
        device_id="stress",
        publish="every",
        qos=1,  # unacknowledged messages that paho sends again on every connect
        buffer_messages=10000,  # so that publishing goes on while they pile up
        reconnect_max_s=1,
        stats_interval_s=1,
    )
    stats = PipelineStats()
    sink = MqttSink(cfg, LABELS, "stress", stats, None)
    sink.link.client.reconnect_delay_set(0.001, 0.002)  # a connection a few ms, not a second
    sink.link._drops.dropped = lambda: None  # and no backoff for the drops: many rounds
    deadline = time.monotonic() + seconds

    def analysis() -> None:
        index = 0
        while time.monotonic() < deadline:
            sink.emit(a_result(index))
            index += 1

    worker = threading.Thread(target=analysis, daemon=True)
    worker.start()
    while time.monotonic() < deadline:
        sink.tick(stats)
    worker.join()
    sink.close()
    stop.set()
    server.close()
    print(f"done {accepted[0]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0))
