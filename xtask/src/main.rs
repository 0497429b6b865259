//! Build steps: `cargo xtask <task>`.
//!
//! - `vectors`         regenerate `tests/vectors/vectors.json`
//! - `vectors --check` fail if the committed file differs from a fresh one
//! - `bindings`        build the ffi library; generate Swift, Kotlin, the Python wheel
//! - `bindings --check` fail if the committed Swift sources are stale
//! - `test-bindings`   run the Python and Kotlin tests and the cross-language check
//! - `bench-bindings`  calls per second from Python and Kotlin
//! - `wasm`            build the widget's npm package in target/npm/widget, print sizes
//! - `ts-types [--check]` write (check) wasm/js/reasons.d.ts from core's reason codes
//! - `disposable-domains [VERSION]` refresh core/data/ from the npm package

mod bindings;
mod disposable;
mod test_bindings;
mod ts_types;
mod vectors;
mod wasm;

use std::path::PathBuf;
use std::process::ExitCode;

fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|a| a == "--check");
    let result = match args.first().map(String::as_str) {
        Some("vectors") => vectors::run(&workspace_root(), check),
        Some("bindings") => bindings::run(&workspace_root(), check),
        Some("test-bindings") => test_bindings::run(&workspace_root()),
        Some("bench-bindings") => test_bindings::bench(&workspace_root()),
        Some("wasm") => wasm::run(&workspace_root()),
        Some("ts-types") => ts_types::run(&workspace_root(), check),
        Some("disposable-domains") => disposable::run(&workspace_root(), args.get(1).map(String::as_str)),
        _ => Err(
            "usage: cargo xtask <vectors|bindings|test-bindings|bench-bindings|wasm|ts-types|disposable-domains> [--check]"
                .to_owned(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
