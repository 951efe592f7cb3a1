"""The Tk window, in a process of its own: `python -m edge.display.tkwindow FD [--fullscreen]`.

edge/display/window.py starts this process and is its only user. It lives apart because
an X server that goes away (logout, a display manager restarting) makes Xlib end the
process that held the connection, from C, with no exception to catch: here that costs
the window, not the run.

One short line per message, each way:
  stdin (from the run)    `frame W H`: W x H x 3 bytes of BGR at offset 0 of the file FD;
                          `close`: destroy the window and exit. End of file (the run gone)
                          ends this process too.
  stdout (to the run)     `ready` or `error REASON` once, after a first window opened (or
                          not); `shown` after each frame is drawn (the run sends the next
                          one only then); `quit` for q, Q, Esc or the window closed.
Everything else this process prints goes to stderr, which the run reads for the reason
when the process ends.

The device installs OpenCV's headless build (no Qt or X libraries, 200 MB less), which
cannot open windows, so the frames are shown with Tk from Python's standard library.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from edge.display.common import fit
from edge.display.lines import LineReader

TITLE = "emotion-edge"
TICK_S = 0.02  # the longest wait for a command: keys and redraws are handled this often
NO_TKINTER = (
    "Python's tkinter is missing (sudo apt install python3-tk), or use "
    "display.backend: framebuffer or the web view"
)
# the run decides when this process ends (`close`, or its end of the pipe closing): a stop
# signal sent to the whole service (systemd's control group) must not end the window first
IGNORED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP)


def ppm_bytes(image_bgr: np.ndarray) -> bytes:
    """A binary PPM (what Tk's PhotoImage reads without extra libraries) of a BGR image."""
    height, width = image_bgr.shape[:2]
    rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
    return f"P6 {width} {height} 255\n".encode() + rgb.tobytes()


class TkWindow:
    """The window, made on the first frame at that frame's size (or full screen)."""

    def __init__(self, tk: Any, fullscreen: bool, on_quit: Callable[[], None]) -> None:
        self.tk, self.fullscreen, self.on_quit = tk, fullscreen, on_quit
        self._root: Any = None
        self._label: Any = None
        self._closed = False  # destroyed: no new window is made

    def _open(self, size_wh: tuple[int, int]) -> None:
        tk = self.tk
        root = tk.Tk()
        root.title(TITLE)
        root.configure(background="black")
        if self.fullscreen:
            root.attributes("-fullscreen", True)
        else:
            root.geometry(f"{size_wh[0]}x{size_wh[1]}")
        label = tk.Label(root, borderwidth=0, background="black")
        label.pack(fill=tk.BOTH, expand=True)
        for key in ("<KeyPress-q>", "<KeyPress-Q>", "<Escape>"):
            root.bind(key, lambda _event: self.on_quit())
        root.protocol("WM_DELETE_WINDOW", self.on_quit)
        self._root, self._label = root, label

    def show(self, image_bgr: np.ndarray) -> None:
        if self._closed:
            return
        if self._root is None:
            self._open((image_bgr.shape[1], image_bgr.shape[0]))
        try:
            area = (self._label.winfo_width(), self._label.winfo_height())
            shown = fit(image_bgr, *area) if min(area) > 1 else image_bgr
            photo = self.tk.PhotoImage(master=self._root, data=ppm_bytes(shown), format="PPM")
            self._label.configure(image=photo)
            self._label.image = photo  # Tk shows an image only while Python holds a reference
        except self.tk.TclError:
            self._destroyed()
            return
        self.update()

    def update(self) -> None:
        """Draw, and handle the keys pressed since the last call."""
        if self._root is None:
            return
        try:
            self._root.update()
        except self.tk.TclError:
            self._destroyed()

    def _destroyed(self) -> None:
        """The window was destroyed under us (by another X client): as if closed."""
        self._root, self._closed = None, True
        self.on_quit()

    def close(self) -> None:
        root, self._root = self._root, None
        if root is not None:
            with contextlib.suppress(self.tk.TclError):
                root.destroy()


def read_frame(frames_fd: int, command: str) -> np.ndarray | None:
    """The frame a `frame W H` command announces, or None for any other command."""
    parts = command.split()
    if len(parts) != 3 or parts[0] != "frame":
        return None
    width, height = int(parts[1]), int(parts[2])
    data = os.pread(frames_fd, width * height * 3, 0)
    return np.frombuffer(data, np.uint8).reshape(height, width, 3)


def serve(
    window: TkWindow, commands: LineReader, frames_fd: int, say: Callable[[str], None]
) -> None:
    """Show frames until `close` or the end of the commands."""
    while not commands.ended:
        for command in commands.read(TICK_S):
            if command == "close":
                return
            image = read_frame(frames_fd, command)
            if image is not None:
                window.show(image)
                say("shown")
        window.update()


def main(argv: list[str]) -> int:
    for number in IGNORED_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    frames_fd, fullscreen = int(argv[0]), "--fullscreen" in argv[1:]
    replies: IO[str] = os.fdopen(os.dup(1), "w", buffering=1)  # line-buffered
    os.dup2(2, 1)  # a library's print goes to stderr, never into the replies

    def say(message: str) -> None:
        replies.write(message + "\n")

    try:
        import tkinter as tk
    except ImportError:
        say(f"error {NO_TKINTER}")
        return 1
    try:  # fail now, with the reason, rather than on the first frame
        tk.Tk().destroy()
    except tk.TclError as exc:
        say(f"error cannot open a window ({' '.join(str(exc).split())})")
        return 1
    window = TkWindow(tk, fullscreen, lambda: say("quit"))
    try:
        say("ready")
        serve(window, LineReader(0), frames_fd, say)
    except BrokenPipeError:  # the run is gone
        pass
    finally:
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
