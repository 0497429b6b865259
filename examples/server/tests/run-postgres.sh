#!/usr/bin/env bash
# Runs the server's API, security and crash tests against a throwaway
# PostgreSQL (Debian's postgresql package) on a free loopback port, then
# stops it. Each test creates its own database on that server.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
DIR="$(mktemp -d /tmp/referral-pg.XXXXXX)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
chown postgres "$DIR" 2>/dev/null || true
as_pg() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
as_pg "$PG_BIN/initdb -D $DIR/data -A trust -U postgres >/dev/null"
as_pg "$PG_BIN/pg_ctl -D $DIR/data -o '-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=300' -l $DIR/log -w start >/dev/null"
trap 'as_pg "$PG_BIN/pg_ctl -D $DIR/data -m immediate stop >/dev/null" || true; rm -rf "$DIR"' EXIT
TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/postgres" \
  cargo test -q -p referral-server --test api --test security --test durability --test scale --test multiprocess --test lift --test stripe --test privacy --test outbound --test review --test openapi
