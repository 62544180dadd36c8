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
  # TLS with a throwaway authority, so the tests can check that Warden verifies the server.
  if ! command -v openssl >/dev/null 2>&1; then
    $SUDO apt-get install -y -qq openssl >/dev/null 2>&1 || true
  fi
  tls=""
  if command -v openssl >/dev/null 2>&1; then
    (
      cd "$dir"
      openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=warden-test-ca -keyout ca.key -out ca.crt -days 2
      openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext
      openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile ext
      chmod 600 server.key
      if [ "$(id -u)" = 0 ]; then chown postgres server.key server.crt; fi
    ) >/dev/null 2>&1 && tls="-c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key"
  fi
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off $tls" start >&2 \
    || { cat "$dir/server.log" >&2; exit 1; }
  echo "export WARDEN_TEST_POSTGRES='host=127.0.0.1 port=$port user=postgres dbname=postgres'"
  if [ -n "$tls" ]; then echo "export WARDEN_TEST_POSTGRES_CA='$dir/ca.crt'"; fi
  ;;
stop)
  bin=$(bindir)
  as=()
  if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
  [ -d "$dir/data" ] && "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
esac
