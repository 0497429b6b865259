#!/usr/bin/env bash
# README's main command: installs what it needs (idempotently: the wasm
# target, wasm-bindgen, binaryen and esbuild), builds the widget's package
# and starts the referral service with the demo SaaS host on 127.0.0.1,
# on the embedded SQLite database (PostgreSQL when DATABASE_URL is set).
# Demo mode is on here, and only here: the demo host's pages and clock.
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_MODE=demo source scripts/setup.sh
cargo xtask wasm >/dev/null
cargo build --release -q -p referral-server
export DEMO=1
exec target/release/referral-server serve
