//! `cargo xtask test-bindings`: after `cargo xtask bindings`, installs the
//! wheel into a fresh venv and runs pytest, compiles the generated Kotlin
//! with the tests and runs them on the JVM, then verifies with core the codes
//! each language minted for the other (Python → Kotlin → Rust, and back).

use std::path::Path;
use std::process::Command;

use referral_core::{KeyStatus, Keyring, ReferrerId, Verifier, VerifyPolicy};
use serde_json::Value;

use crate::bindings::run_cmd;

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

pub fn kotlinc(root: &Path) -> String {
    std::env::var("KOTLINC").unwrap_or_else(|_| {
        root.join("tools/node_modules/kotlin-compiler/bin/kotlinc-jvm")
            .display()
            .to_string()
    })
}

fn kotlin_compiler_dir(root: &Path) -> std::path::PathBuf {
    let kotlinc = std::path::PathBuf::from(kotlinc(root));
    kotlinc
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.join("tools/node_modules/kotlin-compiler"))
}

/// The Kotlin version the bindings are compiled with (the npm
/// `kotlin-compiler` package's), for the jar's POM.
pub fn kotlin_version(root: &Path) -> Result<String, String> {
    let path = kotlin_compiler_dir(root).join("package.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    json["version"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{}: no version", path.display()))
}

pub fn kotlin_classpath(root: &Path) -> String {
    [
        "/usr/share/java/jna.jar".to_owned(),
        "/usr/share/java/gson.jar".to_owned(),
        kotlin_compiler_dir(root)
            .join("lib/kotlin-stdlib.jar")
            .display()
            .to_string(),
    ]
    .join(":")
}

/// The x86_64 manylinux2014 wheel: the one this machine can install.
fn wheel(root: &Path) -> Result<std::path::PathBuf, String> {
    crate::bindings::wheel_for(root, crate::bindings::WHEEL_TARGETS[0].1)
}

fn run_python(root: &Path) -> Result<(), String> {
    let venv = root.join("target/py-test-venv");
    let _ = std::fs::remove_dir_all(&venv);
    run_cmd(Command::new(python()).args(["-m", "venv"]).arg(&venv))?;
    let pip = venv.join("bin/pip");
    run_cmd(
        Command::new(&pip)
            .args(["install", "-q"])
            .arg(wheel(root)?)
            .args(["pytest", "flask", "statsmodels"]),
    )?;
    // The binding's tests, then the Flask host example's.
    run_cmd(
        Command::new(venv.join("bin/python"))
            .current_dir(root)
            .args([
                "-m",
                "pytest",
                "-q",
                "ffi/python/tests",
                "examples/python-backend",
            ]),
    )
}

/// The classpath of a program using the SDK as a JVM developer would: the
/// jar `cargo xtask bindings` built (bindings and native library) and its
/// dependencies. No `-Djna.library.path`: JNA finds the library in the jar.
fn sdk_classpath(root: &Path) -> Result<String, String> {
    let jar = crate::bindings::jar_path(root);
    if !jar.exists() {
        return Err(format!(
            "{}: run `cargo xtask bindings` first",
            jar.display()
        ));
    }
    Ok(format!("{}:{}", jar.display(), kotlin_classpath(root)))
}

fn run_kotlin(root: &Path) -> Result<(), String> {
    let jar = root.join("target/kotlin/tests.jar");
    std::fs::create_dir_all(root.join("target/kotlin")).map_err(|e| e.to_string())?;
    let classpath = sdk_classpath(root)?;
    run_cmd(
        Command::new(kotlinc(root))
            .args(["-nowarn", "-cp", &classpath])
            .arg(root.join("ffi/kotlin/tests/VectorTests.kt"))
            .arg(root.join("ffi/kotlin/tests/DecisionTests.kt"))
            .arg(root.join("ffi/kotlin/tests/UserTokenTests.kt"))
            .arg(root.join("ffi/kotlin/tests/NudgeMergeTests.kt"))
            .arg("-d")
            .arg(&jar),
    )?;
    run_cmd(
        Command::new("java")
            .arg("-cp")
            .arg(format!("{}:{classpath}", jar.display()))
            .arg("dev.referralsdk.tests.VectorTestsKt")
            .arg(root),
    )
}

/// Rust's side of the cross-language check.
fn verify_foreign_codes(root: &Path) -> Result<(), String> {
    let vectors: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join(crate::vectors::VECTOR_PATH))
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let codes = &vectors["codes"];
    let keys: Vec<(u32, Vec<u8>, KeyStatus)> = codes["keyring"]
        .as_array()
        .ok_or("keyring")?
        .iter()
        .map(|k| -> Result<_, String> {
            let secret =
                crate::vectors::unhex(k["secret_hex"].as_str().ok_or("secret")?).ok_or("hex")?;
            let status = serde_json::from_value(k["status"].clone()).map_err(|e| e.to_string())?;
            Ok((k["key_id"].as_u64().ok_or("key id")? as u32, secret, status))
        })
        .collect::<Result<_, _>>()?;
    let keyring = Keyring::from_keys(keys.iter().map(|(id, s, st)| (*id, s.as_slice(), *st)))
        .map_err(|e| e.to_string())?;
    let policy: VerifyPolicy =
        serde_json::from_value(codes["policy"].clone()).map_err(|e| e.to_string())?;
    let verifier = Verifier::new(keyring, policy);
    let mut checked = 0;
    for language in ["python", "kotlin"] {
        let path = root.join(format!("target/cross/minted-by-{language}.json"));
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let items: Vec<Value> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        for item in items {
            let code = item["code"].as_str().ok_or("code")?;
            let now = item["now"].as_u64().ok_or("now")?;
            let claims = verifier
                .verify(code, now)
                .map_err(|e| format!("{language}-minted {code} refused by Rust: {}", e.reason()))?;
            let expected = crate::vectors::unhex(item["referrer_hex"].as_str().ok_or("referrer")?)
                .ok_or("hex")?;
            if claims.claims().referrer != ReferrerId::Opaque(expected) {
                return Err(format!("{language}-minted {code}: wrong referrer"));
            }
            checked += 1;
        }
    }
    println!("rust verified {checked} codes minted in Python and Kotlin");
    Ok(())
}

/// Compiles and runs the Kotlin host example; it must exit 0 and print a
/// share target for every channel.
fn run_kotlin_example(root: &Path) -> Result<(), String> {
    let jar = root.join("target/kotlin/example.jar");
    let classpath = sdk_classpath(root)?;
    run_cmd(
        Command::new(kotlinc(root))
            .args(["-nowarn", "-cp", &classpath])
            .arg(root.join("examples/kotlin-host/Main.kt"))
            .arg("-d")
            .arg(&jar),
    )?;
    let output = Command::new("java")
        .arg("-cp")
        .arg(format!("{}:{classpath}", jar.display()))
        .arg("dev.referralsdk.example.MainKt")
        .arg(root.join("examples/nudge/config.toml"))
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    if !output.status.success() {
        return Err(format!(
            "kotlin example failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    for expected in [
        "mailto:?subject=",
        "https://wa.me/?text=",
        "sms:?&body=",
        "peek(\"not-a-code\") -> malformed",
    ] {
        if !stdout.contains(expected) {
            return Err(format!("kotlin example output lacks {expected:?}"));
        }
    }
    Ok(())
}

pub fn run(root: &Path) -> Result<(), String> {
    run_python(root)?;
    run_kotlin(root)?;
    run_kotlin_example(root)?;
    verify_foreign_codes(root)
}

/// `cargo xtask bench-bindings`: calls per second from Python and Kotlin
/// (after `bindings` and `test-bindings`, which leave the venv and jars).
pub fn bench(root: &Path) -> Result<(), String> {
    let venv_python = root.join("target/py-test-venv/bin/python");
    if !venv_python.exists() {
        run_python(root)?;
    }
    println!("\n## Python ({})", python());
    run_cmd(Command::new(&venv_python).arg(root.join("ffi/python/bench/bench_calls.py")))?;
    let jar = root.join("target/kotlin/bench.jar");
    let classpath = sdk_classpath(root)?;
    run_cmd(
        Command::new(kotlinc(root))
            .args(["-nowarn", "-cp", &classpath])
            .arg(root.join("ffi/kotlin/bench/Bench.kt"))
            .arg("-d")
            .arg(&jar),
    )?;
    println!("\n## Kotlin (JVM)");
    run_cmd(
        Command::new("java")
            .arg("-cp")
            .arg(format!("{}:{classpath}", jar.display()))
            .arg("dev.referralsdk.bench.BenchKt"),
    )
}
