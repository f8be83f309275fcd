#!/usr/bin/env bash
# Builds the Debian and RPM packages:
#   target/debian/bangui_<version>-1_<arch>.deb
#   target/generate-rpm/bangui-<version>-1.<arch>.rpm
# Needs cargo-deb and cargo-generate-rpm (installed from crates.io if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in cargo-deb cargo-generate-rpm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "scripts/package.sh: installing $tool from crates.io"
        cargo install --locked --quiet "$tool"
    fi
done

# Only the two shipped packages: the test-hooks feature stays out of release builds.
cargo build --release --locked -p bangui-daemon -p bangui-ctl --bins
cargo xtask assets packaging/generated
rm -rf target/debian target/generate-rpm
cargo deb --no-build --locked -p bangui-daemon
cargo generate-rpm -p daemon
ls -l target/debian/*.deb target/generate-rpm/*.rpm
