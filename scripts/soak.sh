#!/usr/bin/env bash
# Soak: the release daemon for BANGUI_SOAK_MINUTES (default 15, the first
# BANGUI_SOAK_WARMUP_MINUTES, default 5, warm-up) with every job
# on a short interval, a real fail2ban and 20 clients; prints RSS, descriptors,
# WAL size and latency every 30 s and a verdict (RSS growth < 10 % after
# warm-up, no descriptor drift). Needs fail2ban (scripts/test.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --locked
cargo bench -p bangui-tests --locked --bench soak
