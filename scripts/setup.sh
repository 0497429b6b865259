#!/usr/bin/env bash
# Installs what the build and the tests need. Idempotent: each step is
# skipped when its result is already there. Sourced by scripts/test-all.sh
# (everything) and by scripts/run-demo.sh with SETUP_MODE=demo (only what
# the main command needs: the wasm target, wasm-bindgen, binaryen,
# esbuild); safe to run on its own.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TERM_COLOR=never

SETUP_MODE="${SETUP_MODE:-all}"
say() { printf '[setup] %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required (install Rust with rustup)" >&2
  exit 1
fi

# Debian packages: JNA and Gson for the Kotlin tests, Chromium + driver for
# browser tests, PostgreSQL for the server's second database.
APT_PACKAGES=(libjna-java libgoogle-gson-java chromium chromium-driver postgresql)
[ "$SETUP_MODE" = demo ] && APT_PACKAGES=()
missing=()
for p in ${APT_PACKAGES[@]+"${APT_PACKAGES[@]}"}; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Rust targets and tools.
if ! rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' "$ROOT/Cargo.toml")"
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  say "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 7 minutes, once)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# Python: a venv with maturin (builds the wheel) and pytest.
if [ "$SETUP_MODE" != demo ] && { [ ! -x "$ROOT/.venv/bin/maturin" ] || [ ! -x "$ROOT/.venv/bin/pytest" ]; }; then
  say "python venv with maturin, pytest, flask"
  python3 -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/pip" install -q --upgrade pip
  "$ROOT/.venv/bin/pip" install -q "maturin>=1.7,<2" pytest flask
fi
export MATURIN="$ROOT/.venv/bin/maturin"

# Kotlin compiler from the npm registry (no other source is reachable).
KOTLIN_DIR="$ROOT/target/tools/node_modules/kotlin-compiler"
if [ "$SETUP_MODE" != demo ] && [ ! -x "$KOTLIN_DIR/bin/kotlinc-jvm" ]; then
  say "npm install kotlin-compiler"
  mkdir -p "$ROOT/target/tools"
  (cd "$ROOT/target/tools" && npm install --no-audit --no-fund --silent kotlin-compiler@2.4.20 >/dev/null)
  chmod +x "$KOTLIN_DIR/bin/"*
fi
export KOTLINC="$KOTLIN_DIR/bin/kotlinc-jvm"

# wasm-opt from npm's binaryen (Debian's binaryen 108 breaks modules that
# current rustc emits).
if [ ! -x "$ROOT/target/tools/node_modules/binaryen/bin/wasm-opt" ]; then
  say "npm install binaryen"
  mkdir -p "$ROOT/target/tools"
  (cd "$ROOT/target/tools" && npm install --no-audit --no-fund --silent binaryen@132.0.0 >/dev/null)
fi

# esbuild bundles and minifies the widget's JS for plain pages.
if [ ! -x "$ROOT/target/tools/node_modules/.bin/esbuild" ]; then
  say "npm install esbuild"
  mkdir -p "$ROOT/target/tools"
  (cd "$ROOT/target/tools" && npm install --no-audit --no-fund --silent esbuild@0.28.2 >/dev/null)
fi

# The browser tests' npm packages (playwright-core drives Debian's Chromium;
# no browser is downloaded), TypeScript, which checks the package's types,
# and Stripe's library, which signs the Stripe webhook tests.
if [ "$SETUP_MODE" != demo ] && { [ ! -d "$ROOT/tests/e2e/node_modules/playwright-core" ] || [ ! -x "$ROOT/tests/e2e/node_modules/.bin/tsc" ] || [ ! -d "$ROOT/tests/e2e/node_modules/stripe" ]; }; then
  say "npm ci in tests/e2e"
  (cd "$ROOT/tests/e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent >/dev/null)
fi
