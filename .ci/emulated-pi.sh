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
set -Eeuo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
COMPARE="$REPO/.ci/compare_runs.py"
CACHE_BASE="${EMOTION_EDGE_CACHE:-$HOME/.cache/emotion-edge}/emulated"
# the venv's pip (setup.sh keeps it current) checks Requires-Python against --python-version;
# older pips compare with the interpreter running them
HOST_PY=${HOST_PYTHON:-$REPO/.venv/bin/python}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
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

# --- output --------------------------------------------------------------------------------------
say() { printf '[emulated-pi] %s\n' "$*"; }
fail() { printf '[emulated-pi] FAIL: %s\n' "$*" >&2; exit 1; }
PHASE="start"
PHASE_T0=0
# one line for an unexpected failure, from the outermost shell only
trap 'rc=$?; if [ "$BASH_SUBSHELL" -eq 0 ]; then printf "[emulated-pi] FAIL: %s (line %s: %s, exit %s)\n" "$PHASE" "$LINENO" "${BASH_COMMAND%%$'"'"'\n'"'"'*}" "$rc" >&2; fi; exit $rc' ERR
phase() { PHASE="$1"; PHASE_T0=$(date +%s.%N); say "== $PHASE"; }
phase_done() {
    local t1; t1=$(date +%s.%N)
    local dt; dt=$(awk -v a="$PHASE_T0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
    TIMINGS+=("$(printf '%-56s %7ss' "$PHASE" "$dt")")
    say "   $PHASE: ${dt}s"
}
TIMINGS=()
SCRIPT_T0=$(date +%s.%N)

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
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || fail "needs apt-get and dpkg-deb (a Debian host)"
[ -r "$KEYRING" ] || fail "$KEYRING missing: apt-get install debian-archive-keyring"
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

# The host's Debian mirrors (main archive and security), from its apt sources.
host_mirror() {  # $1 = main|security
    local want=$1 uri
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk -v want="$want" '
        $1 == "deb" { line = $0; sub(/\[[^]]*\]/, "", line); split(line, f)
                      if ((want == "security") == (f[3] ~ /-security$/) && f[2] ~ /debian/) { print f[2]; exit } }' || true)
    if [ -z "$uri" ]; then
        uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v want="$want" '
            function flush() { if (u != "" && (want=="security") == (s ~ /-security/) && u ~ /debian/ && !done) { print u; done=1 } u=""; s="" }
            /^[[:space:]]*$/ { flush(); next }
            /^URIs:/ { u=$2 } /^Suites:/ { s=$0 } END { flush() }' || true)
    fi
    if [ -z "$uri" ]; then
        [ "$want" = security ] && uri=http://deb.debian.org/debian-security || uri=http://deb.debian.org/debian
    fi
    printf '%s\n' "${uri%/}"
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
    local dir=$1 apt="$1/apt" root="$1/root"
    local main_uri sec_uri
    main_uri=$(host_mirror main)
    sec_uri=$(host_mirror security)
    mkdir -p "$apt"/{lists/partial,archives/partial,etc/sources.list.d,etc/preferences.d} "$root"
    : > "$apt/status"
    {
        echo "deb [arch=arm64 signed-by=$KEYRING] $main_uri $SUITE main"
        echo "deb [arch=arm64 signed-by=$KEYRING] $main_uri $SUITE-updates main"
        echo "deb [arch=arm64 signed-by=$KEYRING] $sec_uri $SUITE-security main"
    } > "$apt/etc/sources.list"
    local O=(-o APT::Architecture=arm64 -o APT::Architectures=arm64
             -o Dir::State="$apt" -o Dir::State::Lists="$apt/lists" -o Dir::State::status="$apt/status"
             -o Dir::Cache="$apt" -o Dir::Cache::archives="$apt/archives"
             -o Dir::Cache::pkgcache="$apt/pkgcache.bin" -o Dir::Cache::srcpkgcache="$apt/srcpkgcache.bin"
             -o Dir::Etc::SourceList="$apt/etc/sources.list" -o Dir::Etc::SourceParts="$apt/etc/sources.list.d"
             -o Dir::Etc::Preferences="$apt/etc/preferences" -o Dir::Etc::PreferencesParts="$apt/etc/preferences.d"
             -o Debug::NoLocking=1 -o APT::Install-Recommends=false -o APT::Install-Suggests=false
             -o Acquire::Languages=none -o APT::Keep-Downloaded-Packages=true)
    # as root, apt downloads as _apt, who cannot enter a private folder under /root
    [ "$(id -u)" -ne 0 ] || O+=(-o APT::Sandbox::User=root)

    phase "$T: apt update ($SUITE arm64 from $main_uri)"
    apt-get "${O[@]}" -q update > "$dir/apt-update.log" 2>&1 \
        || { tail -5 "$dir/apt-update.log" >&2; fail "$T: apt-get update for $SUITE arm64 failed"; }
    if grep -qE '^(W|E):' "$dir/apt-update.log"; then
        grep -E '^(W|E):' "$dir/apt-update.log" >&2
        fail "$T: apt-get update for $SUITE arm64 reported problems (signatures?)"
    fi
    phase_done

    phase "$T: apt download python$PYVER + libraries"
    apt-get "${O[@]}" -q -y install --download-only "python$PYVER" "${GUEST_PACKAGES[@]}" \
        > "$dir/apt-install.log" 2>&1 \
        || { tail -15 "$dir/apt-install.log" >&2; fail "$T: apt could not resolve or download the arm64 packages"; }
    local debs=("$apt"/archives/*.deb)
    [ -e "${debs[0]}" ] || fail "$T: apt downloaded no .deb"
    say "   ${#debs[@]} packages, $(du -sh "$apt/archives" | cut -f1)"
    phase_done

    phase "$T: unpack with dpkg-deb -x"
    local deb
    for deb in "${debs[@]}"; do
        dpkg-deb -x "$deb" "$root"
        dpkg-deb -f "$deb" Package Version | paste -sd' ' >> "$dir/packages.txt"
    done
    # merged /usr (trixie ships everything under usr/): the aliases a real system has. dpkg-deb
    # -x would replace symlinks made beforehand, so they are added afterwards where missing.
    local d
    for d in bin sbin lib; do
        [ -e "$root/$d" ] || [ -L "$root/$d" ] || { mkdir -p "$root/usr/$d"; ln -s "usr/$d" "$root/$d"; }
    done
    [ -e "$root/lib/ld-linux-aarch64.so.1" ] || fail "$T: no lib/ld-linux-aarch64.so.1 in the unpacked userland"
    [ -x "$root/usr/bin/python$PYVER" ] || fail "$T: no usr/bin/python$PYVER in the unpacked userland"
    mkdir -p "$root/proc"
    cpuinfo_text > "$root/proc/cpuinfo"
    rm -rf "$apt"
    phase_done

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

ensure_root() {
    local key final tmp
    key=$(cache_key)
    final="$CACHE_BASE/$T-$key"
    mkdir -p "$CACHE_BASE"
    # leftovers of runs that were killed before their trap ran
    find "$CACHE_BASE" -maxdepth 1 -name '.build-*' -mmin +360 -exec rm -rf {} + 2>/dev/null || true
    if [ -d "$final/root" ] && [ "$REBUILD" -eq 0 ]; then
        say "$T: cached userland $final"
        touch "$final"
    else
        tmp=$(mktemp -d "$CACHE_BASE/.build-$T-XXXXXX")
        chmod 755 "$tmp"
        BUILD_TMP=$tmp
        ROOT="$tmp/root"
        build_root "$tmp"
        if [ "$REBUILD" -eq 1 ] && [ -d "$final" ]; then  # replaced only once the new one is complete
            mv -T "$final" "$tmp.old" && rm -rf "$tmp.old"
        fi
        if ! mv -T "$tmp" "$final" 2>/dev/null; then
            say "$T: another run finished the same cache first; using it"
            rm -rf "$tmp"
        fi
        BUILD_TMP=""
        # older builds for this target that nobody used for two weeks
        find "$CACHE_BASE" -maxdepth 1 -name "$T-*" ! -name "$T-$key" -mtime +14 -exec rm -rf {} + 2>/dev/null || true
    fi
    ROOT="$final/root"
    CACHE_DIR=$final
}
BUILD_TMP=""
cleanup() { [ -n "$BUILD_TMP" ] && rm -rf "$BUILD_TMP"; return 0; }
trap cleanup EXIT
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
        models/emotion_fer_mini_xception_int8.tflite) \
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
trap 'cleanup; rm -rf "$WORK"' EXIT

HOST_OK=0
if [ "$WANT_DEMO" = 1 ]; then host_demo; HOST_OK=1; fi

for target in "${TARGETS[@]}"; do
    set_target "$target"
    say "$T: Debian $SUITE arm64, Python $PYVER, QEMU_CPU=$CPU, requirements: ${LOCK#"$REPO/"}"
    ensure_root
    if [ "$WANT_SMOKE" -eq 1 ]; then smoke; fi
    if [ "$HOST_OK" -eq 1 ]; then guest_demo; fi
done

END=$(date +%s.%N)
say "timings:"
for line in "${TIMINGS[@]}"; do say "   $line"; done
say "   $(printf '%-56s %7ss' total "$(awk -v a="$SCRIPT_T0" -v b="$END" 'BEGIN{printf "%.1f", b-a}')")"
say "OK: ${TARGETS[*]}"
