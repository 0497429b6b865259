//! `cargo xtask wasm`: builds the npm package of the widget in
//! `target/npm/widget`: the core compiled to wasm (profile `wasm-release`),
//! wasm-bindgen's ES module glue, `wasm-opt -Oz` (npm `binaryen`), and the
//! widget's JS, types and package.json from `wasm/js`, and minified
//! single-file bundles (npm `esbuild`) for plain pages. Prints the sizes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::bindings::run_cmd;

pub fn package_dir(root: &Path) -> PathBuf {
    root.join("target/npm/widget")
}

fn wasm_opt(root: &Path) -> PathBuf {
    std::env::var("WASM_OPT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target/tools/node_modules/binaryen/bin/wasm-opt"))
}

fn esbuild(root: &Path) -> PathBuf {
    std::env::var("ESBUILD")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target/tools/node_modules/.bin/esbuild"))
}

fn gzip_len(bytes: &[u8]) -> Result<usize, String> {
    let mut child = Command::new("gzip")
        .arg("-9c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("gzip: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("gzip stdin")?
        .write_all(bytes)
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    Ok(out.stdout.len())
}

/// Builds one module of the crate (`cargo_args` pick the features) into
/// `out` as `<name>.js` + `<name>_bg.wasm`, shrunk by `wasm-opt -Oz`.
fn build_module(root: &Path, out: &Path, cargo_args: &[&str], name: &str) -> Result<(), String> {
    run_cmd(
        Command::new(env!("CARGO"))
            .current_dir(root)
            .args([
                "build",
                "--profile",
                "wasm-release",
                "--target",
                "wasm32-unknown-unknown",
                "-p",
                "referral-wasm",
            ])
            .args(cargo_args),
    )?;
    run_cmd(
        Command::new("wasm-bindgen")
            .args([
                "--target",
                "web",
                "--remove-name-section",
                "--remove-producers-section",
                "--out-name",
                name,
                "--out-dir",
            ])
            .arg(out)
            .arg(root.join("target/wasm32-unknown-unknown/wasm-release/referral_wasm.wasm")),
    )?;
    let wasm = out.join(format!("{name}_bg.wasm"));
    // The features rustc enables by default for wasm32 today.
    run_cmd(
        Command::new(wasm_opt(root))
            .args([
                "-Oz",
                "--enable-bulk-memory",
                "--enable-mutable-globals",
                "--enable-nontrapping-float-to-int",
                "--enable-sign-ext",
                "--enable-reference-types",
                "--enable-multivalue",
                "-o",
            ])
            .arg(&wasm)
            .arg(&wasm),
    )
}

pub fn run(root: &Path) -> Result<(), String> {
    let out = package_dir(root);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    // The widget (default features) and the landing-page capture alone.
    build_module(root, &out, &[], "referral_wasm")?;
    build_module(root, &out, &["--no-default-features"], "referral_capture")?;
    for entry in std::fs::read_dir(root.join("wasm/js")).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, out.join(name)).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    std::fs::copy(root.join("wasm/README.md"), out.join("README.md")).map_err(|e| e.to_string())?;
    // wasm-bindgen's own package.json and .d.ts would shadow ours.
    let _ = std::fs::remove_file(out.join(".gitignore"));

    // One minified ES module per entry, for pages without a bundler: one
    // request instead of a chain of seven, and smaller. The wasm stays a
    // separate file next to it (found through `import.meta.url`).
    for (entry, bundle) in [
        ("referral-widget.js", "widget.min.js"),
        ("capture.js", "capture.min.js"),
    ] {
        run_cmd(
            Command::new(esbuild(root))
                .current_dir(&out)
                .args([
                    entry,
                    "--bundle",
                    "--format=esm",
                    "--minify",
                    "--target=es2020",
                ])
                .arg(format!("--outfile={bundle}"))
                .arg("--log-level=warning"),
        )?;
    }

    // What a plain page loads: the bundle and the module. Then the same
    // for the unbundled sources a bundler starts from.
    println!("| file | bytes | gzipped |\n|---|---|---|");
    let loads = |files: &[&str], label: &str| -> Result<(), String> {
        let mut raw = 0;
        let mut gz = 0;
        for name in files {
            let bytes = std::fs::read(out.join(name)).map_err(|e| format!("{name}: {e}"))?;
            let g = gzip_len(&bytes)?;
            println!("| {name} | {} | {g} |", bytes.len());
            raw += bytes.len();
            gz += g;
        }
        println!("| **{label}** | {raw} | **{gz}** |");
        Ok(())
    };
    loads(
        &["referral_wasm_bg.wasm", "widget.min.js"],
        "everything the widget loads (bundle)",
    )?;
    loads(
        &[
            "referral_wasm.js",
            "core.js",
            "referral-widget.js",
            "styles.js",
            "strings.js",
            "events.js",
            "capture.js",
            "capture-core.js",
            "referral_capture.js",
            "index.js",
        ],
        "unbundled JS sources (for bundlers; not loaded by plain pages)",
    )?;
    loads(
        &["referral_capture_bg.wasm", "capture.min.js"],
        "everything the landing-page capture loads (bundle)",
    )?;
    println!("package: {}", out.display());
    Ok(())
}
