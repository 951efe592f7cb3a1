"""A training run's files beside `--out`, and the rules for starting, resuming and reusing one.

A run is the same run when every option that changes its result is the same (paths compared
as resolved, `cache` and `resume` ignored): only then may `--resume` continue it or
`default-model` build from it. A fresh start never overwrites an unfinished run silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from convert.common import ConvertError

IGNORED = ("resume", "cache")  # they change where and how, not what is trained
PATHS = ("data", "out", "imagenet_weights")


def files_for(out: Path) -> dict[str, Path]:
    return {
        "best": out,
        "last": out.with_name(out.stem + ".last.keras"),
        "state": out.with_name(out.stem + ".state.json"),
        "report": out.with_suffix(".train.json"),
        "curve": out.with_suffix(".curve.png"),
    }


def options_record(options: dict[str, Any]) -> dict[str, str]:
    """Options as the state file keeps them: strings, paths resolved."""
    record = {}
    for key, value in options.items():
        if key in IGNORED:
            continue
        is_path = key in PATHS and value not in (None, "None")
        record[key] = str(Path(value).resolve()) if is_path else str(value)
    return record


def differences(saved: dict[str, Any], options: dict[str, Any]) -> list[str]:
    mine, theirs = options_record(options), options_record(saved)
    return sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))


def read_state(files: dict[str, Path]) -> dict[str, Any] | None:
    """The state of the run beside --out; None where there is none (or an empty one)."""
    if not files["state"].is_file():
        return None
    try:
        state = json.loads(files["state"].read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConvertError(
            f"{files['state']}: unreadable ({exc}); delete it to train anew"
        ) from None
    return state if isinstance(state, dict) and state.get("history") else None


def finished(files: dict[str, Path]) -> dict[str, Any] | None:
    """The report of a run that ran to its end (not interrupted), else None."""
    try:
        report: dict[str, Any] = json.loads(files["report"].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if "test" in report and not report.get("interrupted") else None


def resumable(options: dict[str, Any], files: dict[str, Path]) -> dict[str, Any]:
    state = read_state(files)
    if state is None or not files["last"].is_file():
        raise ConvertError(
            f"{files['last']}: nothing to resume (train once without --resume first)"
        )
    changed = differences(state.get("options", {}), options)
    if changed:
        raise ConvertError(
            f"--resume: {', '.join(changed)} differ from the run in {files['state']}; "
            "resume with the same options, or train anew without --resume"
        )
    return state


def check_fresh_start(files: dict[str, Path]) -> None:
    """Refuse to start over an interrupted run: hours of training are not thrown away unasked."""
    state = read_state(files)
    if state is not None and finished(files) is None:
        done = len(state["history"])
        raise ConvertError(
            f"{files['state']}: an unfinished run of {done} epoch(s) is beside --out; add "
            f"--resume to continue it, or delete {files['state'].name} to start again"
        )
