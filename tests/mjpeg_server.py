"""A tiny MJPEG-over-HTTP camera on 127.0.0.1 for tests: it streams, then can be made to hang.

It stands in for a network camera whose stream stops delivering frames while the
TCP connection stays open, the case a watchdog exists for.
"""

from __future__ import annotations

import http.server
import threading
import time

import cv2
import numpy as np

BOUNDARY = b"frameboundary"


class MjpegCamera:
    def __init__(self, frame_bgr: np.ndarray, fps: float = 15.0) -> None:
        ok, jpeg = cv2.imencode(".jpg", frame_bgr)
        assert ok
        self.jpeg = jpeg.tobytes()
        self.fps = fps
        self.hang = threading.Event()  # set: keep connections open, send nothing
        self.closing = threading.Event()
        camera = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header(
                    "Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}"
                )
                self.end_headers()
                try:
                    while not camera.closing.is_set():
                        if camera.hang.is_set():
                            camera.closing.wait(0.1)
                            continue
                        part = (
                            b"--"
                            + BOUNDARY
                            + b"\r\nContent-Type: image/jpeg\r\n"
                            + f"Content-Length: {len(camera.jpeg)}\r\n\r\n".encode()
                            + camera.jpeg
                            + b"\r\n"
                        )
                        self.wfile.write(part)
                        time.sleep(1.0 / camera.fps)  # the camera's frame rate (behaviour)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stream.mjpg"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> MjpegCamera:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
