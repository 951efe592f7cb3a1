#!/usr/bin/env bash
# Install or remove emotion-edge as a systemd service. Called by ../setup.sh:
#   ./setup.sh --install-service     (root)  install under $PREFIX, enable and start
#   ./setup.sh --uninstall-service   (root)  stop, disable, remove the app and the user
#
# PREFIX (default /opt/emotion-edge) is where the app goes. DESTDIR, when set, is a staging
# root: files are laid out below it and nothing on the running system is touched (no user,
# no venv, no systemctl) — for packaging and for the tests.
set -euo pipefail

ACTION=${1:?usage: install.sh install|uninstall}
SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/opt/emotion-edge}
DESTDIR=${DESTDIR:-}
SERVICE=emotion-edge
SVC_USER=emotion-edge
ETC="$DESTDIR/etc/emotion-edge"
UNIT_DIR="$DESTDIR/etc/systemd/system"

say() { printf '\033[1m[service]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[service] error:\033[0m %s\n' "$*" >&2; exit 1; }
live() { [ -z "$DESTDIR" ]; }

if live && [ "$(id -u)" -ne 0 ]; then
    die "installing a system service needs root: sudo ./setup.sh --${ACTION}-service"
fi

MACHINE=pc
if grep -qi "raspberry pi" /proc/device-tree/model 2>/dev/null; then MACHINE=pi; fi
# (a staging root stands for the target machine: its etc/nv_tegra_release counts too)
if [ -e /etc/nv_tegra_release ] || [ -e "$DESTDIR/etc/nv_tegra_release" ]; then MACHINE=jetson; fi
DROPIN_DIR="$UNIT_DIR/$SERVICE.service.d"

install_app() {
    say "copying the app to $DESTDIR$PREFIX"
    mkdir -p "$DESTDIR$PREFIX"
    # the tracked files when this is a git checkout, else everything but the venv and caches
    if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$SRC" && git ls-files -z --cached --others --exclude-standard) \
            | (cd "$SRC" && xargs -0 tar -cf - --no-recursion) | tar -xf - -C "$DESTDIR$PREFIX"
    else
        tar -C "$SRC" --exclude=.venv --exclude='__pycache__' --exclude=.git -cf - . \
            | tar -xf - -C "$DESTDIR$PREFIX"
    fi
    if live; then
        say "building the runtime venv in $PREFIX/.venv"
        "$PREFIX/setup.sh"
    else
        say "DESTDIR set: not building $PREFIX/.venv (run $PREFIX/setup.sh on the target)"
    fi
}

install_user() {
    local groups=video
    for g in render gpio; do getent group "$g" >/dev/null && groups="$groups,$g"; done
    if ! live; then
        say "DESTDIR set: not creating user $SVC_USER (groups would be: $groups)"
        return
    fi
    if id "$SVC_USER" >/dev/null 2>&1; then
        usermod -a -G "$groups" "$SVC_USER"
        say "user $SVC_USER exists; groups now include $groups"
    else
        useradd --system --no-create-home --home-dir /var/lib/emotion-edge \
            --shell /usr/sbin/nologin --user-group --groups "$groups" "$SVC_USER"
        say "created system user $SVC_USER (groups $groups)"
    fi
}

install_config() {
    mkdir -p "$ETC"
    if [ -e "$ETC/config.yaml" ]; then
        if cmp -s "$SRC/config.yaml" "$ETC/config.yaml"; then
            say "$ETC/config.yaml is up to date"
        else
            cp "$SRC/config.yaml" "$ETC/config.yaml.dist"
            say "kept your edited $ETC/config.yaml; the new default is beside it as config.yaml.dist"
        fi
    else
        cp "$SRC/config.yaml" "$ETC/config.yaml"
        if [ "$MACHINE" = pi ]; then
            sed -i 's/^  uri: "0"$/  uri: picamera2/' "$ETC/config.yaml"
            say "Raspberry Pi: set source.uri to picamera2 in $ETC/config.yaml"
        fi
        say "installed $ETC/config.yaml (edit it, then: systemctl restart $SERVICE)"
    fi
    chmod 0644 "$ETC/config.yaml"
    # LoadCredential= needs the file to exist; an empty one means "no password"
    if [ ! -e "$ETC/mqtt_password" ]; then
        install -m 0600 /dev/null "$ETC/mqtt_password"
        say "created an empty $ETC/mqtt_password (put the MQTT password there, mode 0600)"
    fi
}

install_unit() {
    mkdir -p "$UNIT_DIR"
    sed "s#@PREFIX@#$PREFIX#g" "$SRC/systemd/$SERVICE.service" > "$UNIT_DIR/$SERVICE.service"
    chmod 0644 "$UNIT_DIR/$SERVICE.service"
    say "installed $UNIT_DIR/$SERVICE.service"
    if [ "$MACHINE" = jetson ]; then
        install -D -m 0644 "$SRC/systemd/jetson.conf" "$DROPIN_DIR/jetson.conf"
        say "Jetson: installed $DROPIN_DIR/jetson.conf (shared /tmp and GPU devices for the CSI camera)"
    fi
    if live; then
        systemctl daemon-reload
        systemctl enable --now "$SERVICE"
        say "enabled and started $SERVICE"
    fi
}

case "$ACTION" in
    install)
        install_app
        install_user
        install_config
        install_unit
        case "$MACHINE" in
            pi) say "Raspberry Pi: picamera2 camera, user in video (and render/gpio where present)" ;;
            jetson) say "Jetson: user in video (and render where present); a CSI camera is an nvarguscamerasrc pipeline as source.uri (README)" ;;
        esac
        say "watch it:   journalctl -u $SERVICE -f      status: systemctl status $SERVICE"
        say "remove it:  sudo ./setup.sh --uninstall-service"
        ;;
    uninstall)
        if live; then
            systemctl disable --now "$SERVICE" 2>/dev/null || true
        fi
        rm -f "$UNIT_DIR/$SERVICE.service" "$DROPIN_DIR/jetson.conf"
        rmdir "$DROPIN_DIR" 2>/dev/null || true
        if live; then systemctl daemon-reload; fi
        case "$PREFIX" in
            /?*) rm -rf "$DESTDIR$PREFIX" ;;
            *) die "refusing to remove PREFIX=$PREFIX (not an absolute folder)" ;;
        esac
        if live && id "$SVC_USER" >/dev/null 2>&1; then
            userdel "$SVC_USER" || true
        fi
        say "removed the service, $PREFIX and user $SVC_USER"
        say "kept $ETC and /var/lib/emotion-edge (delete them by hand if you want them gone)"
        ;;
    *) die "unknown action $ACTION (install or uninstall)" ;;
esac
