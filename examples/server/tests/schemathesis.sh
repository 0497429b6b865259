#!/usr/bin/env bash
# Schemathesis (PyPI, pinned in scripts/setup.sh) against a live server:
# the debug binary on SQLite in a temporary data directory. Requests are
# generated from examples/server/openapi.json for
# - the server API (tag `server`), with an API key from
#   `referral-server create-api-key`, passed with -H;
# - the browser API (tag `browser`), with a user token from
#   `referral-server mint-user-token`;
# - the public endpoints (tag `public`);
# - the billing webhooks (tag `billing`, generic and Stripe), each body
#   signed by schemathesis_hooks.py with the secrets given to the server;
# - the admin API (tag `admin`), with a signed-in session (signing out,
#   revoking keys and adding webhook endpoints left out).
# It fails on any 5xx, any response that breaks the contract (status,
# content type, schema) and schemathesis's other checks (all run by
# default; schemathesis.toml says which are tuned, and why). Bounded by
# --max-examples (SCHEMATHESIS_MAX_EXAMPLES, default 100: under a
# minute). OPENAPI_SPEC runs it with another document (to see it fail on a
# doctored one).
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT="$PWD"
ST="$ROOT/.venv/bin/schemathesis"
if [ ! -x "$ST" ]; then
  echo "schemathesis is missing: run scripts/setup.sh" >&2
  exit 1
fi
cargo build -q -p referral-server
BIN="$ROOT/target/debug/referral-server"
DATA="$(mktemp -d /tmp/referral-schemathesis.XXXXXX)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$DATA"
}
trap cleanup EXIT
export DATA_DIR="$DATA/data" RUST_LOG="${RUST_LOG:-warn}"
unset DATABASE_URL
# The billing secrets, shared with the hooks that sign generated webhooks.
export REFERRAL_WEBHOOK_SECRET_HEX="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
export STRIPE_WEBHOOK_SECRETS="whsec_$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
ADMIN_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
KEY="$("$BIN" create-api-key --name schemathesis 2>/dev/null)"
REFERRAL_ADMIN_EMAIL=schemathesis@example.com REFERRAL_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  RATE_PER_MINUTE=100000 RATE_EVENTS_PER_MINUTE=100000 PORT="$PORT" PUBLIC_URL="http://127.0.0.1:$PORT" "$BIN" serve >"$DATA/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 200); do
  if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null; then break; fi
  sleep 0.05
done
# The browser API's user: registered, with a user token (schemathesis.toml
# sends it to the browser API).
python3 - "$PORT" "$KEY" <<'PY'
import json, sys, urllib.request
port, key = sys.argv[1], sys.argv[2]
request = urllib.request.Request(
    f"http://127.0.0.1:{port}/api/v1/users/schemathesis-user", method="PUT",
    data=json.dumps({"email": "schemathesis@example.com"}).encode(),
    headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
urllib.request.urlopen(request).read()
PY
export SCHEMATHESIS_USER_TOKEN="$("$BIN" mint-user-token --subject schemathesis-user --audience "http://127.0.0.1:$PORT" --ttl-secs 3600)"
# The admin API: a session (cookie and CSRF token, which
# schemathesis.toml sends to the admin operations).
eval "$(python3 - "$PORT" "$ADMIN_PASSWORD" <<'PY'
import json, sys, urllib.request
port, password = sys.argv[1], sys.argv[2]
request = urllib.request.Request(
    f"http://127.0.0.1:{port}/api/admin/session", method="POST",
    data=json.dumps({"email": "schemathesis@example.com", "password": password}).encode(),
    headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request) as reply:
    cookie = reply.headers["Set-Cookie"].split(";")[0]
    csrf = json.load(reply)["csrf_token"]
print(f"export SCHEMATHESIS_ADMIN_COOKIE='{cookie}' SCHEMATHESIS_CSRF='{csrf}'")
PY
)"
status=0
# From the temporary directory: schemathesis keeps a cache in its working one.
(cd "$DATA" && PYTHONPATH="$ROOT/examples/server/tests" SCHEMATHESIS_HOOKS=schemathesis_hooks "$ST" --config-file "$ROOT/examples/server/tests/schemathesis.toml" run "${OPENAPI_SPEC:-$ROOT/examples/server/openapi.json}" \
  --url "http://127.0.0.1:$PORT" \
  -H "Authorization: Bearer $KEY" \
  --include-tag server --include-tag public --include-tag billing --include-tag browser --include-tag admin \
  --exclude-operation-id adminSignOut --exclude-operation-id adminSignOutEverywhere \
  --exclude-operation-id revokeApiKey --exclude-operation-id addWebhookEndpoint \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-100}" \
  --seed "${SCHEMATHESIS_SEED:-1}" \
  --generation-database none \
  --report-dir "$DATA/report" \
  --no-color) || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log (last 40 lines) ---" >&2
  tail -40 "$DATA/server.log" >&2
fi
exit "$status"
