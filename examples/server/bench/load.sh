#!/usr/bin/env bash
# Load on the browser API's events endpoint from a second process on
# loopback (wrk, from Debian), on SQLite and, when PG_URL is given, on
# PostgreSQL. Every run uses fresh event ids (no acknowledged duplicates).
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
  # The limits are per client and per user: lifted for one client posting
  # as 200 users (each user's daily quota stays the default).
  export PUBLIC_URL="http://127.0.0.1:$port" RATE_EVENTS_PER_MINUTE=100000000
  DATA_DIR="$data" PORT=$port RUST_LOG=warn target/release/referral-server >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/api/v1/nudge-config" && break; sleep 0.1; done
  local tokens=""
  for u in $(seq 200); do
    tokens="$tokens,$(DATA_DIR="$data" target/release/referral-server mint-user-token --subject "load-user-$u" --ttl-secs 3600 2>/dev/null)"
  done
  for per in 1 5 20; do
    printf '%s, %2s event(s) per request, 2 threads, %s connections, 10 s: ' "$label" "$per" "${CONNECTIONS:-8}"
    USER_TOKENS="${tokens#,}" RUN_ID="$label-$per-$RANDOM" EVENTS_PER_BATCH=$per \
      wrk -t2 -c"${CONNECTIONS:-8}" -d10s --latency -s examples/server/bench/events.lua "http://127.0.0.1:$port" | tail -1
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
}
run SQLite ""
if [ -n "${PG_URL:-}" ]; then run PostgreSQL "$PG_URL"; fi
