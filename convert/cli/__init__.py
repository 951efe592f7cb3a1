"""`python -m convert`'s commands as a table: each a name, its options and `run(args) -> int`.

convert/__main__.py builds the parser from its table `COMMANDS` and calls the
chosen command's `run`; what a command needs is imported inside its `run`, so `--help`
loads neither TensorFlow nor OpenCV.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
Options = TypeVar("Options")


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    formatter_class: type[argparse.HelpFormatter] = argparse.HelpFormatter

    def register(self, sub: Any) -> argparse.ArgumentParser:
        """Its sub-parser in `sub` (argparse's subparsers), remembering which `run` to call."""
        parser = sub.add_parser(self.name, help=self.help, formatter_class=self.formatter_class)
        self.add_arguments(parser)
        parser.set_defaults(run=self.run)
        return parser


def options_from(cls: type[Options], args: argparse.Namespace, **given: Any) -> Options:
    """The options dataclass `cls` from the parsed arguments of the same names.

    `given` are the fields the command computes itself (a parsed spec, a list read from a
    folder); every other field must have an argument of its name (its `dest`).
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    values = {name: getattr(args, name) for name in names if name not in given}
    return cls(**values, **given)


def agreement_lines(what: str, passes: dict[str, dict[str, Any]]) -> str:
    """One line per pass (plain, mirror averaged, ...) of float vs int8 top-1 agreement."""
    from convert.report import NEAR_TIE_GAP

    lines = []
    for name, a in passes.items():
        lines.append(
            f"{what}, {name.replace('_', ' ')}: float vs int8 top-1 agreement "
            f"{a['top1_agreement']:.2%} of {a['images']} faces, {a['top1_agreement_clear']:.2%} "
            f"of the {a['clear_images']} where float's top two differ by {NEAR_TIE_GAP} or more"
        )
    return "\n".join(lines)
