//! `cargo xtask bindings [--check]`: builds the ffi cdylib once and
//! generates every binding from it in library mode with the in-workspace
//! `uniffi-bindgen` (same uniffi version as the library):
//!
//! - Kotlin into `target/bindings/kotlin` (compiled by `test-bindings`),
//! - Swift into `ffi/swift/Sources` (committed: no Swift compiler here, so
//!   `--check` fails when the committed sources are stale),
//! - the Python wheels with maturin into `target/wheels`: manylinux2014
//!   (glibc 2.17) for x86_64 and, when its rustup target is installed,
//!   aarch64, linked by zig (PyPI `ziglang`) and checked with `auditwheel`,
//! - a self-contained jar in `target/bindings/kotlin`: the generated Kotlin
//!   compiled, the native libraries as resources where JNA looks
//!   (`linux-x86-64/libreferral_ffi.so`, `linux-aarch64/…`), and its POM.

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

/// A tool installed beside maturin (scripts/setup.sh puts maturin, zig
/// and auditwheel in one venv), else from `PATH`.
fn venv_tool(name: &str) -> PathBuf {
    let maturin = PathBuf::from(maturin());
    match maturin.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(name),
        _ => PathBuf::from(name),
    }
}

/// `PATH` with maturin's venv first, so maturin finds `python3 -m ziglang`.
fn path_with_venv() -> std::ffi::OsString {
    let maturin = PathBuf::from(maturin());
    let mut dirs: Vec<PathBuf> = maturin
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .into_iter()
        .collect();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// The Linux wheels: (rust target, wheel platform tag, auditwheel's tag,
/// JNA's resource directory for the jar).
pub const WHEEL_TARGETS: [(&str, &str, &str, &str); 2] = [
    (
        "x86_64-unknown-linux-gnu",
        "manylinux2014_x86_64",
        "manylinux_2_17_x86_64",
        "linux-x86-64",
    ),
    (
        "aarch64-unknown-linux-gnu",
        "manylinux2014_aarch64",
        "manylinux_2_17_aarch64",
        "linux-aarch64",
    ),
];

fn rust_target_installed(target: &str) -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == target)
        })
}

/// The wheel for `tag` in `target/wheels`.
pub fn wheel_for(root: &Path, tag: &str) -> Result<PathBuf, String> {
    std::fs::read_dir(root.join("target/wheels"))
        .map_err(|e| format!("target/wheels: {e} (run `cargo xtask bindings` first)"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.extension().is_some_and(|x| x == "whl")
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(tag))
        })
        .ok_or_else(|| format!("no {tag} wheel in target/wheels"))
}

/// `auditwheel show` must find the wheel consistent with manylinux2014
/// (glibc 2.17) or older.
fn audit_wheel(wheel: &Path, expected: &str) -> Result<(), String> {
    let output = Command::new(venv_tool("auditwheel"))
        .arg("show")
        .arg(wheel)
        .output()
        .map_err(|e| format!("auditwheel: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let tag = flat
        .split("consistent with the following platform tag: \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or_else(|| format!("auditwheel show {}: {flat}", wheel.display()))?;
    let glibc_minor = |t: &str| -> Option<u32> { t.split('_').nth(2)?.parse().ok() };
    let arch = |t: &str| t.splitn(4, '_').nth(3).map(str::to_owned);
    match (glibc_minor(tag), glibc_minor(expected)) {
        (Some(got), Some(max)) if got <= max && arch(tag) == arch(expected) => {
            println!("auditwheel: {} is {tag}", wheel.display());
            Ok(())
        }
        _ => Err(format!(
            "{}: auditwheel says {tag}, expected {expected} or older",
            wheel.display()
        )),
    }
}

/// manylinux2014 wheels, linked by zig against glibc 2.17's symbols.
/// Returns the targets built (aarch64 only when its rustup target is
/// installed).
fn build_wheels(root: &Path) -> Result<Vec<&'static str>, String> {
    let dir = root.join("target/wheels");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        if entry.path().extension().is_some_and(|x| x == "whl") {
            std::fs::remove_file(entry.path()).map_err(|e| e.to_string())?;
        }
    }
    let mut built = Vec::new();
    for (target, tag, audit_tag, _) in WHEEL_TARGETS {
        if target != "x86_64-unknown-linux-gnu" && !rust_target_installed(target) {
            println!("skipping the {tag} wheel: `rustup target add {target}` to build it");
            continue;
        }
        run_cmd(
            Command::new(maturin())
                .current_dir(root)
                .env("PATH", path_with_venv())
                .args([
                    "build",
                    "--release",
                    "-m",
                    "ffi/Cargo.toml",
                    "--zig",
                    "--target",
                    target,
                    "--compatibility",
                    "manylinux2014",
                    "-o",
                    "target/wheels",
                    // The release profile strips debug info, which zig's
                    // linker takes as strip everything; uniffi-bindgen
                    // reads the bindings' metadata from the symbol table.
                    "--",
                    "-C",
                    "strip=none",
                ]),
        )?;
        audit_wheel(&wheel_for(root, tag)?, audit_tag)?;
        built.push(target);
    }
    Ok(built)
}

/// The JVM library: one jar with the compiled bindings and each built
/// native library where JNA's loader finds it on the classpath, and a POM
/// naming its dependencies (JNA, the Kotlin standard library).
fn build_jar(root: &Path, targets: &[&str]) -> Result<PathBuf, String> {
    let version = env!("CARGO_PKG_VERSION");
    let out = root.join("target/bindings/kotlin");
    let classes = root.join("target/bindings/jar-classes");
    let _ = std::fs::remove_dir_all(&classes);
    std::fs::create_dir_all(&classes).map_err(|e| e.to_string())?;
    run_cmd(
        Command::new(crate::test_bindings::kotlinc(root))
            .args([
                "-nowarn",
                "-cp",
                &crate::test_bindings::kotlin_classpath(root),
            ])
            .arg(out.join("dev/referralsdk/referral_ffi.kt"))
            .arg("-d")
            .arg(&classes),
    )?;
    for (target, _, _, resource_dir) in WHEEL_TARGETS {
        if !targets.contains(&target) {
            continue;
        }
        // The zig-linked library of the wheel (glibc 2.17), not the host's.
        let lib = root.join(format!("target/{target}/release/libreferral_ffi.so"));
        let dest = classes.join(resource_dir);
        std::fs::create_dir_all(&dest).map_err(|e| e.to_string())?;
        std::fs::copy(&lib, dest.join("libreferral_ffi.so"))
            .map_err(|e| format!("{}: {e}", lib.display()))?;
    }
    let jar = jar_path(root);
    let _ = std::fs::remove_file(&jar);
    // A stable module name for JPMS users (the jar has no module-info).
    let manifest = root.join("target/bindings/jar-manifest.txt");
    std::fs::write(&manifest, "Automatic-Module-Name: dev.referralsdk\n")
        .map_err(|e| e.to_string())?;
    run_cmd(
        Command::new("jar")
            .arg("--create")
            .arg("--file")
            .arg(&jar)
            .arg("--manifest")
            .arg(&manifest)
            .arg("-C")
            .arg(&classes)
            .arg("."),
    )?;
    // The generated source beside it, as Maven's `-sources` jar (for IDEs).
    let sources = out.join(format!("referral-sdk-{version}-sources.jar"));
    let _ = std::fs::remove_file(&sources);
    run_cmd(
        Command::new("jar")
            .arg("--create")
            .arg("--file")
            .arg(&sources)
            .arg("-C")
            .arg(&out)
            .arg("dev"),
    )?;
    let kotlin = crate::test_bindings::kotlin_version(root)?;
    std::fs::write(
        out.join(format!("referral-sdk-{version}.pom")),
        pom(version, &kotlin),
    )
    .map_err(|e| e.to_string())?;
    Ok(jar)
}

/// The jar's JNA version: Debian's, which the tests run with.
pub const JNA_VERSION: &str = "5.13.0";

fn pom(version: &str, kotlin: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by `cargo xtask bindings` beside referral-sdk-{version}.jar. -->
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.referralsdk</groupId>
  <artifactId>referral-sdk</artifactId>
  <version>{version}</version>
  <packaging>jar</packaging>
  <name>referral-sdk</name>
  <description>Signed referral codes, share links, nudges, attribution and rewards: Kotlin/JVM bindings over the Rust core, with the native library for linux-x86-64 (and linux-aarch64) inside.</description>
  <licenses>
    <license>
      <name>Apache-2.0</name>
      <url>https://www.apache.org/licenses/LICENSE-2.0</url>
    </license>
  </licenses>
  <dependencies>
    <dependency>
      <groupId>net.java.dev.jna</groupId>
      <artifactId>jna</artifactId>
      <version>{jna}</version>
    </dependency>
    <dependency>
      <groupId>org.jetbrains.kotlin</groupId>
      <artifactId>kotlin-stdlib</artifactId>
      <version>{kotlin}</version>
    </dependency>
  </dependencies>
</project>
"#,
        jna = JNA_VERSION,
    )
}

/// The jar `cargo xtask bindings` wrote.
pub fn jar_path(root: &Path) -> PathBuf {
    root.join(format!(
        "target/bindings/kotlin/referral-sdk-{}.jar",
        env!("CARGO_PKG_VERSION")
    ))
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
    let targets = build_wheels(root)?;
    let jar = build_jar(root, &targets)?;
    println!(
        "Swift: ffi/swift/Sources, Kotlin: {} (+ .pom), wheels: target/wheels",
        jar.display()
    );
    Ok(())
}
