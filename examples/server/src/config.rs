//! Typed configuration, from flags and the environment (clap). Malformed
//! values are refused at start; every default is the safe one.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;

#[derive(Parser, Debug)]
#[command(
    name = "referral-server",
    version,
    about = "The reference referral service"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the service (the default).
    Serve(Box<ServeArgs>),
    /// Create an admin; the password is read from REFERRAL_ADMIN_PASSWORD
    /// or, without it, from the first line of standard input.
    CreateAdmin {
        #[arg(long)]
        email: String,
    },
    /// Create an API key for a host's backend; prints it once.
    CreateApiKey {
        #[arg(long)]
        name: String,
    },
    /// Revoke an API key by id (`rk_<id>_…`).
    RevokeApiKey { id: String },
    /// Mint a user token with the configured key (for operators and load
    /// tests; hosts mint with the SDK).
    MintUserToken {
        #[arg(long)]
        subject: String,
        /// The service's public URL (the audience).
        #[arg(long, env = "PUBLIC_URL")]
        audience: String,
        #[arg(long, default_value_t = 900)]
        ttl_secs: u64,
    },
}

/// What every command needs: where the data is.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Where SQLite's file and the generated secrets live.
    #[arg(long, env = "DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL; default: SQLite in DATA_DIR.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
}

impl Common {
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("referral.db").display()
            )
        })
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieSecure {
    /// `Secure` when PUBLIC_URL is https.
    Auto,
    Always,
    Never,
}

#[derive(Parser, Debug, Clone)]
pub struct ServeArgs {
    #[arg(long, env = "BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// The URL browsers reach the service at (links, Origin checks, the
    /// user tokens' audience). Default: http://127.0.0.1:PORT.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Other origins allowed to call the browser API (repeatable).
    #[arg(
        long = "allowed-origin",
        env = "ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Proxies whose X-Forwarded-For is believed (addresses or CIDRs).
    #[arg(long = "trusted-proxy", env = "TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<IpNet>,
    #[arg(long, env = "COOKIE_SECURE", value_enum, default_value_t = CookieSecure::Auto)]
    pub cookie_secure: CookieSecure,
    /// Where the host's signup page is: the referral landing redirects here.
    #[arg(long, env = "SIGNUP_URL", default_value = "/signup")]
    pub signup_url: String,
    /// Turns on the demo SaaS host and its clock. Never in production.
    #[arg(long, env = "DEMO", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub demo: bool,
    /// Requests per minute per client: sign-in and token minting.
    #[arg(long, env = "RATE_AUTH_PER_MINUTE", default_value_t = 10)]
    pub rate_auth_per_minute: u32,
    /// Requests per minute per client: signups and code lookups.
    #[arg(long, env = "RATE_PER_MINUTE", default_value_t = 20)]
    pub rate_per_minute: u32,
    /// Requests per minute per client: event uploads.
    #[arg(long, env = "RATE_EVENTS_PER_MINUTE", default_value_t = 600)]
    pub rate_events_per_minute: u32,
    /// Events stored per user a day (a widget sends far fewer).
    #[arg(long, env = "EVENTS_PER_USER_PER_DAY", default_value_t = 5_000)]
    pub events_per_user_per_day: i64,
    /// Requests per minute per API key on the server API.
    #[arg(long, env = "RATE_API_PER_MINUTE", default_value_t = 6000)]
    pub rate_api_per_minute: u32,
    /// A connection that has not sent a full request head within this many
    /// seconds (idle keep-alive included) is closed.
    #[arg(long, env = "HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Whole-request limit, body included.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Open connections per client address (trusted proxies exempt).
    #[arg(long, env = "MAX_CONNECTIONS_PER_CLIENT", default_value_t = 64)]
    pub max_connections_per_client: usize,
    /// Admin and demo sessions end this many hours after sign-in.
    #[arg(long, env = "SESSION_HOURS", default_value_t = 12)]
    pub session_hours: u64,
    /// Lifetime of user tokens the demo host mints (the host's choice).
    #[arg(long, env = "USER_TOKEN_TTL_SECS", default_value_t = 900)]
    pub user_token_ttl_secs: u64,
    /// Stripe webhook signing secrets (`whsec_…`); several, comma-separated,
    /// while one is rolled. Without one, `/api/v1/webhooks/stripe` is off.
    #[arg(
        long = "stripe-webhook-secret",
        env = "STRIPE_WEBHOOK_SECRETS",
        value_delimiter = ','
    )]
    pub stripe_webhook_secrets: Vec<String>,
    /// Accept Stripe's live-mode events (else test-mode ones).
    #[arg(long, env = "STRIPE_LIVE_MODE", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub stripe_live_mode: bool,
    /// The Stripe metadata key holding the host's account id.
    #[arg(long, env = "STRIPE_ACCOUNT_KEY", default_value = "account_id")]
    pub stripe_account_key: String,
    /// Outbound webhooks may go to http:// URLs and to loopback, private and
    /// link-local addresses (tests, the demo). Never in production.
    #[arg(long, env = "ALLOW_PRIVATE_WEBHOOK_URLS", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub allow_private_webhook_urls: bool,
    /// Attempts per outbound webhook delivery before it is marked failed.
    #[arg(long, env = "WEBHOOK_MAX_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=30))]
    pub webhook_max_attempts: u32,
    /// The first retry's delay; each next one doubles (with jitter, capped at an hour).
    #[arg(long, env = "WEBHOOK_RETRY_BASE_MS", default_value_t = 5_000)]
    pub webhook_retry_base_ms: u64,
    /// How often the delivery worker looks for due deliveries and ended holds.
    #[arg(long, env = "WEBHOOK_POLL_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub webhook_poll_ms: u64,
}

impl ServeArgs {
    pub fn address(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }

    pub fn public_url(&self) -> Result<String, String> {
        let url = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", self.port));
        let url = url.trim_end_matches('/').to_owned();
        if origin_of(&url).is_none() {
            return Err(format!("PUBLIC_URL {url:?} must be an http(s) URL"));
        }
        // It is the user tokens' audience, which core bounds.
        if url.len() > referral_core::user_token::MAX_AUDIENCE_LEN
            || url.chars().any(char::is_control)
        {
            return Err(format!(
                "PUBLIC_URL {url:?} must have at most {} characters (it is the user tokens' audience)",
                referral_core::user_token::MAX_AUDIENCE_LEN
            ));
        }
        Ok(url)
    }

    pub fn cookie_secure(&self) -> Result<bool, String> {
        Ok(match self.cookie_secure {
            CookieSecure::Always => true,
            CookieSecure::Never => false,
            CookieSecure::Auto => self.public_url()?.starts_with("https://"),
        })
    }

    pub fn validate(&self) -> Result<(), String> {
        self.public_url()?;
        for origin in &self.allowed_origins {
            if origin_of(origin).as_deref() != Some(origin.trim_end_matches('/')) {
                return Err(format!("ALLOWED_ORIGINS: {origin:?} is not an origin"));
            }
        }
        for (name, value) in [
            ("RATE_AUTH_PER_MINUTE", self.rate_auth_per_minute),
            ("RATE_PER_MINUTE", self.rate_per_minute),
            ("RATE_EVENTS_PER_MINUTE", self.rate_events_per_minute),
            ("RATE_API_PER_MINUTE", self.rate_api_per_minute),
        ] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.events_per_user_per_day < 1 {
            return Err("EVENTS_PER_USER_PER_DAY must be at least 1".into());
        }
        if self.header_timeout_secs == 0 || self.request_timeout_secs == 0 {
            return Err("timeouts must be at least 1 second".into());
        }
        if self.max_connections == 0
            || self.max_connections_per_client == 0
            || self.session_hours == 0
        {
            return Err(
                "MAX_CONNECTIONS, MAX_CONNECTIONS_PER_CLIENT and SESSION_HOURS must be at least 1"
                    .into(),
            );
        }
        // A path on this site (not `//host`, which browsers read as another
        // site) or an absolute http(s) URL.
        let path = self.signup_url.starts_with('/')
            && !self.signup_url.starts_with("//")
            && !self.signup_url.starts_with("/\\");
        if (!path && origin_of(&self.signup_url).is_none())
            || self
                .signup_url
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err("SIGNUP_URL must be a path on this site or an http(s) URL".into());
        }
        if self.user_token_ttl_secs == 0
            || self.user_token_ttl_secs > referral_core::user_token::MAX_TTL_SECS
        {
            return Err(format!(
                "USER_TOKEN_TTL_SECS must be 1 to {}",
                referral_core::user_token::MAX_TTL_SECS
            ));
        }
        Ok(())
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs::parse_from(["serve"])
    }
}

/// An address (`10.0.0.1`) or a network (`10.0.0.0/8`).
fn parse_net(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is neither an address nor a network"))
}

/// `scheme://host[:port]` of an http(s) URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    if host.is_empty() || host.contains('@') || host.contains(char::is_whitespace) {
        return None;
    }
    Some(format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Result<(), String> {
        let mut all = vec!["serve"];
        all.extend_from_slice(extra);
        ServeArgs::try_parse_from(all)
            .map_err(|e| e.to_string())?
            .validate()
    }

    #[test]
    fn values_that_would_break_the_service_are_refused_at_start() {
        assert!(args(&[]).is_ok());
        assert!(args(&["--public-url", "https://referrals.acme.example"]).is_ok());
        let long = format!("https://app.acme.example/{}", "x".repeat(60));
        assert!(args(&["--public-url", &long])
            .unwrap_err()
            .contains("audience"));
        assert!(args(&["--public-url", "ftp://x"]).is_err());
        assert!(args(&["--user-token-ttl-secs", "0"]).is_err());
        assert!(args(&["--user-token-ttl-secs", "100000"]).is_err());
        for bad in [
            "//evil.example/x",
            "/\\evil.example",
            "javascript:alert(1)",
            "/a b",
        ] {
            assert!(args(&["--signup-url", bad]).is_err(), "{bad}");
        }
        assert!(args(&["--signup-url", "/join?plan=pro"]).is_ok());
        assert!(args(&["--signup-url", "https://www.acme.example/signup"]).is_ok());
        assert!(args(&["--trusted-proxy", "10.0.0.1,10.1.0.0/16"]).is_ok());
        assert!(args(&["--trusted-proxy", "nonsense"]).is_err());
        assert!(args(&["--rate-per-minute", "0"]).is_err());
    }
}
