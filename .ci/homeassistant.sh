#!/usr/bin/env bash
# A real Home Assistant core for the tests (tests/homeassistant.py), installed beforehand so the
# tests need no network.
#
#   .ci/homeassistant.sh                prepare it (or reuse the cache); prints its folder
#   .ci/homeassistant.sh --where        print the folder if prepared, else exit 3 (builds nothing)
#   .ci/homeassistant.sh --rebuild      build again even if cached
#   .ci/homeassistant.sh --update-lock  regenerate locks/homeassistant-x86_64-py313.txt
#
# Only the folder goes to stdout, the progress to stderr: DIR=$(.ci/homeassistant.sh).
#
# Why so: Home Assistant 2025.4.4 (the newest release for Python 3.13; MQTT device discovery
# needs 2024.11 or later) requires Python 3.13, and this host (Debian 12) has 3.11. So Debian 13
# (trixie) amd64's python3.13 and the libraries it loads come from Debian's .debs, unpacked with
# dpkg-deb -x into DIR/root (.ci/debian-root.sh, as .ci/emulated-pi.sh does for arm64), and
# DIR/root/usr/bin/python3 runs it through trixie's own loader:
#   ld-linux-x86-64.so.2 --library-path ROOT/usr/lib/x86_64-linux-gnu --argv0 python3 python3.13
# so trixie's glibc 2.41 serves it while the host keeps its own; nothing is installed on the host.
# --argv0 makes sys.executable that wrapper, so child Pythons (pip's build hooks) work too.
# The locked packages go into ROOT/usr/local/lib/python3.13/dist-packages, trixie's own site for
# local installs: the userland exists only for Home Assistant, and unlike a venv (whose
# pyvenv.cfg holds an absolute path) it survives the rename from the build folder into the cache.
# Seven locked packages have no cp313 wheel (ciso8601, lru-dict, pymicro-vad, pyspeex-noise,
# PyTurboJPEG, PyRIC, fnvhash): trixie's Python builds them from their hash-checked sdists with
# the host's gcc/g++ (an extension built on glibc 2.36 runs on 2.41, as manylinux wheels do).
# Home Assistant then runs with --skip-pip: every integration the tests load (core, http, api,
# auth, onboarding, config, frontend and the other default integrations, mqtt) finds its
# requirements installed.
#
# Cache: ${EMOTION_EDGE_CACHE:-$HOME/.cache/emotion-edge}/homeassistant/<key>, key = sha256 of
# the lock, the Debian package list and BUILD_FORMAT; built in a .build-* folder beside it and
# renamed into place only when complete. Layout: <key>/root (the userland, Home Assistant in
# it), <key>/root/usr/bin/python3 (the wrapper), <key>/packages.txt (the .debs), *.log.
#
# The lock (what --update-lock runs, with the dev venv's uv; package_constraints.txt is the one
# inside the Home Assistant wheel, the pins Home Assistant itself is tested with):
#   printf '%s\n' homeassistant==2025.4.4 home-assistant-frontend==20250411.0 paho-mqtt==2.1.0 \
#       pip setuptools wheel pybind11 > homeassistant.in
#   .venv/bin/uv pip compile homeassistant.in --constraints package_constraints.txt \
#       --python-version 3.13 --python-platform x86_64-manylinux_2_35 \
#       --exclude-newer 2025-04-26 --generate-hashes \
#       --output-file locks/homeassistant-x86_64-py313.txt
# --exclude-newer (the day after 2025.4.4's release) keeps the set Home Assistant was released
# with: today's pycares 5 would be picked beside its aiodns 3.2.0, which cannot use it.
#
# Host needs: x86_64 Debian (apt-get, dpkg-deb, debian-archive-keyring), gcc and g++, the dev
# venv (./setup.sh --dev) for pip and uv; the network only while building.
set -Eeuo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE_BASE="${EMOTION_EDGE_CACHE:-$HOME/.cache/emotion-edge}/homeassistant"
LOCK="$REPO/locks/homeassistant-x86_64-py313.txt"
HOST_PY=${HOST_PYTHON:-$REPO/.venv/bin/python}
# bump when the way the folder is built changes, so old caches are not reused
BUILD_FORMAT=1
SUITE=trixie
PYVER=3.13
HA_VERSION=2025.4.4
EXCLUDE_NEWER=2025-04-26
# frontend: a default integration Home Assistant cannot start without (recovery mode otherwise);
# paho-mqtt: the mqtt integration's; the rest build the sdists above
LOCK_INPUTS=("homeassistant==$HA_VERSION" home-assistant-frontend==20250411.0 paho-mqtt==2.1.0
             pip setuptools wheel pybind11)
# python3.13 brings the libraries of its own modules (ssl, sqlite3, ctypes...); libpython-dev
# the headers to build extensions; libstdc++6/libgcc-s1 are what manylinux C++ wheels load
DEBIAN_PACKAGES=(python$PYVER libpython$PYVER-dev libc6 libstdc++6 libgcc-s1 zlib1g)

LOG_NAME=homeassistant
# shellcheck source=.ci/debian-root.sh
source "$REPO/.ci/debian-root.sh"
exec 3>&1 1>&2  # stdout: the folder only

MODE=build
REBUILD=0
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --where) MODE=where ;;
        --rebuild) REBUILD=1 ;;
        --update-lock) MODE=lock ;;
        -h|--help) usage; exit 0 ;;
        *) usage; fail "unknown option: $1" ;;
    esac
    shift
done

cache_key() {
    {
        echo "format=$BUILD_FORMAT suite=$SUITE arch=amd64 python=$PYVER"
        echo "packages=${DEBIAN_PACKAGES[*]}"
        cat "$LOCK"
    } | sha256sum | cut -c1-16
}

# trixie's Python as a program of this host; its folder is found from $0 at each run
write_wrapper() {  # $1 = ROOT
    cat > "$1/usr/bin/python3" <<'EOF'
#!/bin/sh
# trixie's python3.13 through trixie's own loader and libraries (written by .ci/homeassistant.sh)
root=$(cd "$(dirname "$0")/../.." && pwd -P)
exec "$root/usr/lib64/ld-linux-x86-64.so.2" --library-path "$root/usr/lib/x86_64-linux-gnu" \
    --argv0 "$root/usr/bin/python3" "$root/usr/bin/python3.13" "$@"
EOF
    chmod 755 "$1/usr/bin/python3"
}

# the guest's python with nothing of this host's Python or pip settings
guest() {  # ROOT ARGS...
    local root=$1; shift
    env -i PATH=/usr/bin:/bin HOME="${HOME:-/root}" LANG=C.UTF-8 TMPDIR="${TMPDIR:-/tmp}" \
        PIP_CONFIG_FILE=/dev/null ${CPATH:+CPATH="$CPATH"} "$root/usr/bin/python3" -I "$@"
}

build() {  # $1 = a fresh folder
    local dir=$1 root="$1/root" dist="$1/dist"
    debian_userland "$dir" amd64 "$SUITE" "$SUITE amd64" "${DEBIAN_PACKAGES[@]}"
    [ -x "$root/usr/bin/python$PYVER" ] || fail "no usr/bin/python$PYVER in the unpacked userland"
    phase "trixie's python$PYVER through its own loader"
    write_wrapper "$root"
    guest "$root" -c "import sys, ssl, sqlite3, ctypes, zlib, lzma, bz2; assert sys.version_info[:2] == (3, 13), sys.version; import os; assert os.path.realpath(sys.prefix) == os.path.realpath('$root/usr'), sys.prefix" \
        || fail "trixie's python$PYVER does not run on this host through its own loader"
    phase_done

    phase "download the locked files (hash-checked)"
    local platforms=() m
    # older pips do not widen manylinux_2_NN to the older tags: list them all
    for ((m = 41; m >= 17; m--)); do platforms+=(--platform "manylinux_2_${m}_x86_64"); done
    platforms+=(--platform manylinux2014_x86_64 --platform linux_x86_64)
    # no --only-binary: the seven sdists come too (allowed with --no-deps)
    PIP_CONSTRAINT="" "$HOST_PY" -m pip download -q --no-deps --require-hashes --implementation cp \
        --python-version "$PYVER" "${platforms[@]}" -d "$dist" -r "$LOCK" > "$dir/pip-download.log" 2>&1 \
        || { grep -v '^WARNING' "$dir/pip-download.log" | tail -5; fail "pip could not download what $LOCK pins"; }
    say "   $(find "$dist" -name '*.whl' | wc -l) wheels, $(find "$dist" -name '*.tar.gz' | wc -l) sdists, $(du -sh "$dist" | cut -f1)"
    phase_done

    phase "install into trixie's Python (builds the sdists)"
    # Debian's python.h includes <x86_64-linux-gnu/python3.13/pyconfig.h>: that one header from
    # ROOT, every other from the host, whose gcc builds the extensions
    mkdir -p "$dir/include/x86_64-linux-gnu"
    ln -s "$root/usr/include/x86_64-linux-gnu/python$PYVER" "$dir/include/x86_64-linux-gnu/python$PYVER"
    local pip_opts=(-q --no-index --find-links "$dist" --no-deps --no-cache-dir
                    --disable-pip-version-check --root-user-action=ignore --no-warn-script-location
                    # trixie marks its Python externally managed; this userland is ours alone
                    --break-system-packages)
    local pipwheel=("$dist"/pip-*.whl)
    # build tools first (--no-build-isolation uses them), pip run from its own wheel;
    # dist holds only files whose hashes matched the lock
    guest "$root" "${pipwheel[0]}/pip" install "${pip_opts[@]}" pip setuptools wheel pybind11 \
        > "$dir/pip-install.log" 2>&1 \
        || { tail -5 "$dir/pip-install.log"; fail "pip could not install its build tools into trixie's Python"; }
    CPATH="$dir/include" guest "$root" -m pip install "${pip_opts[@]}" --require-hashes \
        --no-build-isolation -r "$LOCK" >> "$dir/pip-install.log" 2>&1 \
        || { grep -E 'error|Error' "$dir/pip-install.log" | tail -5; fail "pip could not install $LOCK into trixie's Python (see $dir/pip-install.log)"; }
    guest "$root" -m pip check > "$dir/pip-check.log" 2>&1 \
        || { tail -5 "$dir/pip-check.log"; fail "the installed packages do not fit together (pip check)"; }
    rm -rf "$dist" "$dir/include"
    phase_done

    phase "byte-compile the standard library"
    # Debian compiles it in a maintainer script, which dpkg-deb -x does not run; pip compiled
    # the packages. Once here, so no start of Home Assistant compiles (or writes into the cache).
    guest "$root" -m compileall -q -j 2 "$root/usr/lib/python$PYVER" > "$dir/compileall.log" 2>&1 \
        || say "   (some files did not compile, see compileall.log in the cache folder; harmless)"
    phase_done

    phase "smoke: Home Assistant $HA_VERSION imports"
    local version
    version=$(guest "$root" -m homeassistant --version) || fail "Home Assistant does not run in trixie's Python"
    [ "$version" = "$HA_VERSION" ] || fail "Home Assistant says $version, the lock pins $HA_VERSION"
    guest "$root" -c "import homeassistant.components.mqtt, homeassistant.components.http, homeassistant.components.frontend, hass_frontend, paho.mqtt.client, ciso8601, lru" \
        || fail "an integration the tests use does not import in trixie's Python"
    phase_done
}

update_lock() {
    local uv=${UV:-$REPO/.venv/bin/uv} tmp
    [ -x "$uv" ] || fail "$uv not found: run ./setup.sh --dev first"
    tmp=$(mktemp -d)
    BUILD_TMP=$tmp
    phase "lock: homeassistant==$HA_VERSION's package_constraints.txt"
    PIP_CONSTRAINT="" "$HOST_PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" \
        -d "$tmp" "homeassistant==$HA_VERSION" > "$tmp/download.log" 2>&1 \
        || { tail -3 "$tmp/download.log"; fail "pip could not download homeassistant==$HA_VERSION"; }
    "$HOST_PY" - "$tmp" <<'EOF'
import pathlib, sys, zipfile
tmp = pathlib.Path(sys.argv[1])
with zipfile.ZipFile(next(tmp.glob("homeassistant-*.whl"))) as whl:
    (tmp / "package_constraints.txt").write_bytes(whl.read("homeassistant/package_constraints.txt"))
EOF
    printf '%s\n' "${LOCK_INPUTS[@]}" > "$tmp/homeassistant.in"
    phase_done
    phase "lock: uv pip compile"
    (cd "$tmp" && "$uv" pip compile homeassistant.in --constraints package_constraints.txt \
        --python-version "$PYVER" --python-platform x86_64-manylinux_2_35 \
        --exclude-newer "$EXCLUDE_NEWER" --generate-hashes --quiet \
        --custom-compile-command ".ci/homeassistant.sh --update-lock" --output-file "$LOCK") \
        || fail "uv could not resolve Home Assistant $HA_VERSION for Python $PYVER"
    say "   $(grep -c '^[A-Za-z]' "$LOCK") packages in ${LOCK#"$REPO/"}"
    phase_done
    rm -rf "$tmp"
    BUILD_TMP=""
}

trap build_cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

case "$MODE" in
    lock) update_lock; exit 0 ;;
    where)
        [ -f "$LOCK" ] || exit 3
        dir="$CACHE_BASE/$(cache_key)"
        [ -x "$dir/root/usr/bin/python3" ] || exit 3
        echo "$dir" >&3
        exit 0 ;;
esac

[ "$(uname -m)" = x86_64 ] || fail "builds an x86_64 userland only; this is $(uname -m)"
[ -f "$LOCK" ] || fail "${LOCK#"$REPO/"} missing: .ci/homeassistant.sh --update-lock writes it"
debian_host_tools
command -v x86_64-linux-gnu-gcc >/dev/null && command -v x86_64-linux-gnu-g++ >/dev/null \
    || fail "gcc and g++ missing (they build 7 sdists): apt-get install gcc g++"
"$HOST_PY" -m pip --version >/dev/null 2>&1 || fail "$HOST_PY has no pip: run ./setup.sh --dev first"

cached_build "$CACHE_BASE" "" "$(cache_key)" "$REBUILD" build
print_timings
say "ready: Home Assistant $HA_VERSION, Python $PYVER from Debian $SUITE in $CACHE_DIR"
echo "$CACHE_DIR" >&3
