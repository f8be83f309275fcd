#!/usr/bin/env bash
# Performance figures (release build). Prints them; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --locked
cargo bench -p bangui-tests --locked --bench foundation --bench fail2ban --bench geo --bench blocklist --bench history --bench floods --bench firewall "$@"
