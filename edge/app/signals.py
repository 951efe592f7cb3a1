"""What signals ask of a running pipeline: stop, reopen the output file, log the stats now.

The handlers only set flags (a handler runs between two bytecodes of the main thread and
must not write files or wait for locks); the pipeline's supervisor loop acts on them on
its next tick, within a tenth of a second.

  SIGINT, SIGTERM            stop cleanly (a second Ctrl-C stops at once)
  SIGQUIT, SIGUSR2, SIGALRM  stop cleanly too: their default would end the run with no
                             summary, no MQTT offline and nothing flushed
  SIGHUP                     reopen output.jsonl (logrotate's postrotate convention)
  SIGUSR1                    log the stats line now
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # at run time only what the standard library has: entry.py imports this
    from edge.pipeline.stats import PipelineStats
    from edge.sinks import Sink

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGUSR2, signal.SIGALRM)
RUN_REQUEST_SIGNALS = (signal.SIGHUP, signal.SIGUSR1)  # reopen the outputs, log the stats


class SignalRequests:
    """Installs the run's signal handlers; a pipeline supervisor that carries them out."""

    description = "signal handlers"

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self._reopen = threading.Event()
        self._report = threading.Event()
        self._sinks: list[Sink] = []

    def install(self) -> None:
        for number in STOP_SIGNALS:
            signal.signal(number, self._on_stop)
        signal.signal(signal.SIGHUP, lambda _n, _f: self._reopen.set())
        signal.signal(signal.SIGUSR1, lambda _n, _f: self._report.set())

    def serve(self, sinks: Sequence[Sink]) -> None:
        """The outputs a SIGHUP reopens."""
        self._sinks = list(sinks)

    def _on_stop(self, number: int, _frame: object) -> None:
        if self.stop.is_set() and number == signal.SIGINT:
            raise KeyboardInterrupt
        log.info("%s received, stopping", signal.Signals(number).name)
        self.stop.set()

    # -- the pipeline's supervisor (main thread) -------------------------------------
    def tick(self, stats: PipelineStats) -> None:
        if self._reopen.is_set():
            self._reopen.clear()
            log.info("SIGHUP received: reopening the output files")
            for sink in self._sinks:
                sink.reopen()
        if self._report.is_set():
            from edge.pipeline.threads import log_stats  # loaded by the run by now

            self._report.clear()
            log_stats(stats)

    def stopping(self) -> None:
        pass
