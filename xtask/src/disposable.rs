//! `cargo xtask disposable-domains [VERSION]`: refreshes the disposable
//! email domain lists in `core/data/` from the npm package
//! `disposable-email-domains` (MIT, github.com/ivolo/disposable-email-domains),
//! fetched with `npm pack` from the npm registry.

use std::path::Path;
use std::process::Command;

use crate::bindings::run_cmd;

pub const DEFAULT_VERSION: &str = "1.0.62";

fn write_list(
    path: &Path,
    version: &str,
    what: &str,
    mut domains: Vec<String>,
) -> Result<usize, String> {
    domains
        .iter_mut()
        .for_each(|d| *d = d.trim().to_ascii_lowercase());
    domains.retain(|d| !d.is_empty() && !d.starts_with('#'));
    domains.sort();
    domains.dedup();
    let mut text = format!(
        "# {what}\n# Source: npm package disposable-email-domains@{version} (MIT), github.com/ivolo/disposable-email-domains\n# Refresh: cargo xtask disposable-domains [VERSION]\n"
    );
    for d in &domains {
        text.push_str(d);
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(domains.len())
}

pub fn run(root: &Path, version: Option<&str>) -> Result<(), String> {
    let version = version.unwrap_or(DEFAULT_VERSION);
    let tmp = root.join("target/disposable");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    run_cmd(Command::new("npm").current_dir(&tmp).args([
        "pack",
        "--silent",
        &format!("disposable-email-domains@{version}"),
    ]))?;
    let tarball = format!("disposable-email-domains-{version}.tgz");
    run_cmd(
        Command::new("tar")
            .current_dir(&tmp)
            .args(["xzf", &tarball]),
    )?;
    let read = |name: &str| -> Result<Vec<String>, String> {
        let text = std::fs::read_to_string(tmp.join("package").join(name))
            .map_err(|e| format!("{name}: {e}"))?;
        serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))
    };
    let exact = write_list(
        &root.join("core/data/disposable_domains.txt"),
        version,
        "Disposable email domains (exact; their subdomains count too).",
        read("index.json")?,
    )?;
    let wildcard = write_list(
        &root.join("core/data/disposable_wildcards.txt"),
        version,
        "Disposable email domains whose every subdomain is disposable.",
        read("wildcard.json")?,
    )?;
    println!("wrote {exact} domains and {wildcard} wildcard domains from disposable-email-domains@{version}");
    Ok(())
}
