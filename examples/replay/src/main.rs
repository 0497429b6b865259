//! `replay run --config CONFIG --log LOG.jsonl [--format F] [--no-responses]
//!   [--dismiss R --opt-out R --share R [--seed S]] [--min-lift X] [--json]`
//! `replay generate --events N [--seed S] [--iso] [--malformed-every K]
//!   [--format F] [--duplicate-every K] [--outcomes --config CONFIG] [--out FILE]`

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::process::ExitCode;

use referral_core::nudge::NudgeConfig;
use replay::formats::Format;
use replay::generate::{generate, Options};
use replay::responses::Rates;
use replay::{ReplayOptions, Responses};

const USAGE: &str = "usage: replay run --config CONFIG --log LOG.jsonl [--format segment|amplitude|mixpanel|native|auto]
                  [--no-responses | --dismiss R --opt-out R --share R [--seed S]] [--min-lift X] [--json]
       replay generate --events N [--seed S] [--iso] [--malformed-every K] [--format segment|amplitude|mixpanel|native]
                  [--duplicate-every K] [--outcomes --config CONFIG] [--out FILE]";

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn flag(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}

fn parsed<T: std::str::FromStr>(args: &[String], name: &str) -> Result<Option<T>, String> {
    arg(args, name)
        .map(|v| {
            v.parse()
                .map_err(|_| format!("{name} takes a number, not {v:?}"))
        })
        .transpose()
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
    let format = arg(args, "--format")
        .map(|f| Format::parse(&f))
        .transpose()?
        .flatten();
    match args.first().map(String::as_str) {
        Some("run") => {
            let config = load_config(&arg(args, "--config").ok_or("--config is required")?)?;
            let log = arg(args, "--log").ok_or("--log is required")?;
            let rates = [
                parsed::<f64>(args, "--dismiss")?,
                parsed::<f64>(args, "--opt-out")?,
                parsed::<f64>(args, "--share")?,
            ];
            let responses = if flag(args, "--no-responses") {
                if rates.iter().any(Option::is_some) {
                    return Err("--no-responses and rates exclude each other".to_owned());
                }
                Responses::Off
            } else if rates.iter().any(Option::is_some) {
                let [dismiss, opt_out, share] = rates.map(|r| r.unwrap_or(0.0));
                let seed = parsed(args, "--seed")?.unwrap_or(1);
                Responses::Auto {
                    rates: Some(Rates::new(dismiss, opt_out, share, seed)?),
                }
            } else {
                Responses::Auto { rates: None }
            };
            let options = ReplayOptions {
                format,
                responses,
                min_relative_lift: parsed(args, "--min-lift")?
                    .unwrap_or(ReplayOptions::default().min_relative_lift),
            };
            let report = replay::replay_with(&config, &options, || {
                File::open(&log).map(|f| BufReader::with_capacity(1 << 20, f))
            })
            .map_err(|e| format!("{log}: {e}"))?;
            if flag(args, "--json") {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
                );
            } else {
                print!("{}", report.to_text());
            }
            Ok(())
        }
        Some("generate") => {
            let config = if flag(args, "--outcomes") {
                Some(load_config(
                    &arg(args, "--config").ok_or("--outcomes needs --config")?,
                )?)
            } else {
                None
            };
            let options = Options {
                events: parsed(args, "--events")?.unwrap_or(100_000),
                seed: parsed(args, "--seed")?.unwrap_or(42),
                iso_timestamps: flag(args, "--iso"),
                malformed_every: parsed(args, "--malformed-every")?.unwrap_or(0),
                format,
                duplicate_every: parsed(args, "--duplicate-every")?.unwrap_or(0),
                outcomes: config.as_ref(),
            };
            let mut out: Box<dyn Write> = match arg(args, "--out") {
                Some(path) => Box::new(BufWriter::with_capacity(
                    1 << 20,
                    File::create(&path).map_err(|e| format!("{path}: {e}"))?,
                )),
                None => Box::new(BufWriter::new(std::io::stdout().lock())),
            };
            let summary = generate(&mut out, &options).map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
            eprint!("wrote {} lines, {} events", summary.lines, summary.events);
            if config.is_some() {
                eprint!(" ({} asks answered)", summary.asks);
            }
            eprintln!();
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
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
