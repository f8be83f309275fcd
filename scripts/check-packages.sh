#!/usr/bin/env bash
# Checks the packages scripts/package.sh built: contents, lintian, the
# systemd units (verify, and an exposure of at most 2.5), then installs the
# .deb, checks the packaged config and runs the installed daemon briefly in
# the foreground with the installed bangui-ctl answering it. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

deb=$(ls target/debian/bangui_*.deb)
rpm=$(ls target/generate-rpm/bangui-*.rpm)

echo "== dpkg -c $deb"
deb_files=$(dpkg -c "$deb")
echo "$deb_files"
echo "== rpm -qlp $rpm"
rpm_files=$(rpm -qlp "$rpm")
echo "$rpm_files"
for path in /usr/bin/bangui /usr/bin/bangui-ctl /etc/bangui/bangui.toml \
    /usr/lib/systemd/system/bangui.service /usr/lib/systemd/system/bangui.socket \
    /usr/lib/sysusers.d/bangui.conf /usr/lib/tmpfiles.d/bangui.conf \
    /usr/share/man/man8/bangui.8 /usr/share/man/man1/bangui-ctl.1 \
    /usr/share/bash-completion/completions/bangui-ctl; do
    # cargo-deb compresses man pages.
    grep -Eq " \.$path(\.gz)?\$" <<<"$deb_files" || { echo "missing in the .deb: $path" >&2; exit 1; }
    grep -Eqx "$path(\.gz)?" <<<"$rpm_files" || { echo "missing in the .rpm: $path" >&2; exit 1; }
done

echo "== lintian"
lintian --fail-on error --suppress-tags-from-file /dev/null "$deb"

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/check-packages.sh: installing the .deb needs root" >&2
    exit 1
fi
echo "== dpkg -i"
dpkg -i "$deb"
trap 'dpkg --purge bangui >/dev/null' EXIT

echo "== systemd-analyze verify"
systemd-analyze verify /usr/lib/systemd/system/bangui.service /usr/lib/systemd/system/bangui.socket

echo "== systemd-analyze security"
systemd-analyze security --offline=true /usr/lib/systemd/system/bangui.service | tee target/security.txt | tail -3
exposure=$(awk '/Overall exposure level/ {print $(NF-1)}' target/security.txt)
awk -v e="$exposure" 'BEGIN { exit !(e + 0 <= 2.5) }' \
    || { echo "exposure $exposure is above 2.5" >&2; exit 1; }

echo "== installed bangui --check-config"
getent group bangui >/dev/null || { echo "postinst did not create the bangui group" >&2; exit 1; }
/usr/bin/bangui --check-config

echo "== installed daemon in the foreground, installed bangui-ctl against it"
# A private mount namespace: the daemon's state, socket and managed jail files
# land on throw-away tmpfs, not on this machine's.
unshare -m sh -euc '
    for d in /var/lib/bangui /run/bangui /etc/fail2ban; do
        mkdir -p "$d" && mount -t tmpfs tmpfs "$d"
    done
    /usr/bin/bangui & pid=$!
    i=0
    until /usr/bin/bangui-ctl ping >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "the installed daemon did not answer" >&2; kill $pid; exit 1; }
        sleep 0.1
    done
    /usr/bin/bangui-ctl ping
    /usr/bin/bangui-ctl status
    kill -TERM $pid
    wait $pid
'
echo "packages ok"
