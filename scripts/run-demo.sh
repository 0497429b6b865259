#!/usr/bin/env bash
# README's main command: builds what is needed (the widget's wasm package
# included) and starts the reference backend + demo app on 127.0.0.1 with
# the embedded SQLite database (PostgreSQL when DATABASE_URL is set).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)"
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  echo "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 7 minutes, once)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
if [ ! -x target/tools/node_modules/binaryen/bin/wasm-opt ]; then
  mkdir -p target/tools
  (cd target/tools && npm install --no-audit --no-fund --silent binaryen@132.0.0 >/dev/null)
fi
cargo xtask wasm >/dev/null
exec cargo run --release -q -p referral-server
