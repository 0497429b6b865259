#!/usr/bin/env bash
# Installs what the build and the tests need. Idempotent: each step is
# skipped when its result is already there. Sourced by scripts/test-all.sh
# (everything) and by scripts/run-demo.sh with SETUP_MODE=demo (only what
# the main command needs: the wasm target, wasm-bindgen, and binaryen and
# esbuild from tools/package.json); safe to run on its own.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TERM_COLOR=never

SETUP_MODE="${SETUP_MODE:-all}"
say() { printf '[setup] %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required (install Rust with rustup)" >&2
  exit 1
fi

# Debian packages: a JDK (java, and jar for the SDK's jar), JNA and Gson for
# the Kotlin tests, Chromium + driver for browser tests, PostgreSQL for the
# server's second database.
APT_PACKAGES=(default-jdk-headless libjna-java libgoogle-gson-java chromium chromium-driver postgresql)
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

# Python: a venv with maturin (builds the wheels), zig (links them against
# glibc 2.17 for manylinux2014), auditwheel (checks their tags) and pytest.
PY_TOOLS=("maturin>=1.7,<2" "ziglang==0.17.1" "auditwheel==6.8.2" pytest flask)
if [ "$SETUP_MODE" != demo ] && { [ ! -x "$ROOT/.venv/bin/maturin" ] || [ ! -x "$ROOT/.venv/bin/pytest" ] \
    || [ ! -x "$ROOT/.venv/bin/auditwheel" ] || ! "$ROOT/.venv/bin/python" -c 'import ziglang' 2>/dev/null; }; then
  say "python venv with maturin, ziglang, auditwheel, pytest, flask"
  python3 -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/pip" install -q --upgrade pip
  "$ROOT/.venv/bin/pip" install -q "${PY_TOOLS[@]}"
fi
export MATURIN="$ROOT/.venv/bin/maturin"

# Schemathesis (examples/server/tests/schemathesis.sh checks the server's
# OpenAPI contract against a live server): pinned, installed when missing
# or another version.
SCHEMATHESIS_VERSION=4.32.5
if [ "$SETUP_MODE" != demo ] \
    && [ "$("$ROOT/.venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  say "schemathesis $SCHEMATHESIS_VERSION in the python venv"
  [ -x "$ROOT/.venv/bin/pip" ] || python3 -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

# The aarch64 wheel is cross-compiled (zig links it).
if [ "$SETUP_MODE" != demo ] && ! rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu; then
  say "rustup target add aarch64-unknown-linux-gnu"
  rustup target add aarch64-unknown-linux-gnu
fi

# The npm-distributed build tools, pinned in tools/package.json and
# tools/package-lock.json: binaryen's wasm-opt (Debian's binaryen 108 breaks
# modules that current rustc emits) and esbuild build the widget; the Kotlin
# compiler (a dev dependency: not for the main command) builds the JVM jar.
# `npm ci` runs again only when the lock or the mode changes.
TOOLS_DIR="$ROOT/tools"
TOOLS_STAMP="$TOOLS_DIR/node_modules/.setup-stamp"
tools_lock="$(sha256sum "$TOOLS_DIR/package-lock.json" | cut -d' ' -f1)"
if [ "$SETUP_MODE" = demo ]; then
  grep -qxE "$tools_lock (all|demo)" "$TOOLS_STAMP" 2>/dev/null || {
    say "npm ci --omit=dev in tools/ (binaryen, esbuild)"
    (cd "$TOOLS_DIR" && npm ci --omit=dev --no-audit --no-fund --silent >/dev/null)
    echo "$tools_lock demo" > "$TOOLS_STAMP"
  }
else
  grep -qxF "$tools_lock all" "$TOOLS_STAMP" 2>/dev/null || {
    say "npm ci in tools/ (binaryen, esbuild, kotlin-compiler)"
    (cd "$TOOLS_DIR" && npm ci --no-audit --no-fund --silent >/dev/null)
    chmod +x "$TOOLS_DIR/node_modules/kotlin-compiler/bin/"*
    echo "$tools_lock all" > "$TOOLS_STAMP"
  }
  export KOTLINC="$TOOLS_DIR/node_modules/kotlin-compiler/bin/kotlinc-jvm"
fi

# The browser tests' npm packages (playwright-core drives Debian's Chromium;
# no browser is downloaded), TypeScript, which checks the package's types,
# and Stripe's library, which signs the Stripe webhook tests.
if [ "$SETUP_MODE" != demo ] && { [ ! -d "$ROOT/tests/e2e/node_modules/playwright-core" ] || [ ! -x "$ROOT/tests/e2e/node_modules/.bin/tsc" ] || [ ! -d "$ROOT/tests/e2e/node_modules/stripe" ] || [ ! -d "$ROOT/tests/e2e/node_modules/standardwebhooks" ]; }; then
  say "npm ci in tests/e2e"
  (cd "$ROOT/tests/e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent >/dev/null)
fi
