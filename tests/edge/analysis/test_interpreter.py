"""Which interpreter loads, and why none does (issue 25, case 9: a library that fails to load
for lack of memory was reported as "no TFLite interpreter found: run ./setup.sh")."""

from __future__ import annotations

import importlib.machinery
import os
from pathlib import Path

from tests.conftest import run_cli


def damaged_litert(root: Path) -> Path:
    """ai-edge-litert as a damaged install leaves it: its native module is not a library."""
    package = root / "ai_edge_litert"
    package.mkdir()
    (package / "__init__.py").write_text("")
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (package / f"interpreter{suffix}").write_bytes(os.urandom(4096))
    return root


def test_an_interpreter_that_is_there_but_does_not_load_is_named_with_its_reason(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(damaged_litert(tmp_path))}
    proc = run_cli("run", "--demo", "--max-frames", "1", env=env)
    assert proc.returncode == 1, proc.stderr[-2000:]
    ours = [line for line in proc.stderr.splitlines() if line.startswith("emotion-edge:")]
    assert len(ours) == 1, proc.stderr[-2000:]
    assert "ai-edge-litert is installed but does not load" in ours[0]
    assert "invalid ELF header" in ours[0] and "no TFLite interpreter found" not in ours[0]
    assert "Traceback" not in proc.stderr
