#!/usr/bin/env bash
# Event ingest under load, from a second process on loopback (wrk, from
# Debian), on SQLite and, when PG_URL is given, on PostgreSQL with one and
# with two server processes on the same database (wrk spreads connections
# over both). Each run first measures the database's raw durable-commit
# rate (examples/commit_rate.rs: one-row transactions, the service's
# settings) on the same disk, so the ingest figures have their ceiling
# beside them. Every wrk run uses fresh event ids (no acknowledged
# duplicates).
# Usage: [PG_URL=postgres://…/postgres] [CONNECTIONS=8] examples/server/bench/load.sh
#   (examples/server/bench/with-postgres.sh examples/server/bench/load.sh
#    starts a throwaway PostgreSQL for it). Builds the release server first.
set -euo pipefail
cd "$(dirname "$0")/../../.."
command -v wrk >/dev/null || { echo "apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p referral-server --bin referral-server --example commit_rate
SERVER=target/release/referral-server
fresh_pg() { # a fresh database on PG_URL's server, by name
  psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $1" >/dev/null 2>&1
  psql "$PG_URL" -qc "CREATE DATABASE $1" >/dev/null
  echo "${PG_URL%/*}/$1"
}
run() {
  local label="$1" url="$2" processes="$3" port=18090
  local data; data="$(mktemp -d)"
  [ -n "$url" ] || url="sqlite://$data/referral.db?mode=rwc"
  printf '%s: raw durable commits/s (8 writers, one-row transactions): %s\n' "$label" \
    "$(target/release/examples/commit_rate "$url" 5)"
  # The limits are per client and per user: lifted for one client posting
  # as 200 users (each user's daily quota stays the default).
  export DATABASE_URL="$url" PUBLIC_URL="http://127.0.0.1:$port" RATE_EVENTS_PER_MINUTE=100000000
  local pids=() urls=()
  for p in $(seq "$processes"); do
    DATA_DIR="$data" PORT=$((port + p - 1)) RUST_LOG=warn "$SERVER" >/dev/null 2>&1 &
    pids+=($!)
    urls+=("http://127.0.0.1:$((port + p - 1))")
  done
  for u in "${urls[@]}"; do
    for _ in $(seq 100); do curl -s -o /dev/null "$u/api/v1/nudge-config" && break; sleep 0.1; done
  done
  local tokens=""
  for u in $(seq 200); do
    tokens="$tokens,$(DATA_DIR="$data" "$SERVER" mint-user-token --subject "load-user-$u" --ttl-secs 3600 2>/dev/null)"
  done
  for per in 1 5 20; do
    local c=$(( ${CONNECTIONS:-8} / processes ))
    printf '%s, %s process(es), %2s event(s) per request, %s connections, 10 s: ' "$label" "$processes" "$per" "${CONNECTIONS:-8}"
    local outs=()
    for u in "${urls[@]}"; do
      local out; out="$(mktemp)"; outs+=("$out")
      USER_TOKENS="${tokens#,}" RUN_ID="$label-$processes-$per-$u-$RANDOM$RANDOM" EVENTS_PER_BATCH=$per \
        wrk -t1 -c"$c" -d10s --latency -s examples/server/bench/events.lua "$u" > "$out" &
    done
    wait $(jobs -p | grep -v -F -x -f <(printf '%s\n' "${pids[@]}")) 2>/dev/null || true
    # One line per process; summed by the reader (events/s add up).
    for out in "${outs[@]}"; do tail -1 "$out"; rm -f "$out"; done | paste -sd ';' -
  done
  kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
  rm -rf "$data"
}
run SQLite "" 1
if [ -n "${PG_URL:-}" ]; then
  run PostgreSQL "$(fresh_pg load_one)" 1
  run PostgreSQL "$(fresh_pg load_two)" 2
fi
