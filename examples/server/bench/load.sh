#!/usr/bin/env bash
# Load on the events endpoint from a second process on loopback (wrk, from
# Debian), on SQLite and, when PG_URL is given, on PostgreSQL.
# Usage: [PG_URL=postgres://…] [CONNECTIONS=8] examples/server/bench/load.sh
# (builds the release server first).
set -euo pipefail
cd "$(dirname "$0")/../../.."
command -v wrk >/dev/null || { echo "apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p referral-server
run() {
  local label="$1" url="$2" port=18090
  local data; data="$(mktemp -d)"
  if [ -n "$url" ]; then export DATABASE_URL="$url"; else unset DATABASE_URL; fi
  DATA_DIR="$data" PORT=$port target/release/referral-server >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  local cookie; cookie="$(curl -s -i -X POST -H 'content-type: application/json' -d '{"email":"load@bench.example"}' "http://127.0.0.1:$port/api/demo/sign-in" | sed -n 's/^set-cookie: \([^;]*\).*/\1/p')"
  for per in 1 5 20; do
    printf '%s, %2s event(s) per request, 2 threads, %s connections, 10 s: ' "$label" "$per" "${CONNECTIONS:-8}"
    SESSION_COOKIE="$cookie" EVENTS_PER_BATCH=$per wrk -t2 -c"${CONNECTIONS:-8}" -d10s --latency -s examples/server/bench/events.lua "http://127.0.0.1:$port" | tail -1
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
}
run SQLite ""
if [ -n "${PG_URL:-}" ]; then run PostgreSQL "$PG_URL"; fi
