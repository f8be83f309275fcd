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

# Both packages recommend what bangui's jails need to reach the kernel.
echo "== weak dependencies"
dpkg-deb -f "$deb" Recommends | grep -q nftables || { echo "the .deb does not recommend nftables" >&2; exit 1; }
rpm -qp --recommends "$rpm" | grep -q nftables || { echo "the .rpm does not recommend nftables" >&2; exit 1; }

# ProtectSystem=strict: every fail2ban directory bangui writes must be listed.
for dir in jail.d action.d; do
    grep -Eq "^ReadWritePaths=.*-/etc/fail2ban/$dir( |\$)" packaging/systemd/bangui.service ||
        { echo "bangui.service does not let bangui write /etc/fail2ban/$dir" >&2; exit 1; }
done

echo "== lintian"
lintian --fail-on error --suppress-tags-from-file /dev/null "$deb"

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/check-packages.sh: installing the .deb (into a throw-away root) needs root" >&2
    exit 1
fi
# The .deb is installed into a throw-away root (an overlay over / in a private
# mount namespace), never into this machine: its packages, users, groups,
# /etc/fail2ban and services stay as they are. An installed bangui would
# turn the check into an upgrade test, so it is refused instead of replaced.
if dpkg-query -W -f='${Status}' bangui 2>/dev/null | grep -q 'install ok installed'; then
    echo "scripts/check-packages.sh: bangui $(dpkg-query -W -f='${Version}' bangui) is installed on this machine;" >&2
    echo "  the package check installs a fresh copy into a throw-away root and would test an upgrade instead." >&2
    echo "  Run the suite on a machine without bangui installed (this one is left untouched)." >&2
    exit 1
fi

# The overlay covers the root file system only: /usr, /var and /etc must be on it.
for dir in /usr /var /etc; do
    if [ "$(findmnt -n -o TARGET --target "$dir")" != "/" ]; then
        echo "scripts/check-packages.sh: $dir is a file system of its own here; the throw-away root" >&2
        echo "  (an overlay over /) would not contain it. Run the package check on a machine with /usr," >&2
        echo "  /var and /etc on the root file system (as CI is)." >&2
        exit 1
    fi
done

scratch=$(mktemp -d /tmp/bangui-pkgroot.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/upper" "$scratch/work" "$scratch/root"
cp "$deb" "$scratch/bangui.deb"
cp scripts/packaged-daemon.sh "$scratch/packaged-daemon.sh"

# Its own PID namespace too: whatever the check starts ends with it; and its
# own network namespace, so that no firewall action it starts reaches the host.
unshare -m -n --propagation private --fork --pid sh -euc '
    s=$1
    mount -t overlay overlay -o "lowerdir=/,upperdir=$s/upper,workdir=$s/work" "$s/root"
    mount --rbind /dev "$s/root/dev"
    mount -t proc proc "$s/root/proc"
    mount --rbind /sys "$s/root/sys"
    # Fresh /run and /tmp: no host sockets (fail2ban, bangui) are visible.
    mount -t tmpfs tmpfs "$s/root/run"
    mount -t tmpfs tmpfs "$s/root/tmp"
    cp "$s/bangui.deb" "$s/packaged-daemon.sh" "$s/root/tmp/"
    chroot "$s/root" sh -eu /tmp/packaged-daemon.sh /tmp/bangui.deb
' sh "$scratch"
echo "packages ok"
