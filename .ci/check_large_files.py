"""Refuse files over 3 MB in git unless models/README.md lists them by name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LIMIT_BYTES = 3 * 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    listed = (ROOT / "models" / "README.md").read_text(encoding="utf-8")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode().split("\0")
    too_big = []
    for name in filter(None, tracked):
        path = ROOT / name
        if path.is_file() and path.stat().st_size > LIMIT_BYTES and f"`{path.name}`" not in listed:
            too_big.append(f"{name} ({path.stat().st_size / 1e6:.1f} MB)")
    for line in too_big:
        print(f"check_large_files: {line} is over 3 MB and not listed in models/README.md: "
              "keep it out of git, or list it there with its source, license and sha256",
              file=sys.stderr)
    return 1 if too_big else 0


if __name__ == "__main__":
    raise SystemExit(main())
