"""The `emotion-edge` command starts here, so that a stop request is never lost.

Importing the command-line module loads pydantic and the config models (~0.2 s); a SIGTERM
in that time (systemd stopping a service that has just started) would end the process
silently with 143. Here, before anything heavy is imported, both signals only set the stop
event that `run` then honours: it ends at once, cleanly, with its summary.
"""

from __future__ import annotations

import signal
import threading

STOP = threading.Event()


def _note_stop(_signum: int, _frame: object) -> None:
    STOP.set()


def main() -> int:
    signal.signal(signal.SIGTERM, _note_stop)
    signal.signal(signal.SIGINT, _note_stop)
    from edge.app.cli import main as cli_main

    return cli_main(stop=STOP)
