#!/bin/sh
# Runs inside the throw-away root scripts/check-packages.sh builds (an
# overlay over /, fresh /run and /tmp): installs the .deb given as $1 for
# real, checks the units and the packaged config, then runs the installed
# daemon as the service would and uses it as an operator in group `bangui`
# with no flags at all. Nothing here reaches the machine outside.
set -eu
deb=$1

fail() { echo "packaged-daemon: $*" >&2; exit 1; }

echo "== dpkg -i (throw-away root)"
dpkg -i "$deb"

echo "== systemd-analyze verify"
systemd-analyze verify /usr/lib/systemd/system/bangui.service /usr/lib/systemd/system/bangui.socket

echo "== systemd-analyze security"
systemd-analyze security --offline=true /usr/lib/systemd/system/bangui.service | tee /tmp/security.txt | tail -3
exposure=$(awk '/Overall exposure level/ {print $(NF-1)}' /tmp/security.txt)
awk -v e="$exposure" 'BEGIN { exit !(e + 0 <= 2.5) }' || fail "exposure $exposure is above 2.5"

echo "== installed bangui --check-config"
getent group bangui >/dev/null || fail "postinst did not create the bangui group"
/usr/bin/bangui --check-config

# An operator as the README describes: a member of group bangui, nothing else.
useradd --no-create-home --home-dir /nonexistent --shell /bin/sh --groups bangui alice
useradd --no-create-home --home-dir /nonexistent --shell /bin/sh mallory
as() {
    user=$1; shift
    env -i PATH=/usr/bin:/bin HOME=/nonexistent setpriv --reuid "$user" --regid "$user" --init-groups "$@"
}
# try USER WANTED_STATUS COMMAND…: runs it as USER, prints and keeps its output
# in $out, and fails unless it exits WANTED_STATUS.
try() {
    user=$1; wanted=$2; shift 2
    set +e
    out=$(as "$user" "$@" 2>&1); code=$?
    set -e
    echo "$out"
    [ "$code" -eq "$wanted" ] || fail "$* as $user exited $code, not $wanted"
}

echo "== an operator with no daemon running: the message lists where it looked"
try alice 3 /usr/bin/bangui-ctl status
echo "$out" | grep -q "/run/bangui/bangui.sock (the system socket)" || fail "the message does not name the system socket"
echo "$out" | grep -q "tried, in order" || fail "the message does not list what it tried"

echo "== installed daemon in the foreground (as the service runs it)"
/usr/bin/bangui & pid=$!
# A failed check below must not leave the daemon running.
trap 'kill "$pid" 2>/dev/null || true' EXIT
i=0
until /usr/bin/bangui-ctl ping >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "the installed daemon did not answer"
    sleep 0.1
done

echo "== the operator finds it without --socket"
as alice /usr/bin/bangui-ctl status | tee /tmp/status.txt
grep -q "socket     /run/bangui/bangui.sock" /tmp/status.txt || fail "status does not show the system socket"
grep -q "read-only" /tmp/status.txt || fail "alice should be a read-only operator"

echo "== a change as the operator is refused, in the operator's words"
try alice 4 /usr/bin/bangui-ctl jobs run health_check
echo "$out" | grep -q '`bangui-ctl jobs run health_check`' || fail "the refusal does not name the command as typed"
echo "$out" | grep -q "sudo" || fail "the refusal does not say how to be allowed"

echo "== someone outside the group may not connect"
try mallory 4 /usr/bin/bangui-ctl status

echo "== monitoring check (fail2ban is not running here: critical)"
try alice 1 /usr/bin/bangui-ctl status --check
echo "$out" | grep -q "^CRITICAL: fail2ban is down" || fail "status --check does not say fail2ban is down"

kill -TERM "$pid"
wait "$pid"
trap - EXIT

echo "== dpkg --purge"
dpkg --purge bangui
[ ! -e /var/lib/bangui ] || fail "purge left /var/lib/bangui"
echo "packaged daemon ok"
