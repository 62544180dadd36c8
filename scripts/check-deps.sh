#!/usr/bin/env bash
# The pure engines never link an async runtime or HTTP stack (STYLE.md: dependencies point down).
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
for crate in warden-types warden-policy warden-detect warden-identity warden-approvals warden-controls warden-sqlguard warden-docstore; do
  found=$(cargo tree --locked -p "$crate" -e normal --prefix none | awk '{print $1}' | grep -xE 'tokio|hyper|axum|reqwest' | sort -u || true)
  if [ -n "$found" ]; then
    echo "$crate must not depend on: $found"; bad=1
  fi
done
for crate in warden-types warden-policy warden-detect warden-audit warden-mcp warden-proxy warden-identity warden-approvals warden-controls warden-gateway warden-sqlguard warden-docstore; do
  if cargo tree --locked -p "$crate" -e normal --prefix none | awk '{print $1}' | grep -qx anyhow; then
    echo "$crate must not depend on anyhow (only app and cli do)"; bad=1
  fi
done
[ "$bad" -eq 0 ] && echo "dependency direction ok"
