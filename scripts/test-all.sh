#!/usr/bin/env bash
# The whole test suite, from a fresh machine: README's test command.
# Installs what it needs first (idempotent), then runs every check.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p referral-wasm --target wasm32-unknown-unknown --all-targets -- -D warnings
cargo clippy -p referral-wasm --target wasm32-unknown-unknown --no-default-features -- -D warnings

step "test vectors are up to date"
cargo xtask vectors --check

step "the widget's TypeScript reason types (wasm/js/reasons.d.ts) match core's reason codes"
cargo xtask ts-types --check

step "cargo test (workspace)"
cargo test --workspace

step "wasm: the shared vectors in headless Chromium (wasm-bindgen-test)"
CHROMEDRIVER=/usr/bin/chromedriver cargo test -p referral-wasm --target wasm32-unknown-unknown

step "wasm: build the widget's npm package (wasm-opt -Oz) and print its size"
cargo xtask wasm

step "the package's TypeScript types compile against a consumer of every entry point"
mkdir -p tests/e2e/types/node_modules/@referral-sdk
ln -sfn "$PWD/target/npm/widget" tests/e2e/types/node_modules/@referral-sdk/widget
tests/e2e/node_modules/.bin/tsc -p tests/e2e/types/tsconfig.json

step "the widget's JS checked against its .d.ts (// @ts-check, tsc --checkJs)"
tests/e2e/node_modules/.bin/tsc -p tests/e2e/types/tsconfig.checkjs.json

step "a Vite app builds against the package"
# npm install, not ci: npm writes locks without the other platforms optional
# rollup binaries, which `npm ci` then refuses.
(cd examples/web-vite && npm install --no-audit --no-fund --silent && npx --no-install vite build)

step "a React 19 app builds against the package"
(cd examples/web-react && npm install --no-audit --no-fund --silent && npx --no-install vite build)

step "widget and capture in headless Chromium (playwright-core, axe-core)"
(cd tests/e2e && node run.mjs)

step "where the widget is drawn: the ask and the panel on four screens, both directions, inline and floating"
(cd tests/e2e && node geometry.mjs)

step "the widget under real-world conditions: early calls, slow and failing endpoints, bad input, full storage, re-renders, lost events"
(cd tests/e2e && node robust.mjs)

step "the npm tarball: packed, installed into a scratch app, widget and capture run from the installed files"
(cd tests/e2e && node tarball.mjs)

step "the React app re-rendering every second keeps the panel, the ask and one impression"
(cd tests/e2e && node react.mjs)

step "core without the signing feature (what the browser links)"
cargo test -p referral-core --no-default-features --lib

step "committed Swift bindings are up to date (before regenerating them)"
cargo xtask bindings --check

step "bindings: build the cdylib, generate Swift/Kotlin, build the Python wheel"
cargo xtask bindings

step "bindings tests: Python (pytest), Kotlin (JVM), cross-language codes"
cargo xtask test-bindings

step "the whole loop in a real browser against the reference backend"
cargo build -q -p referral-server
(cd tests/e2e && node demo.mjs)

step "Stripe's webhooks, signed by Stripe's own library (npm stripe), against the reference backend"
(cd tests/e2e && node stripe.mjs)

step "outbound webhooks from the reference backend, verified by the official Standard Webhooks library (npm standardwebhooks)"
(cd tests/e2e && node outbound.mjs)

step "reference backend on PostgreSQL (Debian's postgresql, throwaway cluster)"
bash examples/server/tests/run-postgres.sh

step "the server's OpenAPI contract: schemathesis (PyPI) against a live server on SQLite (every 5xx and every response off the contract fails)"
bash examples/server/tests/schemathesis.sh

step "main command smoke run: scripts/run-demo.sh serves the demo, then stops"
bash scripts/smoke-main.sh

step "the quickstart example runs"
cargo run -q -p quickstart > /dev/null
