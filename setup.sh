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

for arg in "$@"; do
    case "$arg" in
        --dev) WANT_DEV=1 ;;
        --convert) WANT_CONVERT=1 ;;
        --install-service) exec "$ROOT/systemd/install.sh" install ;;
        --uninstall-service) exec "$ROOT/systemd/install.sh" uninstall ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $arg" ;;
    esac
done

# --- what machine is this ------------------------------------------------------------
IS_PI=0
IS_JETSON=0
if [ -r /proc/device-tree/model ] && grep -qi "raspberry pi" /proc/device-tree/model 2>/dev/null; then
    IS_PI=1
fi
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
    || die "$("$PYTHON" -V 2>&1) is too old: emotion-edge needs Python 3.10 or newer"
say "using $("$PYTHON" -V 2>&1) at $(command -v "$PYTHON")"

SYSTEM_PKGS=()
if command -v dpkg-query >/dev/null; then
    # OpenCV (pulled by mediapipe) links libGL and glib even when no window is shown.
    SYSTEM_PKGS+=(libgl1 libglib2.0-0)
    "$PYTHON" -c 'import ensurepip' 2>/dev/null || SYSTEM_PKGS+=(python3-venv)
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
    SYSTEM_PKGS+=(systemd mosquitto mosquitto-clients openssl chromium xvfb xdotool
                  gstreamer1.0-tools gstreamer1.0-plugins-base)
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

EXTRAS=""
[ "$WANT_DEV" -eq 1 ] && EXTRAS="dev"
[ "$WANT_CONVERT" -eq 1 ] && EXTRAS="${EXTRAS:+$EXTRAS,}convert"
TARGET="."
[ -n "$EXTRAS" ] && TARGET=".[$EXTRAS]"
say "installing emotion-edge ($TARGET) into $VENV"
"${PIP[@]}" install -q -e "$TARGET"

if [ "$IS_PI" -eq 1 ]; then
    # Debian's simplejpeg (imported by picamera2) is built for Debian's numpy 1.x; the venv has
    # numpy 2 (OpenCV needs it), so install simplejpeg built for numpy 2 into the venv.
    say "Raspberry Pi: installing simplejpeg into the venv for numpy 2"
    "${PIP[@]}" install -q simplejpeg
    "$VENV/bin/python" -c 'import picamera2' 2>/dev/null \
        || say "warning: picamera2 does not import in $VENV ($("$VENV/bin/python" -c 'import picamera2' 2>&1 | tail -1)); source.uri: /dev/video0 may still work"
fi

# Check that the pieces the pipeline needs really import and the bundled models are here.
"$VENV/bin/python" - <<'PY' || die "the installed runtime does not import; see the message above"
import cv2, mediapipe, numpy
from edge.interpreter import interpreter_class
from edge.config import DEMO_SAMPLE, load_config, resolve_app_path
from edge.detect import BUNDLED_MODELS
cls, package = interpreter_class()
cfg = load_config(None)
missing = [p for p in [*BUNDLED_MODELS.values(), cfg.classifier.model, str(DEMO_SAMPLE)]
           if not resolve_app_path(p).is_file()]
if missing:
    raise SystemExit(f"missing bundled files: {', '.join(missing)} (is this a full checkout?)")
print(f"[setup] OK: OpenCV {cv2.__version__}, MediaPipe {mediapipe.__version__}, "
      f"numpy {numpy.__version__}, interpreter {package}")
PY

say "done. Try: .venv/bin/emotion-edge run --demo"
[ "$WANT_DEV" -eq 1 ] && say "tests: .venv/bin/python -m pytest"
exit 0
