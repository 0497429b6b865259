//! `replay run --config CONFIG --log LOG.jsonl [--json]`
//! `replay generate --events N [--seed S] [--iso] [--malformed-every K] [--out FILE]`

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::process::ExitCode;

use referral_core::nudge::NudgeConfig;
use replay::generate::{generate, Options};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn load_config(path: &str) -> Result<NudgeConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let parsed = if path.ends_with(".json") {
        NudgeConfig::from_json(&text)
    } else {
        NudgeConfig::from_toml(&text)
    };
    parsed.map_err(|e| format!("{path}: {e}"))
}

fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("run") => {
            let config = load_config(&arg(args, "--config").ok_or("--config is required")?)?;
            let log = arg(args, "--log").ok_or("--log is required")?;
            let report = replay::replay(&config, || {
                File::open(&log).map(|f| BufReader::with_capacity(1 << 20, f))
            })
            .map_err(|e| format!("{log}: {e}"))?;
            if args.iter().any(|a| a == "--json") {
                println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
            } else {
                print!("{}", report.to_text());
            }
            Ok(())
        }
        Some("generate") => {
            let number = |name: &str, default: u64| -> Result<u64, String> {
                arg(args, name).map_or(Ok(default), |v| v.parse().map_err(|_| format!("{name} takes a number")))
            };
            let options = Options {
                events: number("--events", 100_000)?,
                seed: number("--seed", 42)?,
                iso_timestamps: args.iter().any(|a| a == "--iso"),
                malformed_every: number("--malformed-every", 0)?,
            };
            let mut out: Box<dyn Write> = match arg(args, "--out") {
                Some(path) => Box::new(BufWriter::with_capacity(1 << 20, File::create(&path).map_err(|e| format!("{path}: {e}"))?)),
                None => Box::new(BufWriter::new(std::io::stdout().lock())),
            };
            let lines = generate(&mut out, &options).map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
            eprintln!("wrote {lines} lines");
            Ok(())
        }
        _ => Err("usage: replay run --config CONFIG --log LOG.jsonl [--json]\n       replay generate --events N [--seed S] [--iso] [--malformed-every K] [--out FILE]".to_owned()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("replay: {message}");
            ExitCode::FAILURE
        }
    }
}
