#!/usr/bin/env bash
# Reproduces every figure in BENCHMARKS.md (release build, then each baseline and Warden
# side by side in one run). Usage: bash scripts/bench.sh [latency|policy|audit|all]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p warden-cli -p warden-bench
target/release/warden-bench "${1:-all}" --warden target/release/warden
