"""A process whose address space is limited (`ulimit -v`, systemd's LimitAS=) below what the
native libraries map (issue 25, case 9): the import of OpenCV used to end in a traceback
("failed to map segment from shared object") or, a little higher, in a SIGSEGV with nothing
on stderr. Now a warning names the limit before the libraries load, and a load that fails
is one line naming the library and the fix."""

from __future__ import annotations

import resource

import pytest

from tests.conftest import run_cli


def limit_address_space(limit_mb: int):
    def apply() -> None:
        limit = limit_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


@pytest.mark.parametrize("limit_mb", [200, 250])
def test_libraries_that_cannot_be_mapped_are_one_line_naming_the_limit(limit_mb):
    proc = run_cli(
        *("run", "--demo", "--max-frames", "3", "--display", "none", "--output", "-"),
        preexec_fn=limit_address_space(limit_mb),
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, proc.stderr
    assert "WARNING" in lines[0] and f"limited to {limit_mb} MB" in lines[0]
    assert lines[1].startswith("emotion-edge: the program's libraries do not load (")
    assert f"limited to {limit_mb} MB (ulimit -v, LimitAS=): raise it" in lines[1]


def test_no_warning_without_a_limit():
    proc = run_cli("run", "--demo", "--max-frames", "2", "--display", "none", timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "address space" not in proc.stderr
