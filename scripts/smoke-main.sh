#!/usr/bin/env bash
# Smoke run of README's main command, as a newcomer meets it: starts
# scripts/run-demo.sh (which installs what it needs), waits for the
# service, fetches the demo app, the widget's wasm and a locked admin,
# then stops it. .ci/run runs this first, on the clean clone, before the
# test suite installs anything.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO_DATA="$(mktemp -d)"
PORT="${SMOKE_PORT:-18181}"
DATA_DIR="$DEMO_DATA" PORT="$PORT" bash scripts/run-demo.sh > "$DEMO_DATA/out.log" 2>&1 &
DEMO_PID=$!
stop() {
  kill "$DEMO_PID" 2>/dev/null || true
  pkill -f "target/release/referral-server serve" 2>/dev/null || true
  wait "$DEMO_PID" 2>/dev/null || true
  rm -rf "$DEMO_DATA"
}
trap stop EXIT
up=""
for _ in $(seq 1800); do
  if grep -q "referral-server on http://127.0.0.1:$PORT" "$DEMO_DATA/out.log" 2>/dev/null; then up=1; break; fi
  if ! kill -0 "$DEMO_PID" 2>/dev/null; then break; fi
  sleep 1
done
if [ -z "$up" ]; then
  echo "the main command did not start:" >&2
  tail -40 "$DEMO_DATA/out.log" >&2
  exit 1
fi
base="http://127.0.0.1:$PORT"
curl -fsS "$base/" | grep -q "Acme Analytics"
curl -fsS "$base/pkg/referral_wasm_bg.wasm" -o /dev/null
curl -fsS "$base/pkg/widget.min.js" -o /dev/null
# The admin is locked, and the demo printed its admin sign-in.
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/api/admin/funnel")" = 401 ]
grep -q "demo admin: admin@acme.example" "$DEMO_DATA/out.log"
echo "main command: serving the demo on $base (admin locked)"
