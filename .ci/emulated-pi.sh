#!/usr/bin/env bash
# Check the runtime on an emulated Raspberry Pi 4 and Pi 5 (qemu-user, no VM, no root fs image).
#
#   .ci/emulated-pi.sh                    smoke check (a) on pi4 and pi5
#   .ci/emulated-pi.sh --demo             also (b): the demo on the host and in the guest, compared
#   .ci/emulated-pi.sh --target pi5 --lock locks/runtime-aarch64-py313.txt
#
# Options:
#   --target pi4|pi5|all   which emulated board (default all)
#   --lock FILE            hashed requirements for the guest (only with one --target); default
#                          locks/runtime-aarch64-py3XX.txt
#   --demo                 run step (b) too (also: EMULATED_PI_DEMO=1)
#   --no-smoke             skip step (a)
#   --rebuild              ignore the cached userland and build it again
#
# Targets:  pi4 = Debian 12 bookworm, Python 3.11, QEMU_CPU=cortex-a72, glibc 2.36
#           pi5 = Debian 13 trixie,   Python 3.13, QEMU_CPU=cortex-a76, glibc 2.41
#
# How: apt (private state, cache and sources, APT::Architecture=arm64, the host's Debian mirror,
# signed-by the host's debian-archive-keyring) downloads Python and the libraries the aarch64
# wheels need; dpkg-deb -x unpacks them into ROOT; the host's pip installs the aarch64 wheels
# into ROOT/opt/emotion-edge/site; qemu-aarch64-static -L ROOT runs the guest's python with the
# checkout on PYTHONPATH. ROOT and the wheels are cached outside the clone, in
#   ${EMOTION_EDGE_CACHE:-$HOME/.cache/emotion-edge}/emulated/<target>-<sha256>
# keyed by the lock file and this script's package list; the cache is built in a temporary
# folder and renamed into place only when complete.
#
# Host needs: qemu-user-static, debian-archive-keyring, apt, dpkg, python3 with pip.
# The apt/dpkg-deb userland, the cache and the output helpers live in .ci/debian-root.sh.
set -Eeuo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
COMPARE="$REPO/.ci/compare_runs.py"
CACHE_BASE="${EMOTION_EDGE_CACHE:-$HOME/.cache/emotion-edge}/emulated"
# the venv's pip (setup.sh keeps it current) checks Requires-Python against --python-version;
# older pips compare with the interpreter running them
HOST_PY=${HOST_PYTHON:-$REPO/.venv/bin/python}
QEMU=${QEMU_AARCH64:-qemu-aarch64-static}
# bump when the way ROOT is built changes, so old caches are not reused
BUILD_FORMAT=1

# Debian packages of the guest, besides pythonX.Y: what the manylinux aarch64 wheels of numpy,
# opencv-python-headless, ai-edge-litert and pydantic-core load at import (everything else they
# need is bundled in their *.libs folders), plus coreutils for a `cat /proc/cpuinfo` check.
GUEST_PACKAGES=(libc6 libstdc++6 libgcc-s1 libgomp1 zlib1g coreutils)

WANT_SMOKE=1
WANT_DEMO=${EMULATED_PI_DEMO:-0}
REBUILD=0
TARGET_ARG=all
LOCK_ARG=""

LOG_NAME=emulated-pi
# shellcheck source=.ci/debian-root.sh
source "$REPO/.ci/debian-root.sh"

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --target) TARGET_ARG=${2:?--target needs pi4, pi5 or all}; shift ;;
        --lock) LOCK_ARG=${2:?--lock needs a file}; shift ;;
        --demo) WANT_DEMO=1 ;;
        --no-smoke) WANT_SMOKE=0 ;;
        --rebuild) REBUILD=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; fail "unknown option: $1" ;;
    esac
    shift
done
case "$TARGET_ARG" in
    all) TARGETS=(pi4 pi5) ;;
    pi4|pi5) TARGETS=("$TARGET_ARG") ;;
    *) fail "unknown target $TARGET_ARG (pi4, pi5 or all)" ;;
esac
if [ -n "$LOCK_ARG" ]; then
    [ "${#TARGETS[@]}" -eq 1 ] || fail "--lock applies to one target: add --target pi4 or pi5"
    [ -f "$LOCK_ARG" ] || fail "lock file $LOCK_ARG does not exist"
    LOCK_ARG=$(cd "$(dirname "$LOCK_ARG")" && pwd)/$(basename "$LOCK_ARG")
fi

# --- host tools ----------------------------------------------------------------------------------
command -v "$QEMU" >/dev/null || fail "$QEMU not found: apt-get install qemu-user-static"
debian_host_tools
"$HOST_PY" -m pip --version >/dev/null 2>&1 || fail "$HOST_PY has no pip"

# --- targets -------------------------------------------------------------------------------------
set_target() {
    T=$1
    case "$T" in
        pi4) SUITE=bookworm; PYVER=3.11; CPU=cortex-a72; GLIBC_MINOR=36
             CPU_PART=0xd08; CPU_VARIANT=0x0; CPU_REV=3
             CPU_FEATURES="fp asimd evtstrm crc32 cpuid"
             BOARD_REVISION=c03114; BOARD_MODEL="Raspberry Pi 4 Model B Rev 1.4" ;;
        pi5) SUITE=trixie; PYVER=3.13; CPU=cortex-a76; GLIBC_MINOR=41
             CPU_PART=0xd0b; CPU_VARIANT=0x4; CPU_REV=1
             CPU_FEATURES="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
             BOARD_REVISION=d04170; BOARD_MODEL="Raspberry Pi 5 Model B Rev 1.0" ;;
    esac
    PYNODOT=${PYVER/./}
    if [ -n "$LOCK_ARG" ]; then
        LOCK=$LOCK_ARG
    else
        LOCK="$REPO/locks/runtime-aarch64-py$PYNODOT.txt"
        [ -f "$LOCK" ] || fail "$LOCK missing: locks/update.sh writes it"
    fi
}

# A Pi-like /proc/cpuinfo (4 cores). qemu-user shows the guest the host's x86 cpuinfo, on which
# XNNPACK's CPU detection crashes; with -L ROOT, qemu serves ROOT/proc/cpuinfo instead.
cpuinfo_text() {
    local i
    for i in 0 1 2 3; do
        printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: %s\n' "$i" "$CPU_FEATURES"
        printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: %s\n' "$CPU_VARIANT"
        printf 'CPU part\t: %s\nCPU revision\t: %s\n\n' "$CPU_PART" "$CPU_REV"
    done
    printf 'Revision\t: %s\nSerial\t\t: 100000000e1d9e01\nModel\t\t: %s\n' "$BOARD_REVISION" "$BOARD_MODEL"
}

requirements_text() { cat "$LOCK"; }

cache_key() {
    {
        echo "format=$BUILD_FORMAT target=$T suite=$SUITE python=$PYVER glibc=2.$GLIBC_MINOR"
        echo "packages=python$PYVER ${GUEST_PACKAGES[*]}"
        cpuinfo_text
        echo "--- requirements"
        requirements_text
    } | sha256sum | cut -c1-16
}

# --- build the userland and the wheel folder -------------------------------------------------------
build_root() {  # builds into $1 (a fresh folder)
    local dir=$1 root="$1/root"
    debian_userland "$dir" arm64 "$SUITE" "$T" "python$PYVER" "${GUEST_PACKAGES[@]}"
    [ -e "$root/lib/ld-linux-aarch64.so.1" ] || fail "$T: no lib/ld-linux-aarch64.so.1 in the unpacked userland"
    [ -x "$root/usr/bin/python$PYVER" ] || fail "$T: no usr/bin/python$PYVER in the unpacked userland"
    mkdir -p "$root/proc"
    cpuinfo_text > "$root/proc/cpuinfo"

    phase "$T: pip install aarch64 wheels (cp${PYNODOT}, manylinux_2_${GLIBC_MINOR})"
    local req="$dir/requirements.txt" platforms=() m
    requirements_text > "$req"
    # older pips do not widen manylinux_2_NN to the older tags: list them all
    for ((m = GLIBC_MINOR; m >= 17; m--)); do platforms+=(--platform "manylinux_2_${m}_aarch64"); done
    platforms+=(--platform manylinux2014_aarch64)
    "$HOST_PY" -m pip install -q --disable-pip-version-check --no-warn-conflicts --no-compile \
        --only-binary=:all: "${platforms[@]}" --python-version "$PYVER" --implementation cp \
        --target "$root/opt/emotion-edge/site" -r "$req" > "$dir/pip.log" 2>&1 \
        || { grep -v '^WARNING' "$dir/pip.log" | tail -15 >&2; fail "$T: pip could not install the aarch64 wheels for Python $PYVER"; }
    phase_done

    phase "$T: byte-compile in the guest"
    # once here, so that no run compiles (or writes into the cache) again
    # (two guest processes side by side: compileall -j needs multiprocessing, whose helper
    # processes exec the aarch64 python, which works only where binfmt_misc runs it via qemu)
    local ok=0
    guest_python -m compileall -q "$root/usr/lib/python$PYVER" > "$dir/compileall-stdlib.log" 2>&1 &
    local pid=$!
    guest_python -m compileall -q "$root/opt/emotion-edge/site" > "$dir/compileall-site.log" 2>&1 || ok=1
    wait "$pid" || ok=1
    [ "$ok" -eq 0 ] || say "   (some files did not compile, see compileall-*.log in the cache folder; harmless)"
    phase_done
}

guest_python() {
    env -i PATH=/usr/bin:/bin HOME="${HOME:-/root}" LANG=C.UTF-8 TMPDIR="${TMPDIR:-/tmp}" \
        QEMU_CPU="$CPU" QEMU_LD_PREFIX="$ROOT" \
        PYTHONPATH="$ROOT/opt/emotion-edge/site:$REPO" PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1 \
        "$QEMU" "$ROOT/usr/bin/python$PYVER" "$@"
}

guest_cat_cpuinfo() {
    local cat="$ROOT/usr/bin/cat"
    [ -x "$cat" ] || cat="$ROOT/bin/cat"  # bookworm's coreutils is not merged into /usr yet
    env -i QEMU_CPU="$CPU" QEMU_LD_PREFIX="$ROOT" "$QEMU" "$cat" /proc/cpuinfo
}

build_target() {  # $1 = a fresh folder
    ROOT="$1/root"  # the byte-compile step runs the guest from there
    build_root "$1"
}

ensure_root() {
    cached_build "$CACHE_BASE" "$T-" "$(cache_key)" "$REBUILD" build_target
    say "$T: userland $CACHE_DIR"
    ROOT="$CACHE_DIR/root"
}
trap build_cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# --- (a) smoke -----------------------------------------------------------------------------------
SMOKE_PY='
import sys, time, platform
t0 = time.perf_counter()
import numpy as np, cv2, ai_edge_litert, pydantic, yaml, paho.mqtt.client  # noqa: F401
from ai_edge_litert.interpreter import Interpreter
print(f"   {platform.machine()} Python {platform.python_version()}: numpy {np.__version__}, "
      f"cv2 {cv2.__version__}, pydantic {pydantic.__version__}, yaml {yaml.__version__}; "
      f"imports {time.perf_counter() - t0:.1f}s", flush=True)
for path in sys.argv[1:]:
    it = Interpreter(model_path=path, num_threads=2)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    n = int(np.prod(inp["shape"]))
    x = (np.arange(n) * 37 % 251).reshape(inp["shape"])
    x = (x - 125).astype(inp["dtype"]) if inp["dtype"] == np.int8 else (x / 250.0).astype(inp["dtype"])
    it.set_tensor(inp["index"], x)
    t = time.perf_counter()
    it.invoke()
    ms = (time.perf_counter() - t) * 1000
    outs = [it.get_tensor(o["index"]) for o in it.get_output_details()]
    shapes = ", ".join(f"{tuple(o.shape)} {o.dtype}" for o in outs)
    name, in_shape, in_type = path.rsplit("/", 1)[-1], tuple(inp["shape"].tolist()), np.dtype(inp["dtype"])
    print(f"   {name}: in {in_shape} {in_type} -> {shapes}; invoke {ms:.0f} ms", flush=True)
    if not all(np.isfinite(o.astype(np.float64)).all() for o in outs):
        raise SystemExit(f"{path}: non-finite output")
print("   smoke OK")
'

smoke() {
    phase "$T: guest /proc/cpuinfo"
    local info
    info=$(guest_cat_cpuinfo) || fail "$T: the guest could not run cat /proc/cpuinfo"
    printf '%s\n' "$info" | grep -qE "^CPU part[[:space:]]*: $CPU_PART\$" \
        || fail "$T: the guest's /proc/cpuinfo is not the $CPU one (qemu did not serve ROOT/proc/cpuinfo)"
    say "   $(printf '%s\n' "$info" | grep -c '^processor') cores, CPU part $CPU_PART, $(printf '%s\n' "$info" | grep '^Model' | sed 's/.*: //')"
    phase_done

    phase "$T: smoke (imports, both models, num_threads=2)"
    (cd "$REPO" && guest_python -c "$SMOKE_PY" models/face_detection_short_range.tflite \
        models/emotion_ferplus_vgg_compact_int8.tflite) \
        || fail "$T: smoke step failed in the emulated guest ($CPU, Python $PYVER)"
    phase_done
}

# --- (b) the demo, host against guest ------------------------------------------------------------
DEMO_ARGS=(-m edge run --demo --realtime false)
HOST_JSONL=""
host_demo() {
    local venv_py="$REPO/.venv/bin/python"
    if [ ! -x "$venv_py" ]; then
        fail "no $venv_py: the demo needs the host's run to compare with (run ./setup.sh first)"
    fi
    phase "host: demo (x86, .venv)"
    HOST_JSONL="$WORK/host.jsonl"
    (cd "$REPO" && "$venv_py" "${DEMO_ARGS[@]}" --output "$HOST_JSONL") > "$WORK/host-demo.log" 2>&1 \
        || { tail -5 "$WORK/host-demo.log" >&2; fail "host: the demo failed on the host"; }
    phase_done
}

guest_demo() {
    phase "$T: demo in the guest ($CPU)"
    local out="$WORK/$T.jsonl"
    (cd "$REPO" && guest_python "${DEMO_ARGS[@]}" --output "$out") > "$WORK/$T-demo.log" 2>&1 \
        || { tail -5 "$WORK/$T-demo.log" >&2; fail "$T: the demo failed in the emulated guest"; }
    phase_done
    phase "$T: compare with the host"
    "$HOST_PY" "$COMPARE" --label "$T" "$HOST_JSONL" "$out" || fail "$T: demo output differs from the host's (see above)"
    phase_done
}

# --- main ----------------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/emulated-pi.XXXXXX")
trap 'build_cleanup; rm -rf "$WORK"' EXIT

HOST_OK=0
if [ "$WANT_DEMO" = 1 ]; then host_demo; HOST_OK=1; fi

for target in "${TARGETS[@]}"; do
    set_target "$target"
    say "$T: Debian $SUITE arm64, Python $PYVER, QEMU_CPU=$CPU, requirements: ${LOCK#"$REPO/"}"
    ensure_root
    if [ "$WANT_SMOKE" -eq 1 ]; then smoke; fi
    if [ "$HOST_OK" -eq 1 ]; then guest_demo; fi
done

print_timings
say "OK: ${TARGETS[*]}"
