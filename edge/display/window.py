"""A desktop window (X11, or Wayland through XWayland), drawn with Tk. q or Esc stops.

The device installs OpenCV's headless build (no Qt or X libraries, 200 MB less), which
cannot open windows, so the frames are shown with Tk from Python's standard library.
Tk is bound to the thread that created it: the window is made on the first frame, in
the thread that shows frames, and everything after happens there too.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from edge.display.common import DisplayUnavailable, fit, has_desktop

TITLE = "emotion-edge"


def _tkinter() -> Any:
    try:
        import tkinter
    except ImportError:
        raise DisplayUnavailable(
            "window: Python's tkinter is missing (sudo apt install python3-tk), or use "
            "display.backend: framebuffer or the web view"
        ) from None
    return tkinter


def ppm_bytes(image_bgr: np.ndarray) -> bytes:
    """A binary PPM (what Tk's PhotoImage reads without extra libraries) of a BGR image."""
    height, width = image_bgr.shape[:2]
    rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
    return f"P6 {width} {height} 255\n".encode() + rgb.tobytes()


class WindowDisplay:
    def __init__(self, fullscreen: bool, on_quit: Callable[[], None]) -> None:
        if not has_desktop():
            raise DisplayUnavailable(
                "window: no desktop here (DISPLAY and WAYLAND_DISPLAY are "
                "unset); use display.backend: framebuffer on a console"
            )
        self._tk = _tkinter()
        try:  # fail now, with the reason, rather than in the viewer thread later
            probe = self._tk.Tk()
            probe.destroy()
        except self._tk.TclError as exc:
            raise DisplayUnavailable(f"window: cannot open a window ({exc})") from None
        self.fullscreen = fullscreen
        self.on_quit = on_quit
        self.description = "window" + (" (full screen)" if fullscreen else "")
        self.frames_shown = 0
        self._root: Any = None
        self._label: Any = None
        self._owner: threading.Thread | None = None

    def _open(self, size_wh: tuple[int, int]) -> None:
        tk = self._tk
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
        self._owner = threading.current_thread()

    def show_image(self, image_bgr: np.ndarray) -> None:
        if self._root is None:
            self._open((image_bgr.shape[1], image_bgr.shape[0]))
        area = (self._label.winfo_width(), self._label.winfo_height())
        shown = fit(image_bgr, *area) if min(area) > 1 else image_bgr
        photo = self._tk.PhotoImage(master=self._root, data=ppm_bytes(shown), format="PPM")
        self._label.configure(image=photo)
        self._label.image = photo  # Tk shows an image only while Python holds a reference
        try:
            self._root.update()  # draw, and read the keys pressed since the last frame
        except self._tk.TclError:  # the window was closed under us
            self.on_quit()
        self.frames_shown += 1

    def close(self) -> None:
        root, self._root = self._root, None
        if root is not None and threading.current_thread() is self._owner:
            with contextlib.suppress(self._tk.TclError):
                root.destroy()
        # from another thread Tk must not be touched: the window goes with the process
