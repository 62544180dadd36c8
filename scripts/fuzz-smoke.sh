#!/usr/bin/env bash
# Short fuzz runs of every target (not part of the default test command).
#   bash scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and libFuzzer's sanitizer support: a nightly
# toolchain if present, else the stable one with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-30}
if rustup toolchain list | grep -q nightly; then tc=(+nightly); else tc=(); export RUSTC_BOOTSTRAP=1; fi
for target in message framing policy_args config detect sse egress sql docs; do
  echo "== fuzz $target (${secs}s)"
  cargo "${tc[@]}" fuzz run "$target" -- -max_total_time="$secs" -max_len=65536
done
