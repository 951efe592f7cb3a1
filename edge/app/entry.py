"""The `emotion-edge` command starts here, so that a stop request is never lost.

Importing the command-line module loads pydantic and the config models (~0.2 s); a SIGTERM
in that time (systemd stopping a service that has just started) would end the process
silently with 143. Here, before anything heavy is imported, the stop signals only set the
stop event that `run` then honours (it ends at once, cleanly, with its summary), and SIGHUP
and SIGUSR1 wait for the run's own handlers (edge/app/signals.py).
"""

from __future__ import annotations

import signal
import threading

from edge.app.signals import RUN_REQUEST_SIGNALS, STOP_SIGNALS  # standard library only

STOP = threading.Event()


def _note_stop(_signum: int, _frame: object) -> None:
    STOP.set()


def main() -> int:
    for number in STOP_SIGNALS:
        signal.signal(number, _note_stop)
    for number in RUN_REQUEST_SIGNALS:  # asks of a run that is not running yet
        signal.signal(number, signal.SIG_IGN)
    from edge.app.cli import main as cli_main

    return cli_main(stop=STOP)
