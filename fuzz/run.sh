#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each) with cargo-fuzz, on the
# stable toolchain (RUSTC_BOOTSTRAP lets it take the -Z flags cargo-fuzz passes).
#   fuzz/run.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
[ -f Cargo.lock ] || cp ../Cargo.lock Cargo.lock
export RUSTC_BOOTSTRAP=1
for t in authorize_request token_request client_auth; do
  echo "== $t (${secs}s)"
  cargo fuzz run "$t" --sanitizer none -- -max_total_time="$secs" -max_len=4096
done
