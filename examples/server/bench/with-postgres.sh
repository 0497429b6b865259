#!/usr/bin/env bash
# Runs a command with PG_URL pointing at a throwaway PostgreSQL cluster
# (Debian's postgresql package) on a free loopback port, then removes it:
#   examples/server/bench/with-postgres.sh python3 examples/server/bench/scale.py
set -euo pipefail
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
DIR="$(mktemp -d /tmp/referral-bench-pg.XXXXXX)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
chown postgres "$DIR" 2>/dev/null || true
as_pg() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
as_pg "$PG_BIN/initdb -D $DIR/data -A trust -U postgres >/dev/null"
as_pg "$PG_BIN/pg_ctl -D $DIR/data -o '-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=300' -l $DIR/log -w start >/dev/null"
trap 'as_pg "$PG_BIN/pg_ctl -D $DIR/data -m fast stop >/dev/null" || true; rm -rf "$DIR"' EXIT
PG_URL="postgres://postgres@127.0.0.1:$PORT/postgres" "$@"
