#!/usr/bin/env bash
# Warden's test command (the one README.md and .ci/run use). On a fresh machine it installs
# what it needs: the pinned third-party MCP peers (npm + PyPI, via ../shared/mcp-peers) and
# pytest, and PostgreSQL (Debian's package) for the data tests. Then: formatting, lints, the
# dependency-direction check, Rust tests (with a throwaway PostgreSQL server on loopback),
# end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${WARDEN_SHARED:-$ROOT/../shared}
PEERS=${WARDEN_PEERS:-$ROOT/tests/e2e/.peers}
export WARDEN_SHARED=$SHARED WARDEN_PEERS=$PEERS

step() { printf '\n== %s\n' "$*"; }

if [ ! -e "$PEERS/.installed" ]; then
  step "installing MCP test peers into $PEERS"
  rm -rf "$PEERS"
  bash "$SHARED/mcp-peers/install-peers.sh" "$PEERS"
  "$PEERS/venv/bin/pip" install -q pytest==9.2.0
  touch "$PEERS/.installed"
fi
if [ ! -e "$PEERS/.installed-api" ]; then
  step "installing the HTTP API checkers (schemathesis, openapi-spec-validator)"
  "$PEERS/venv/bin/pip" install -q schemathesis==4.32.5 openapi-spec-validator==0.9.0
  touch "$PEERS/.installed-api"
fi
if [ ! -e "$PEERS/.installed-telemetry" ]; then
  step "installing the telemetry checkers (prometheus-client, opentelemetry-proto)"
  "$PEERS/venv/bin/pip" install -q prometheus-client==0.26.0 opentelemetry-proto==1.45.2
  touch "$PEERS/.installed-telemetry"
fi

if ! command -v chromium >/dev/null 2>&1; then
  step "installing Chromium (Debian package) for the console's browser tests"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if [ ! -e tests/console/node_modules/.installed ]; then
  step "installing the console test's npm packages (playwright-core, axe-core, MCP SDK)"
  npm ci --prefix tests/console --no-audit --no-fund --loglevel=error
  touch tests/console/node_modules/.installed
fi

step "format"
cargo fmt --all --check
step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "dependency direction"
bash scripts/check-deps.sh
step "PostgreSQL for the data tests (Debian's package, on loopback)"
PGDIR=$(mktemp -d /tmp/warden-pg.XXXXXX)
trap 'bash "$ROOT/scripts/postgres.sh" stop "$PGDIR"' EXIT
eval "$(bash scripts/postgres.sh start "$PGDIR")"
export WARDEN_TEST_POSTGRES WARDEN_TEST_POSTGRES_CA
step "rust tests"
cargo build --locked -p warden-cli
cargo test --workspace --locked
step "end-to-end tests (real MCP peers)"
WARDEN_BIN="$ROOT/target/debug/warden" "$PEERS/venv/bin/python" -m pytest -q -p no:cacheprovider tests/e2e
step "console in a real browser (Chromium, Playwright, axe-core; screenshots in target/console-screenshots)"
(cd tests/console && WARDEN_BIN="$ROOT/target/debug/warden" node --test --test-concurrency=1 console.test.mjs)
