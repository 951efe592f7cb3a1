"""The MQTT link under a broker that drops every connection at once while results and stats
are published from two threads: the run must end, every time (issue 25, case 0: a lock-order
inversion between our lock and paho's once hung such a run for good, SIGTERM included)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_a_broker_that_drops_each_connection_never_hangs_the_run(tmp_path):
    env = {**os.environ, "STATE_DIRECTORY": str(tmp_path)}  # its own announcement record
    proc = subprocess.run(
        [sys.executable, "-m", "tests.mqtt_lock_stress", "8"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # a deadlock ends here, as a failure, instead of hanging the suite
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    accepted = int(proc.stdout.split()[-1])
    assert accepted >= 20, proc.stdout  # the drops really raced the publishing threads
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
