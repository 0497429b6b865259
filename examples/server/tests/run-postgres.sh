#!/usr/bin/env bash
# Runs the server's API tests against a throwaway PostgreSQL (Debian's
# postgresql package) on a free loopback port, then stops it.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
DIR="$(mktemp -d /tmp/referral-pg.XXXXXX)"
PORT=55432
chown postgres "$DIR" 2>/dev/null || true
as_pg() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
as_pg "$PG_BIN/initdb -D $DIR/data -A trust -U postgres >/dev/null"
as_pg "$PG_BIN/pg_ctl -D $DIR/data -o '-p $PORT -k $DIR -c listen_addresses=127.0.0.1' -l $DIR/log -w start >/dev/null"
trap 'as_pg "$PG_BIN/pg_ctl -D $DIR/data -m immediate stop >/dev/null" || true; rm -rf "$DIR"' EXIT
# One database per test: each test connects to a fresh schema.
for db in t1 t2 t3 t4; do as_pg "$PG_BIN/createdb -h 127.0.0.1 -p $PORT -U postgres $db"; done
status=0
for t in the_whole_referral_loop events_are_idempotent_by_id bad_input_is_a_4xx_naming_the_problem signup_and_code_lookups_are_rate_limited; do
  db="t$(( ${db_n:=0} + 1 ))"; db_n=$(( db_n + 1 ))
  TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/$db" cargo test -q -p referral-server --test api -- --exact "$t" || status=1
done
exit $status
