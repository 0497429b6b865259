#!/usr/bin/env bash
# Installs everything the build and the tests need. Idempotent: each step is
# skipped when its result is already there. Sourced by scripts/test-all.sh.
set -euo pipefail

export CARGO_TERM_COLOR=never
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required (install Rust with rustup)" >&2
  exit 1
fi
