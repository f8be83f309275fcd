#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60) with cargo-fuzz and
# libFuzzer on the stable toolchain (RUSTC_BOOTSTRAP=1 unlocks the sanitizer
# flags). New inputs that reach new code go to fuzz/corpus/<target>/; a crash
# stops the run and is saved under fuzz/artifacts/<target>/: fix it, copy the
# input to fuzz/regressions/<target>/, and the stable suite replays it forever
# (daemon/tests/fuzz_corpora.rs).
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(frames fail2ban_reply blocklist ip_api config)
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
    echo "== fuzz $t for ${seconds}s"
    cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 2>&1 \
        | grep -E "^#[0-9]+.*(DONE|pulse)|Done|ERROR|SUMMARY|panicked|Test unit written" || true
    if ls "artifacts/$t"/crash-* >/dev/null 2>&1; then
        echo "fuzz $t: crash saved in fuzz/artifacts/$t" >&2
        exit 1
    fi
done
