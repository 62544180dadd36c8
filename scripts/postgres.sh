#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on loopback for the tests, installing Debian's
# `postgresql` package first when no server is installed. Prints the connection string.
# Usage: eval "$(bash scripts/postgres.sh start DIR)"  ...  bash scripts/postgres.sh stop DIR
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?data directory}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }

case "$cmd" in
start)
  if [ -z "$(bindir)" ]; then
    echo "installing PostgreSQL (Debian package) for the data tests" >&2
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  fi
  bin=$(bindir)
  # PostgreSQL refuses to run as root: run it as the `postgres` user the package creates.
  as=()
  if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
  rm -rf "$dir"; mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 30000)))
  "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >&2 \
    || { cat "$dir/server.log" >&2; exit 1; }
  echo "export WARDEN_TEST_POSTGRES='host=127.0.0.1 port=$port user=postgres dbname=postgres'"
  ;;
stop)
  bin=$(bindir)
  as=()
  if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
  [ -d "$dir/data" ] && "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
esac
