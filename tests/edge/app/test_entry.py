"""The command's entry point (edge.app.entry): a stop that comes before the CLI is honoured."""

from __future__ import annotations

import sys

import pytest

from edge.app import entry
from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("signal_handlers_restored", "root_logging_restored")


@pytest.fixture()
def stop_requested():
    """A SIGTERM noted by entry's handler while the command was still loading."""
    entry.STOP.set()
    yield entry.STOP
    entry.STOP.clear()


def run_entry(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["emotion-edge", *args])
    return entry.main()


def test_a_stop_before_run_ends_it_at_once_with_its_summary(stop_requested, monkeypatch, capsys):
    demo = str(ROOT / "edge" / "app" / "assets" / "demo.mp4")
    assert run_entry(monkeypatch, "run", "--source", demo, "--display", "none") == 0
    out = capsys.readouterr()
    assert "stop requested while starting" in out.err
    assert "summary: 0 frames processed of 0 captured" in out.err
    assert out.out == ""  # no result line: nothing was analysed


def test_a_stop_before_a_short_command_ends_it_as_interrupted(stop_requested, monkeypatch, capsys):
    assert run_entry(monkeypatch, "check-config", str(ROOT / "config.yaml")) == 130
    assert "OK" not in capsys.readouterr().out


def test_without_a_stop_the_command_runs(monkeypatch, capsys):
    assert not entry.STOP.is_set()
    assert run_entry(monkeypatch, "check-config", str(ROOT / "config.yaml")) == 0
    assert capsys.readouterr().out == f"{ROOT / 'config.yaml'}: OK\n"
