#!/usr/bin/env bash
# Checks deploy/govwatch.service the way systemd will read it: `systemd-analyze verify` must
# print nothing, and `systemd-analyze security` must rate the unit's exposure 2.0 or lower.
# Usage: deploy/check-unit.sh PATH/TO/govwatch   (the binary just built)
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(realpath "${1:?usage: deploy/check-unit.sh PATH/TO/govwatch}")
max_exposure=2.0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# verify insists that ExecStart's binary exists on this machine, and the unit names the
# installed path (/usr/bin/govwatch): check a copy pointing at the binary just built.
sed "s|^ExecStart=/usr/bin/govwatch |ExecStart=$bin |" deploy/govwatch.service >"$tmp/govwatch.service"
grep -q "^ExecStart=$bin run\$" "$tmp/govwatch.service" || {
    echo "deploy/govwatch.service: ExecStart is not '/usr/bin/govwatch run'" >&2
    exit 1
}

echo "-- systemd-analyze verify"
if ! verify=$(systemd-analyze verify "$tmp/govwatch.service" 2>&1) || [ -n "$verify" ]; then
    echo "$verify" >&2
    echo "systemd-analyze verify is not clean" >&2
    exit 1
fi
echo "clean"

echo "-- systemd-analyze security"
# --offline reads the unit file instead of asking a running systemd (none in a container).
security=$(systemd-analyze security --offline=true "$tmp/govwatch.service" 2>&1) || true
line=$(grep -m1 'Overall exposure level' <<<"$security" || true)
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9]*\.[0-9]\).*/\1/p' <<<"$line")
if [ -z "$score" ]; then
    echo "$security" >&2
    echo "cannot find the exposure score in systemd-analyze security's output" >&2
    exit 1
fi
echo "$line"
if awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s > m) }'; then
    grep '✗' <<<"$security" >&2 || true
    echo "exposure $score is above $max_exposure" >&2
    exit 1
fi
