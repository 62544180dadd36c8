#!/usr/bin/env bash
# Reproduces every figure in BENCHMARKS.md (release build; each baseline and Warden side by
# side in one run). The latency benchmark runs twice: with the scheduler free to use both
# cores, and with client, Warden and server sharing one core (`taskset -c 0`), which takes this
# VM's cross-core wake-up latency out of the comparison.
#   bash scripts/bench.sh [latency|gateway|stream|listing|approvals|controls|sandbox|anomaly|policy|audit|flow|data|detect|all]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p warden-cli -p warden-bench
what=${1:-all}
bench=(target/release/warden-bench)
# Two-core figures depend on how long an idle vCPU polls before it halts (BENCHMARKS.md,
# "this VM's idle polling"): say which setting this run had.
poll=/sys/module/haltpoll/parameters/guest_halt_poll_ns
echo "guest idle polling: $(cat "$poll" 2> /dev/null || echo 'not a haltpoll guest') ns"
if [ "$what" = all ] || [ "$what" = latency ]; then
  "${bench[@]}" latency --warden target/release/warden
  taskset -c 0 "${bench[@]}" latency --warden target/release/warden
fi
if [ "$what" = all ] || [ "$what" = gateway ]; then "${bench[@]}" gateway --warden target/release/warden; fi
if [ "$what" = all ] || [ "$what" = stream ]; then "${bench[@]}" stream --warden target/release/warden; fi
if [ "$what" = all ] || [ "$what" = listing ]; then "${bench[@]}" listing --warden target/release/warden; fi
if [ "$what" = all ] || [ "$what" = approvals ]; then "${bench[@]}" approvals --warden target/release/warden; fi
if [ "$what" = all ] || [ "$what" = controls ]; then
  "${bench[@]}" controls --warden target/release/warden
  taskset -c 0 "${bench[@]}" controls --warden target/release/warden
fi
if [ "$what" = all ] || [ "$what" = sandbox ]; then "${bench[@]}" sandbox --warden target/release/warden; fi
if [ "$what" = all ] || [ "$what" = anomaly ]; then "${bench[@]}" anomaly; fi
if [ "$what" = all ] || [ "$what" = policy ]; then "${bench[@]}" policy; fi
if [ "$what" = all ] || [ "$what" = audit ]; then "${bench[@]}" audit; fi
if [ "$what" = all ] || [ "$what" = flow ]; then "${bench[@]}" flow; fi
if [ "$what" = all ] || [ "$what" = data ]; then "${bench[@]}" data; fi
if [ "$what" = all ] || [ "$what" = detect ]; then
  [ -f target/benign/benign-eval.jsonl ] || python3 scripts/build-benign.py
  C=../shared/corpora
  target/release/warden eval $C/injection/*.jsonl $C/pii/pii_dev.jsonl $C/secrets/noseyparker_dev.jsonl \
    target/benign/benign-eval.jsonl --benign target/benign/benign-eval.jsonl
  "${bench[@]}" detect --corpus $C/injection/agentdojo_dev.jsonl --corpus target/benign/benign-eval.jsonl
  # Generalization: each injection file held out of training, evaluated with those weights.
  for held in agentdojo_dev garak_latent_dev promptinject_dev jailbreaks_dev; do
    others=$(ls $C/injection/*.jsonl | grep -v "/$held.jsonl")
    # shellcheck disable=SC2086
    target/release/warden train $others --benign target/benign/benign-train.jsonl -o "target/held-out-$held.bin" >/dev/null
    target/release/warden eval "$C/injection/$held.jsonl" --benign target/benign/benign-eval.jsonl \
      --model "target/held-out-$held.bin" | grep "^$held"
  done
  # Each attack family held out (trained on everything else), and the PII corpus's sentences
  # read as benign user input.
  python3 scripts/split-corpus.py $C target/families | while read -r family file; do
    # shellcheck disable=SC2086
    target/release/warden train $C/injection/*.jsonl --benign target/benign/benign-train.jsonl \
      --exclude-family "$family" -o target/families/model.bin >/dev/null
    target/release/warden eval "$file" --benign target/benign/benign-eval.jsonl \
      --model target/families/model.bin | sed -n "2s|^[^ ]*|$family|p"
  done
  target/release/warden eval target/families/pii-sentences-benign.jsonl --json | python3 -c \
    'import json,sys; r=json.load(sys.stdin)[0]; print("PII sentences read as benign input:", r["overall"]["fp"], "of", r["items"], "flagged as injection")'
  if [ ! -x target/pypeers/bin/python ]; then
    python3 -m venv target/pypeers
    target/pypeers/bin/pip install -q presidio-analyzer==2.2.366 detect-secrets==1.5.0
  fi
  target/pypeers/bin/python scripts/peers-eval.py $C/pii/pii_dev.jsonl $C/secrets/noseyparker_dev.jsonl
fi
