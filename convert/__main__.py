"""`python -m convert`: the PC-side tools that make the files in models/ and edge/app/assets/."""

from __future__ import annotations

import argparse
import logging
import sys

from convert.cli import Command, build, bundled, evaluate, train
from edge.errors import EdgeError

# in the order `--help` lists them
COMMANDS: tuple[Command, ...] = (
    *train.COMMANDS,
    *bundled.COMMANDS,
    build.COMMAND,
    evaluate.COMMAND,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m convert", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args))
    except EdgeError as exc:
        print(f"convert: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
