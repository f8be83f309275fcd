#!/usr/bin/env bash
# The whole test suite: formatting, lints, build, every test.
# Installs what the tests need when it is missing (as root, from Debian).
set -euo pipefail
cd "$(dirname "$0")/.."

# need COMMAND PACKAGE: make sure COMMAND exists, installing PACKAGE if not.
apt_updated=no
need() {
    local command=$1 package=$2
    if command -v "$command" >/dev/null 2>&1 || [ -x "/usr/sbin/$command" ] || [ -x "/usr/bin/$command" ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "scripts/test.sh: $command is missing; install it with: sudo apt-get install $package" >&2
        exit 1
    fi
    if [ "$apt_updated" = no ]; then
        apt-get update -qq
        apt_updated=yes
    fi
    echo "scripts/test.sh: installing $package for $command"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null
}

need setpriv util-linux
need fail2ban-server fail2ban
need python3 python3
need unshare util-linux
need ip iproute2
need nft nftables
need ipset ipset
need iptables iptables
need script bsdutils
need useradd passwd
need systemd-socket-activate systemd
need systemd-analyze systemd
need lintian lintian
need rpm rpm
need dpkg-shlibdeps dpkg-dev

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo build"
# The end-to-end tests run these binaries; a workspace build gives the daemon
# its test-hooks feature (switched on at run time by BANGUI_TEST_HOOKS=1).
cargo build --workspace --locked --bins --examples

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi

echo "== doc tests"
# Among them the compile-fail proof that only the allowlist makes a bannable target.
cargo test --workspace --locked --doc

echo "== packages"
# Builds the .deb and .rpm, checks them, installs the .deb and runs it.
scripts/package.sh
scripts/check-packages.sh
