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
        root.join("target/tools/node_modules/kotlin-compiler/bin/kotlinc-jvm")
            .display()
            .to_string()
    })
}

pub fn kotlin_classpath(root: &Path) -> String {
    [
        "/usr/share/java/jna.jar".to_owned(),
        "/usr/share/java/gson.jar".to_owned(),
        root.join("target/tools/node_modules/kotlin-compiler/lib/kotlin-stdlib.jar")
            .display()
            .to_string(),
    ]
    .join(":")
}

fn wheel(root: &Path) -> Result<std::path::PathBuf, String> {
    std::fs::read_dir(root.join("target/wheels"))
        .map_err(|e| format!("target/wheels: {e} (run `cargo xtask bindings` first)"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| "no wheel in target/wheels".to_owned())
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

fn run_kotlin(root: &Path) -> Result<(), String> {
    let jar = root.join("target/kotlin/tests.jar");
    std::fs::create_dir_all(root.join("target/kotlin")).map_err(|e| e.to_string())?;
    run_cmd(
        Command::new(kotlinc(root))
            .args(["-nowarn", "-cp", &kotlin_classpath(root)])
            .arg(root.join("target/bindings/kotlin/dev/referralsdk/referral_ffi.kt"))
            .arg(root.join("ffi/kotlin/tests/VectorTests.kt"))
            .arg(root.join("ffi/kotlin/tests/DecisionTests.kt"))
            .arg(root.join("ffi/kotlin/tests/UserTokenTests.kt"))
            .arg(root.join("ffi/kotlin/tests/NudgeMergeTests.kt"))
            .arg("-d")
            .arg(&jar),
    )?;
    run_cmd(
        Command::new("java")
            .arg(format!(
                "-Djna.library.path={}",
                root.join("target/release").display()
            ))
            .arg("-cp")
            .arg(format!("{}:{}", jar.display(), kotlin_classpath(root)))
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
    run_cmd(
        Command::new(kotlinc(root))
            .args(["-nowarn", "-cp", &kotlin_classpath(root)])
            .arg(root.join("target/bindings/kotlin/dev/referralsdk/referral_ffi.kt"))
            .arg(root.join("examples/kotlin-host/Main.kt"))
            .arg("-d")
            .arg(&jar),
    )?;
    let output = Command::new("java")
        .arg(format!(
            "-Djna.library.path={}",
            root.join("target/release").display()
        ))
        .arg("-cp")
        .arg(format!("{}:{}", jar.display(), kotlin_classpath(root)))
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
    run_cmd(
        Command::new(kotlinc(root))
            .args(["-nowarn", "-cp", &kotlin_classpath(root)])
            .arg(root.join("target/bindings/kotlin/dev/referralsdk/referral_ffi.kt"))
            .arg(root.join("ffi/kotlin/bench/Bench.kt"))
            .arg("-d")
            .arg(&jar),
    )?;
    println!("\n## Kotlin (JVM)");
    run_cmd(
        Command::new("java")
            .arg(format!(
                "-Djna.library.path={}",
                root.join("target/release").display()
            ))
            .arg("-cp")
            .arg(format!("{}:{}", jar.display(), kotlin_classpath(root)))
            .arg("dev.referralsdk.bench.BenchKt"),
    )
}
