#!/bin/sh
# Installs govwatch from source as a systemd service. Run as root from a checkout, after
#   cargo install --path . --root /usr/local
# It installs the unit (ExecStart pointed at the binary), and the example config unless one
# exists. No user is created: the unit uses DynamicUser=yes, and systemd creates the state
# directory (/var/lib/govwatch) for that user when the service starts.
#   BIN=/path/to/govwatch   the binary (default: /usr/local/bin/govwatch)
#   UNIT_DIR=/etc/systemd/system   where the unit goes
set -eu
cd "$(dirname "$0")/.."

BIN=${BIN:-/usr/local/bin/govwatch}
UNIT_DIR=${UNIT_DIR:-/etc/systemd/system}
CONF_DIR=${CONF_DIR:-/etc/govwatch}

die() { echo "install.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it writes $UNIT_DIR and $CONF_DIR)"
[ -x "$BIN" ] || die "no govwatch binary at $BIN; run 'cargo install --path . --root /usr/local' first, or set BIN="
case "$BIN" in /*) ;; *) die "BIN must be an absolute path (systemd needs one), not $BIN" ;; esac

install -d -m 0755 "$CONF_DIR"
if [ -e "$CONF_DIR/govwatch.toml" ]; then
    echo "keeping the existing $CONF_DIR/govwatch.toml"
else
    install -m 0644 config/govwatch.example.toml "$CONF_DIR/govwatch.toml"
    echo "installed $CONF_DIR/govwatch.toml: edit it to name what to watch"
fi
# A config that does not validate would only fail later, at start; say so now.
"$BIN" --config "$CONF_DIR/govwatch.toml" config check >/dev/null ||
    die "$CONF_DIR/govwatch.toml does not validate (see above)"

install -d -m 0755 "$UNIT_DIR"
sed "s|^ExecStart=/usr/bin/govwatch |ExecStart=$BIN |" deploy/govwatch.service >"$UNIT_DIR/govwatch.service.tmp"
chmod 0644 "$UNIT_DIR/govwatch.service.tmp"
mv "$UNIT_DIR/govwatch.service.tmp" "$UNIT_DIR/govwatch.service"
echo "installed $UNIT_DIR/govwatch.service (ExecStart=$BIN run)"

if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    echo "next: systemctl enable --now govwatch"
else
    echo "systemd is not running here; on the server: systemctl daemon-reload && systemctl enable --now govwatch"
fi
