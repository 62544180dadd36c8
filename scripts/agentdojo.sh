#!/usr/bin/env bash
# The AgentDojo replay (../shared/agentdojo-replay: a scripted agent that obeys every prompt
# injection it sees) on the workspace and banking suites: directly (the baseline), then through
# `warden mcp` with the starter policies and bench/agentdojo/labels.toml, once with every held
# call approved and once with every held call denied (the unattended testing mode). Prints the
# harness's tables and the approvals asked per benign task.
#   bash scripts/agentdojo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
shared=${WARDEN_SHARED:-$root/../shared}
out=$root/target/agentdojo
mkdir -p "$out"
if [ ! -x "$out/harness/.venv/bin/python" ]; then
  rm -rf "$out/harness"
  cp -r "$shared/agentdojo-replay" "$out/harness"
  chmod -R u+w "$out/harness"
  bash "$out/harness/setup.sh" "$out/harness/.venv"
fi
cargo build --release --locked -p warden-cli
warden=$root/target/release/warden
py=$out/harness/.venv/bin/python
# The servers write their environment dumps here; the sandbox profile may write it.
export TMPDIR=$out/tmp
# The unattended mode warns at every start; the tables are what matter here.
export WARDEN_LOG=error
mkdir -p "$TMPDIR"
run() { "$py" "$out/harness/run.py" --suites workspace,banking --quiet --out "$out/$1.json" "${@:2}"; }

echo "== direct (no Warden)"
run direct
for mode in approve deny; do
  dir=$out/$mode
  rm -rf "$dir"
  "$warden" init "$dir" > /dev/null
  python3 bench/agentdojo/configure.py "$dir" "$mode" "$TMPDIR"
  proxy="$warden mcp --config $dir/warden.toml --"
  echo "== warden, every held call: $mode"
  run "$mode-benign" --modes benign --proxy-cmd "$proxy"
  printf 'approvals asked in benign episodes (sessions, requests, per task): '
  "$warden" audit export --file "$dir/.warden/audit.db" --format jsonl 2> /dev/null \
    | python3 bench/agentdojo/count.py
  run "$mode-attack" --modes attack --proxy-cmd "$proxy"
done
