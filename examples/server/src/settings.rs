//! What the configuration becomes at start: keys, the program, the policy.

use std::path::{Path, PathBuf};

use ipnet::IpNet;
use referral_core::attribution::AttributionPolicy;
use referral_core::rewards::{Money, Program, ProgramKind, QualifyingEvent, RewardRule};
use referral_core::{KeyStatus, Keyring, Verifier, VerifyPolicy};

use crate::config::{origin_of, ServeArgs};

/// The service's secrets: from the environment, else generated once into
/// `$DATA_DIR/secrets.json`. None of them ever reaches a browser.
pub struct Secrets {
    /// Signs referral codes.
    pub signing_key: Vec<u8>,
    /// Verifies user tokens: (id, secret, status); the host's backend mints
    /// with the active one.
    pub user_token_keys: Vec<(u32, Vec<u8>, KeyStatus)>,
    /// Shared with the billing system for webhook signatures.
    pub webhook_secret: Vec<u8>,
}

const GENERATED: [&str; 3] = [
    "REFERRAL_SIGNING_KEY_HEX",
    "REFERRAL_USER_TOKEN_KEY_HEX",
    "REFERRAL_WEBHOOK_SECRET_HEX",
];

fn secret_hex(name: &str, text: &str) -> Result<Vec<u8>, String> {
    let bytes = hex::decode(text.trim()).map_err(|e| format!("{name}: {e}"))?;
    if bytes.len() < 32 {
        return Err(format!("{name} must be at least 32 bytes"));
    }
    Ok(bytes)
}

impl Secrets {
    /// From the environment; what is missing comes from (or is generated
    /// into) `data_dir/secrets.json`.
    pub fn load(data_dir: &Path) -> Result<Secrets, String> {
        let path = data_dir.join("secrets.json");
        let mut file: serde_json::Map<String, serde_json::Value> =
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
                }
                Err(_) => serde_json::Map::new(),
            };
        let mut changed = false;
        for name in GENERATED {
            if std::env::var(name).is_err() && !file.contains_key(name) {
                let bytes: [u8; 32] = crate::store::random_bytes();
                file.insert(name.to_owned(), hex::encode(bytes).into());
                changed = true;
            }
        }
        if changed {
            write_private(
                &path,
                &serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?,
            )?;
        }
        let get = |name: &str| -> Result<Vec<u8>, String> {
            let text = std::env::var(name)
                .ok()
                .or_else(|| file.get(name).and_then(|v| v.as_str()).map(str::to_owned))
                .ok_or(format!("{name} missing"))?;
            secret_hex(name, &text)
        };
        let active_id: u32 = std::env::var("REFERRAL_USER_TOKEN_KEY_ID")
            .ok()
            .map(|v| {
                v.parse()
                    .map_err(|_| "REFERRAL_USER_TOKEN_KEY_ID must be a number".to_owned())
            })
            .transpose()?
            .unwrap_or(1);
        let mut user_token_keys = vec![(
            active_id,
            get("REFERRAL_USER_TOKEN_KEY_HEX")?,
            KeyStatus::Active,
        )];
        // Rotation: the previous keys keep verifying tokens already handed out.
        if let Ok(previous) = std::env::var("REFERRAL_USER_TOKEN_PREVIOUS_KEYS") {
            for entry in previous.split(',').filter(|e| !e.trim().is_empty()) {
                let (id, hex_text) = entry
                    .trim()
                    .split_once(':')
                    .ok_or("REFERRAL_USER_TOKEN_PREVIOUS_KEYS: expected id:hex,…")?;
                let id = id
                    .parse()
                    .map_err(|_| "REFERRAL_USER_TOKEN_PREVIOUS_KEYS: bad key id")?;
                user_token_keys.push((
                    id,
                    secret_hex("REFERRAL_USER_TOKEN_PREVIOUS_KEYS", hex_text)?,
                    KeyStatus::VerifyOnly,
                ));
            }
        }
        Ok(Secrets {
            signing_key: get("REFERRAL_SIGNING_KEY_HEX")?,
            user_token_keys,
            webhook_secret: get("REFERRAL_WEBHOOK_SECRET_HEX")?,
        })
    }

    /// The keyring user tokens are minted and verified with.
    pub fn user_token_keyring(&self) -> Result<Keyring, String> {
        Keyring::from_keys(
            self.user_token_keys
                .iter()
                .map(|(id, secret, status)| (*id, secret.as_slice(), *status)),
        )
        .map_err(|e| format!("user token keys: {e}"))
    }

    /// Fresh random secrets (tests).
    pub fn random() -> Secrets {
        let key = || crate::store::random_bytes::<32>().to_vec();
        Secrets {
            signing_key: key(),
            user_token_keys: vec![(1, key(), KeyStatus::Active)],
            webhook_secret: key(),
        }
    }
}

/// Writes a file only its owner can read.
pub fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The demo's program: $50 account credit for the referrer and a free month
/// for the friend, on the friend's first payment in USD, held 30 days,
/// clawed back on churn within 90.
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
        currency: Some("USD".to_owned()),
    }
}

pub struct Settings {
    /// Where browsers reach the service; also the user tokens' audience.
    pub public_url: String,
    /// Origins allowed on the browser API and the admin (the public one first).
    pub allowed_origins: Vec<String>,
    pub trusted_proxies: Vec<IpNet>,
    pub cookie_secure: bool,
    pub signup_url: String,
    pub demo: bool,
    pub verifier: Verifier,
    pub user_tokens: Keyring,
    pub webhook_secret: Vec<u8>,
    /// Signs the landing's `referral_ref` cookie (code and capture time).
    pub ref_cookie_key: [u8; 32],
    pub program: std::sync::Arc<Program>,
    /// Stripe's webhook secrets and how to read its events; none: off.
    pub stripe: Option<StripeSettings>,
    pub policy: AttributionPolicy,
    pub link_base: String,
    /// The nudge configuration the widget loads (JSON).
    pub nudge_config_json: String,
    /// The same configuration (the funnel's moments).
    pub nudge: std::sync::Arc<referral_core::nudge::NudgeConfig>,
    pub web_dir: PathBuf,
    pub pkg_dir: PathBuf,
    pub rate_auth_per_minute: u32,
    pub rate_per_minute: u32,
    pub rate_events_per_minute: u32,
    pub rate_api_per_minute: u32,
    pub events_per_user_per_day: i64,
    pub request_timeout_secs: u64,
    pub session_hours: u64,
    pub user_token_ttl_secs: u64,
    /// The demo host's API key for the server API (demo mode only).
    pub demo_api_key: Option<String>,
    /// Outbound webhooks (`crate::outbound`).
    pub outbound: crate::outbound::OutboundSettings,
}

impl Settings {
    pub fn new(args: &ServeArgs, secrets: &Secrets) -> Result<Settings, String> {
        args.validate()?;
        let public_url = args.public_url()?;
        let mut allowed_origins = vec![origin_of(&public_url).ok_or("PUBLIC_URL")?];
        allowed_origins.extend(
            args.allowed_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_owned()),
        );
        let verifier = Verifier::new(
            Keyring::new(1, &secrets.signing_key).map_err(|e| e.to_string())?,
            VerifyPolicy {
                program_id: 1,
                max_age_secs: 365 * 86_400,
                max_clock_skew_secs: 300,
            },
        );
        let user_tokens = secrets.user_token_keyring()?;
        let program = demo_program();
        program.validate().map_err(|e| e.to_string())?;
        let mut nudge =
            referral_core::nudge::NudgeConfig::from_toml(include_str!("../../nudge/config.toml"))
                .map_err(|e| e.to_string())?;
        if args.demo {
            // The demo's users are minutes old. The experiment stays: about
            // one demo account in ten is in the holdout (the demo app says
            // so), and the admin measures lift against it.
            nudge.eligibility.min_account_age = referral_core::nudge::Span::ZERO;
        }
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        Ok(Settings {
            link_base: format!("{public_url}/r"),
            public_url,
            allowed_origins,
            trusted_proxies: args.trusted_proxies.clone(),
            cookie_secure: args.cookie_secure()?,
            signup_url: args.signup_url.clone(),
            demo: args.demo,
            verifier,
            user_tokens,
            webhook_secret: secrets.webhook_secret.clone(),
            // A key of its own, derived from the signing key.
            ref_cookie_key: referral_core::keyring::hmac_sha256(
                &secrets.signing_key,
                b"referral-ref-cookie/v1",
            ),
            program: std::sync::Arc::new(program),
            stripe: (!args.stripe_webhook_secrets.is_empty()).then(|| StripeSettings {
                secrets: args
                    .stripe_webhook_secrets
                    .iter()
                    .map(|s| s.trim().as_bytes().to_vec())
                    .collect(),
                options: referral_core::billing::stripe::StripeOptions {
                    live_mode: args.stripe_live_mode,
                    account_key: args.stripe_account_key.clone(),
                },
            }),
            // More than 10 rewards in a month sends a referral to review.
            policy: AttributionPolicy {
                max_rewards_per_month: 10,
                ..AttributionPolicy::default()
            },
            nudge_config_json: serde_json::to_string(&nudge).map_err(|e| e.to_string())?,
            nudge: std::sync::Arc::new(nudge),
            web_dir: std::env::var("WEB_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|_| root.join("web")),
            pkg_dir: std::env::var("PKG_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|_| root.join("../../target/npm/widget")),
            rate_auth_per_minute: args.rate_auth_per_minute,
            rate_per_minute: args.rate_per_minute,
            rate_events_per_minute: args.rate_events_per_minute,
            rate_api_per_minute: args.rate_api_per_minute,
            events_per_user_per_day: args.events_per_user_per_day,
            request_timeout_secs: args.request_timeout_secs,
            session_hours: args.session_hours,
            user_token_ttl_secs: args.user_token_ttl_secs,
            demo_api_key: None,
            outbound: crate::outbound::OutboundSettings {
                // The demo host's receiver is on loopback.
                allow_private_urls: args.allow_private_webhook_urls || args.demo,
                max_attempts: args.webhook_max_attempts,
                retry_base_ms: args.webhook_retry_base_ms,
                poll_ms: args.webhook_poll_ms,
            },
        })
    }
}

/// Stripe's webhook endpoint settings.
#[derive(Clone)]
pub struct StripeSettings {
    /// The endpoint's signing secrets (`whsec_…`, used as they are: Stripe
    /// signs with the whole string).
    pub secrets: Vec<Vec<u8>>,
    pub options: referral_core::billing::stripe::StripeOptions,
}
