#!/usr/bin/env bash
# Regenerate every lock file in this folder from ../pyproject.toml.
#
#   locks/update.sh              keep the locked versions where the ranges still allow them
#   locks/update.sh --upgrade    move every package to the newest version the ranges allow
#
# One file per target: PROFILE-ARCH-pyXY.txt, PROFILE = runtime | dev | convert,
# ARCH = x86_64 | aarch64, XY = 310 | 311 | 312 | 313, exact versions with sha256 hashes.
# setup.sh installs from the file that matches the machine. Needs uv (./setup.sh --dev).
set -euo pipefail
cd "$(dirname "$0")/.."

UV=${UV:-}
if [ -z "$UV" ]; then
    if [ -x .venv/bin/uv ]; then UV=.venv/bin/uv; else UV=$(command -v uv || true); fi
fi
[ -n "$UV" ] || { echo "locks/update.sh: uv not found: run ./setup.sh --dev first" >&2; exit 1; }

UPGRADE=()
case "${1:-}" in
    --upgrade) UPGRADE=(--upgrade) ;;
    "") ;;
    *) echo "usage: locks/update.sh [--upgrade]" >&2; exit 2 ;;
esac

# glibc 2.35 is the oldest the device targets have (JetPack 6 / Ubuntu 22.04); Pi OS
# Bookworm has 2.36, Trixie 2.41. Wheels for older glibc still match these tags.
GLIBC=2_35
failed=()
for arch in x86_64 aarch64; do
    for py in 3.10 3.11 3.12 3.13; do
        for profile in runtime dev convert; do
            out="locks/$profile-$arch-py${py/./}.txt"
            extra=()
            [ "$profile" != runtime ] && extra=(--extra "$profile")
            # an existing lock is the starting point, so a refresh moves only what it must
            if ! "$UV" pip compile pyproject.toml ${extra[@]+"${extra[@]}"} \
                --constraints locks/constraints.txt \
                --python-version "$py" --python-platform "$arch-manylinux_$GLIBC" \
                --generate-hashes --quiet \
                --custom-compile-command "locks/update.sh" \
                ${UPGRADE[@]+"${UPGRADE[@]}"} --output-file "$out" 2>"$out.err"; then
                failed+=("$out: not resolvable: $(grep -m1 -v '^\s*$' "$out.err" || echo '?')")
                rm -f "$out"
            fi
            rm -f "$out.err"
        done
    done
done
# pip, not uv, installs from these: let pip's own resolver confirm that each pinned file
# exists for the target and that its Requires-Python admits it (uv ignores upper bounds)
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python  # setup.sh keeps its pip current
PLATFORMS=()
for v in 35 34 33 32 31 28 27 26 17; do PLATFORMS+=(--platform "manylinux_2_${v}_ARCH"); done
PLATFORMS+=(--platform manylinux2014_ARCH)
for lock in locks/*-*-py*.txt; do
    name=$(basename "$lock" .txt)
    arch=${name#*-}; arch=${arch%-py*}
    py=${name##*-py}
    if ! out=$(PIP_CONSTRAINT= "$PY" -m pip install --dry-run -q --no-deps --require-hashes \
        --only-binary=:all: --implementation cp --python-version "${py:0:1}.${py:1}" \
        "${PLATFORMS[@]/ARCH/$arch}" --target "$(mktemp -d)" -r "$lock" 2>&1); then
        failed+=("$lock: pip cannot install it: $(grep '^ERROR' <<<"$out" | tail -1)")
    fi
done
echo "locks/update.sh: $(ls locks/*-*-py*.txt | wc -l) lock files written"
for line in ${failed[@]+"${failed[@]}"}; do printf '  %s\n' "$line"; done
[ ${#failed[@]} -eq 0 ]
