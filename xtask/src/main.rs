//! Build steps: `cargo xtask <task>`.
//!
//! - `vectors`         regenerate `tests/vectors/vectors.json`
//! - `vectors --check` fail if the committed file differs from a fresh one

mod vectors;

use std::path::PathBuf;
use std::process::ExitCode;

fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("vectors") => vectors::run(&workspace_root(), args.iter().any(|a| a == "--check")),
        _ => Err("usage: cargo xtask vectors [--check]".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
