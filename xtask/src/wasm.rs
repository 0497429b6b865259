//! `cargo xtask wasm`: builds the npm package of the widget in
//! `target/npm/widget`: the core compiled to wasm (profile `wasm-release`),
//! wasm-bindgen's ES module glue, `wasm-opt -Oz` (npm `binaryen`), and the
//! widget's JS, types and package.json from `wasm/js`, and minified
//! single-file bundles (npm `esbuild`) for plain pages. Prints what a page
//! loads, gzipped and brotli'd, and fails when that is over the budgets
//! below (issue 17); `BENCHMARKS.md` keeps the history.

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
        .unwrap_or_else(|_| root.join("tools/node_modules/binaryen/bin/wasm-opt"))
}

fn esbuild(root: &Path) -> PathBuf {
    std::env::var("ESBUILD")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("tools/node_modules/.bin/esbuild"))
}

/// Gzipped bytes (gzip -9) a page may load first for the widget
/// (`widget.min.js` and core's code check, `referral_capture_bg.wasm`), what
/// it fetches alongside when there is a nudge config (`engine.min.js` and
/// `referral_wasm_bg.wasm`), what the panel fetches when it is about to open
/// (`panel.min.js` and `referral_panel_bg.wasm`), and the landing capture
/// (`capture.min.js` and `referral_capture_bg.wasm`). The capture's is issue
/// 17's goal, and the widget's 30,000 B goal is met by the first load but
/// not with a nudge config (see BENCHMARKS.md, issue 17, for the floor); the
/// widget's three budgets are ratchets just above today's sizes, so nothing
/// grows unnoticed; lower them as the sizes come down.
pub const WIDGET_BUDGET: usize = 10_600;
pub const WIDGET_GOAL: usize = 30_000;
pub const ENGINE_BUDGET: usize = 36_800;
pub const PANEL_BUDGET: usize = 25_000;
pub const CAPTURE_BUDGET: usize = 3_000;

fn compressed_len(program: &str, args: &[&str], bytes: &[u8]) -> Result<usize, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("stdin")?
        .write_all(bytes)
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{program} failed"));
    }
    Ok(out.stdout.len())
}

fn gzip_len(bytes: &[u8]) -> Result<usize, String> {
    compressed_len("gzip", &["-9c"], bytes)
}

/// Brotli at quality 11 through node's zlib (node is already needed for
/// esbuild and binaryen).
fn brotli_len(bytes: &[u8]) -> Result<usize, String> {
    const SCRIPT: &str = "const z = require('zlib'); const c = []; process.stdin.on('data', (d) => c.push(d)).on('end', () => process.stdout.write(z.brotliCompressSync(Buffer.concat(c), { params: { [z.constants.BROTLI_PARAM_QUALITY]: 11 } })));";
    compressed_len("node", &["-e", SCRIPT], bytes)
}

/// The features rustc enables by default for wasm32 today.
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
];

fn cargo_build(root: &Path, cargo_args: &[&str]) -> Result<PathBuf, String> {
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
    Ok(root.join("target/wasm32-unknown-unknown/wasm-release/referral_wasm.wasm"))
}

/// Builds the widget's module (default features) into `out` as `<name>.js`
/// + `<name>_bg.wasm` through wasm-bindgen, shrunk by `wasm-opt -Oz`.
fn build_module(root: &Path, out: &Path, cargo_args: &[&str], name: &str) -> Result<(), String> {
    let built = cargo_build(root, cargo_args)?;
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
            .arg(built),
    )?;
    let wasm = out.join(format!("{name}_bg.wasm"));
    run_cmd(
        Command::new(wasm_opt(root))
            .arg("-Oz")
            .args(WASM_FEATURES)
            .arg("-o")
            .arg(&wasm)
            .arg(&wasm),
    )
}

/// The landing capture's module (`--no-default-features`): two plain
/// exports and no wasm-bindgen, so no glue; `wasm/js/capture.js` loads it.
fn build_capture(root: &Path, out: &Path) -> Result<(), String> {
    let built = cargo_build(root, &["--no-default-features"])?;
    run_cmd(
        Command::new(wasm_opt(root))
            .args([
                "-Oz",
                "--strip-debug",
                "--strip-producers",
                "--strip-target-features",
            ])
            .args(WASM_FEATURES)
            .arg("-o")
            .arg(out.join("referral_capture_bg.wasm"))
            .arg(built),
    )
}

pub fn run(root: &Path) -> Result<(), String> {
    let out = package_dir(root);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    // The widget in two modules: what a page loads first (peek and the
    // nudge engine) and the panel's (links, share actions, QR codes),
    // fetched when the panel is about to open. Then the landing-page
    // capture alone.
    build_module(
        root,
        &out,
        &["--no-default-features", "--features", "engine"],
        "referral_wasm",
    )?;
    build_module(
        root,
        &out,
        &["--no-default-features", "--features", "panel"],
        "referral_panel",
    )?;
    build_capture(root, &out)?;
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
    // separate file next to it (found through `import.meta.url`). The
    // widget's dynamic imports of the nudge engine and of the panel become
    // `engine.min.js` and `panel.min.js`; nothing is shared between the
    // three, so there is no fourth chunk (checked).
    run_cmd(Command::new(esbuild(root)).current_dir(&out).args([
        "widget.min=referral-widget.js",
        "engine.min=core.js",
        "panel.min=panel.js",
        "--bundle",
        "--splitting",
        "--chunk-names=chunk-[hash]",
        "--outdir=.",
        "--format=esm",
        "--minify",
        "--target=es2020",
        "--log-level=warning",
    ]))?;
    for entry in std::fs::read_dir(&out).map_err(|e| e.to_string())? {
        let name = entry.map_err(|e| e.to_string())?.file_name();
        if name.to_string_lossy().starts_with("chunk-") {
            return Err(format!(
                "esbuild split out a shared chunk ({}): the widget's first load would be three files",
                name.to_string_lossy()
            ));
        }
    }
    run_cmd(Command::new(esbuild(root)).current_dir(&out).args([
        "capture.js",
        "--bundle",
        "--format=esm",
        "--minify",
        "--target=es2020",
        "--outfile=capture.min.js",
        "--log-level=warning",
    ]))?;

    // What a plain page loads: the bundle and the module, against the
    // budgets. Then the unbundled sources a bundler starts from.
    println!("| file | bytes | gzip -9 | brotli 11 |\n|---|---:|---:|---:|");
    let loads = |files: &[&str], label: &str| -> Result<usize, String> {
        let (mut raw, mut gz, mut br) = (0, 0, 0);
        for name in files {
            let bytes = std::fs::read(out.join(name)).map_err(|e| format!("{name}: {e}"))?;
            let (g, b) = (gzip_len(&bytes)?, brotli_len(&bytes)?);
            println!("| {name} | {} | {g} | {b} |", bytes.len());
            raw += bytes.len();
            gz += g;
            br += b;
        }
        println!("| **{label}** | {raw} | **{gz}** | {br} |");
        Ok(gz)
    };
    let widget = loads(
        &["referral_capture_bg.wasm", "widget.min.js"],
        "what the widget loads first: the launcher and core's code check (bundle)",
    )?;
    let engine = loads(
        &["referral_wasm_bg.wasm", "engine.min.js"],
        "the nudge engine, fetched alongside when there is a nudge config (bundle)",
    )?;
    let panel = loads(
        &["referral_panel_bg.wasm", "panel.min.js"],
        "what the panel fetches when it is about to open (bundle)",
    )?;
    let capture = loads(
        &["referral_capture_bg.wasm", "capture.min.js"],
        "everything the landing-page capture loads (bundle)",
    )?;
    loads(
        &[
            "check.js",
            "referral_wasm.js",
            "core.js",
            "referral_panel.js",
            "panel.js",
            "panel-strings.js",
            "referral-widget.js",
            "styles.js",
            "strings.js",
            "events.js",
            "capture.js",
            "index.js",
        ],
        "unbundled JS sources (for bundlers; not loaded by plain pages)",
    )?;
    println!("package: {}", out.display());
    let mut over = Vec::new();
    for (what, size, budget) in [
        ("the widget", widget, WIDGET_BUDGET),
        ("the nudge engine", engine, ENGINE_BUDGET),
        ("the panel", panel, PANEL_BUDGET),
        ("the landing capture", capture, CAPTURE_BUDGET),
    ] {
        println!("{what}: {size} B gzipped, budget {budget} B");
        if what == "the widget" {
            let met = if size > WIDGET_GOAL { "not met" } else { "met" };
            println!("the widget: goal {WIDGET_GOAL} B gzipped for the first load, {met}");
        }
        if what == "the widget" {
            let with_engine = size + engine;
            let met = if with_engine > WIDGET_GOAL {
                "not met"
            } else {
                "met"
            };
            println!("the widget with a nudge config: {with_engine} B gzipped, goal {WIDGET_GOAL} B {met}");
        }
        if size > budget {
            over.push(format!(
                "{what} is {size} B gzipped, over its {budget} B budget"
            ));
        }
    }
    if over.is_empty() {
        Ok(())
    } else {
        Err(over.join("; "))
    }
}
