//! `cargo run -p referral-server`: the reference backend on 127.0.0.1.
//!
//! Environment: `DATABASE_URL` (default: SQLite in `$DATA_DIR/referral.db`),
//! `DATA_DIR` (default `./data`), `PORT` (default 8080),
//! `REFERRAL_SIGNING_KEY_HEX` / `REFERRAL_SESSION_KEY_HEX` /
//! `REFERRAL_WEBHOOK_SECRET_HEX` (default: generated once into
//! `$DATA_DIR/secrets.json`, never sent to a browser).

use std::path::PathBuf;

use referral_core::attribution::AttributionPolicy;
use referral_core::rewards::{Money, Program, ProgramKind, QualifyingEvent, RewardRule};
use referral_core::{Keyring, Verifier, VerifyPolicy};
use referral_server::{app, connect, Clock, Config};

fn secret(env: &str, file: &serde_json::Value) -> Result<Vec<u8>, String> {
    let hex_text = std::env::var(env)
        .ok()
        .or_else(|| file[env].as_str().map(str::to_owned))
        .ok_or(format!("{env} missing"))?;
    let bytes = hex::decode(hex_text.trim()).map_err(|e| format!("{env}: {e}"))?;
    if bytes.len() < 32 {
        return Err(format!("{env} must be at least 32 bytes"));
    }
    Ok(bytes)
}

fn load_or_create_secrets(data: &std::path::Path) -> Result<serde_json::Value, String> {
    let path = data.join("secrets.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()));
    }
    let mut fresh = serde_json::Map::new();
    for name in [
        "REFERRAL_SIGNING_KEY_HEX",
        "REFERRAL_SESSION_KEY_HEX",
        "REFERRAL_WEBHOOK_SECRET_HEX",
    ] {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|e| e.to_string())?;
        fresh.insert(
            name.to_owned(),
            serde_json::Value::String(hex::encode(bytes)),
        );
    }
    let value = serde_json::Value::Object(fresh);
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(value)
}

/// The demo's program: $50 account credit for the referrer and a free month
/// for the friend, on the friend's first payment, held 30 days, clawed back
/// on churn within 90.
pub fn demo_program() -> Program {
    Program {
        id: 1,
        kind: ProgramKind::Customer,
        qualifying_event: QualifyingEvent::FirstPayment,
        referrer_reward: RewardRule::AccountCredit {
            amount: Money::new(5_000, "USD"),
        },
        friend_reward: Some(RewardRule::FreeMonths { months: 1 }),
        tiers: vec![],
        cap: None,
        hold_days: 30,
        clawback_days: 90,
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let data = PathBuf::from(std::env::var("DATA_DIR").unwrap_or_else(|_| "data".to_owned()));
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let secrets = load_or_create_secrets(&data)?;
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}?mode=rwc", data.join("referral.db").display()));
    let pool = connect(&url).await.map_err(|e| format!("database: {e}"))?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let verifier = Verifier::new(
        Keyring::new(1, &secret("REFERRAL_SIGNING_KEY_HEX", &secrets)?)
            .map_err(|e| e.to_string())?,
        VerifyPolicy {
            program_id: 1,
            max_age_secs: 365 * 86_400,
            max_clock_skew_secs: 300,
        },
    );
    let program = demo_program();
    program.validate().map_err(|e| e.to_string())?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut nudge =
        referral_core::nudge::NudgeConfig::from_toml(include_str!("../../nudge/config.toml"))
            .map_err(|e| e.to_string())?;
    // The demo's users are minutes old and must not land in the holdout.
    nudge.eligibility.min_account_age = referral_core::nudge::Span::ZERO;
    nudge.experiment = None;
    let config = Config {
        nudge_config_json: serde_json::to_string(&nudge).map_err(|e| e.to_string())?,
        web_dir: std::env::var("WEB_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("web")),
        pkg_dir: std::env::var("PKG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("../../target/npm/widget")),
        demo: std::env::var("DEMO").map(|v| v != "0").unwrap_or(true),
        verifier,
        program,
        // More than 10 rewards in a month sends a referral to review.
        policy: AttributionPolicy {
            max_rewards_per_month: 10,
            ..AttributionPolicy::default()
        },
        link_base: format!("http://127.0.0.1:{port}/r"),
        session_secret: secret("REFERRAL_SESSION_KEY_HEX", &secrets)?,
        webhook_secret: secret("REFERRAL_WEBHOOK_SECRET_HEX", &secrets)?,
        rate_per_minute: std::env::var("RATE_PER_MINUTE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
        rate_burst: std::env::var("RATE_BURST")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "referral-server on http://127.0.0.1:{port} ({})",
        if url.starts_with("sqlite") {
            "SQLite"
        } else {
            "PostgreSQL"
        }
    );
    axum::serve(listener, app(pool, config, Clock::default()))
        .await
        .map_err(|e| e.to_string())
}
