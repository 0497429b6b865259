//! `cargo xtask bindings [--check]`: builds the ffi cdylib once and
//! generates every binding from it in library mode with the in-workspace
//! `uniffi-bindgen` (same uniffi version as the library):
//!
//! - Kotlin into `target/bindings/kotlin` (compiled by `test-bindings`),
//! - Swift into `ffi/swift/Sources` (committed: no Swift compiler here, so
//!   `--check` fails when the committed sources are stale),
//! - the Python wheel with maturin into `target/wheels`.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn run_cmd(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    eprintln!("$ {shown}");
    let status = command.status().map_err(|e| format!("{shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed with {status}"))
    }
}

pub fn cdylib_path(root: &Path) -> PathBuf {
    root.join("target/release/libreferral_ffi.so")
}

fn bindgen(root: &Path, language: &str, out_dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out_dir).map_err(|e| e.to_string())?;
    run_cmd(
        Command::new(root.join("target/release/uniffi-bindgen"))
            .current_dir(root.join("ffi"))
            .args([
                "generate",
                "--no-format",
                "--language",
                language,
                "--out-dir",
            ])
            .arg(out_dir)
            .arg("--library")
            .arg(cdylib_path(root)),
    )
}

pub fn build_cdylib(root: &Path) -> Result<(), String> {
    // Library and bindgen in one invocation: uniffi is compiled once, with
    // the `cli` feature, for both.
    run_cmd(Command::new(env!("CARGO")).current_dir(root).args([
        "build",
        "--release",
        "-p",
        "referral-ffi",
        "--lib",
        "--bin",
        "uniffi-bindgen",
    ]))
}

/// Generated Swift, laid out for `ffi/swift/Package.swift`.
fn generate_swift(root: &Path, dest: &Path) -> Result<(), String> {
    let tmp = root.join("target/bindings/swift-raw");
    let _ = std::fs::remove_dir_all(&tmp);
    bindgen(root, "swift", &tmp)?;
    let swift_dir = dest.join("ReferralSDK");
    let ffi_dir = dest.join("ReferralSDKFFI/include");
    std::fs::create_dir_all(&swift_dir).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&ffi_dir).map_err(|e| e.to_string())?;
    let copy = |from: &str, to: &Path| -> Result<(), String> {
        std::fs::copy(tmp.join(from), to)
            .map(|_| ())
            .map_err(|e| format!("{from}: {e}"))
    };
    copy("ReferralSDK.swift", &swift_dir.join("ReferralSDK.swift"))?;
    copy("ReferralSDKFFI.h", &ffi_dir.join("ReferralSDKFFI.h"))?;
    copy(
        "ReferralSDKFFI.modulemap",
        &ffi_dir.join("module.modulemap"),
    )?;
    Ok(())
}

fn maturin() -> String {
    std::env::var("MATURIN").unwrap_or_else(|_| "maturin".to_owned())
}

pub fn run(root: &Path, check: bool) -> Result<(), String> {
    build_cdylib(root)?;
    if check {
        let fresh = root.join("target/bindings/swift-check");
        let _ = std::fs::remove_dir_all(&fresh);
        generate_swift(root, &fresh)?;
        let committed = root.join("ffi/swift/Sources");
        for file in [
            "ReferralSDK/ReferralSDK.swift",
            "ReferralSDKFFI/include/ReferralSDKFFI.h",
            "ReferralSDKFFI/include/module.modulemap",
        ] {
            let a = std::fs::read(fresh.join(file)).map_err(|e| format!("{file}: {e}"))?;
            let b = std::fs::read(committed.join(file)).map_err(|e| format!("{file}: {e}"))?;
            if a != b {
                return Err(format!(
                    "ffi/swift/Sources/{file} is out of date: run `cargo xtask bindings` and commit"
                ));
            }
        }
        println!("generated Swift is up to date");
        return Ok(());
    }
    generate_swift(root, &root.join("ffi/swift/Sources"))?;
    bindgen(root, "kotlin", &root.join("target/bindings/kotlin"))?;
    run_cmd(Command::new(maturin()).current_dir(root).args([
        "build",
        "--release",
        "-m",
        "ffi/Cargo.toml",
        "-o",
        "target/wheels",
    ]))?;
    println!("Swift: ffi/swift/Sources, Kotlin: target/bindings/kotlin, wheel: target/wheels");
    Ok(())
}
