"""setup.sh refuses a machine it cannot serve with one line, before it installs anything."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# An interpreter that reports another machine or version for setup.sh's two probes and is
# the real one otherwise: what a 32-bit Pi OS or an old Debian would answer.
FAKE_PYTHON = """#!{real}
import os, sys
code = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "-c" else ""
if "platform.machine()" in code:
    print({arch!r})
elif "version_info < (3, 10)" in code:
    sys.exit({too_old})
elif sys.argv[1:] == ["-V"]:
    print({version!r})
else:
    os.execv({real!r}, [{real!r}, *sys.argv[1:]])
"""


def run_setup(tmp_path: Path, arch: str, too_old: int, version: str) -> subprocess.CompletedProcess:
    folder = tmp_path / "checkout"
    folder.mkdir()
    shutil.copy(ROOT / "setup.sh", folder / "setup.sh")
    fake = tmp_path / "python3"
    fake.write_text(
        FAKE_PYTHON.format(real=sys.executable, arch=arch, too_old=too_old, version=version)
    )
    fake.chmod(0o755)
    return subprocess.run(
        ["bash", str(folder / "setup.sh")],
        env={**os.environ, "PYTHON": str(fake)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("arch", "too_old", "version", "message"),
    [
        (
            "armv7l",
            0,
            "Python 3.11.2",
            "armv7l is not supported: emotion-edge runs on 64-bit Linux",
        ),
        ("i686", 0, "Python 3.11.2", "i686 is not supported: emotion-edge runs on 64-bit Linux"),
        (
            "aarch64",
            1,
            "Python 3.9.2",
            "Python 3.9.2 is too old: emotion-edge needs Python 3.10 or newer",
        ),
    ],
)
def test_unsupported_machine_is_one_line_before_any_install(
    tmp_path, arch, too_old, version, message
):
    proc = run_setup(tmp_path, arch, too_old, version)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert "installing" not in proc.stdout
    assert not (tmp_path / "checkout" / ".venv").exists()
