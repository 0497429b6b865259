//! The reference backend. Every decision is core's: the server stores what
//! core decided (with its reasons) and never re-implements a rule.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use referral_core::attribution::{
    attribute, Attribution, AttributionPolicy, CaptureMethod, CapturedReferral, KnownPeople,
    ReferrerInfo, Signup,
};
use referral_core::funnel::{funnel, Customer, FunnelEvent, Stage};
use referral_core::rewards::{Ledger, LedgerEvent, Money, Program, ReversalReason};
use referral_core::{peek, referral_url, Channel, LinkOptions, MintRequest, ReferrerId, Verifier};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};
use tokio::sync::Mutex;

pub const WEBHOOK_TOLERANCE_SECS: u64 = 300;
const REF_COOKIE: &str = "referral_ref";
const SESSION_COOKIE: &str = "referral_session";

/// Seconds since the epoch, with an offset tests (and the demo's "advance
/// time" button) can move forward.
#[derive(Clone, Default)]
pub struct Clock(Arc<AtomicU64>);

impl Clock {
    pub fn now(&self) -> u64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        real + self.0.load(Ordering::Relaxed)
    }
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::Relaxed);
    }
}

pub struct Config {
    /// The nudge configuration the widget loads (JSON).
    pub nudge_config_json: String,
    /// Where the demo pages and the built widget package are.
    pub web_dir: std::path::PathBuf,
    pub pkg_dir: std::path::PathBuf,
    /// Demo mode: `/api/demo/advance-time` moves the server's clock.
    pub demo: bool,
    pub verifier: Verifier,
    pub program: Program,
    pub policy: AttributionPolicy,
    pub link_base: String,
    /// Signs session cookies.
    pub session_secret: Vec<u8>,
    /// Shared with the billing provider for webhook signatures.
    pub webhook_secret: Vec<u8>,
    /// Signup and code lookups per client address: refill per minute, burst.
    pub rate_per_minute: u64,
    pub rate_burst: u64,
}

/// A token bucket per client address for signup and code lookups:
/// `burst` requests at once, refilled at `per_minute`.
pub struct RateLimiter {
    per_minute: u64,
    burst: u64,
    buckets: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, (u64, u64)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u64, burst: u64) -> RateLimiter {
        RateLimiter {
            per_minute,
            burst,
            buckets: Default::default(),
        }
    }

    /// True if `ip` may make a request at `now_ms` (milliseconds).
    fn allow(&self, ip: std::net::IpAddr, now_ms: u64) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            buckets.clear(); // bound memory under a flood of addresses
        }
        // Tokens are kept in thousandths for integer refill.
        let (tokens, last) = buckets.entry(ip).or_insert((self.burst * 1000, now_ms));
        let refill = now_ms.saturating_sub(*last) * self.per_minute / 60;
        *tokens = (*tokens + refill).min(self.burst * 1000);
        *last = now_ms;
        if *tokens >= 1000 {
            *tokens -= 1000;
            true
        } else {
            false
        }
    }
}

async fn rate_limited(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    if !state.limiter.allow(ip, now_ms) {
        return ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many signups or code lookups; try again in a minute",
        )
        .into_response();
    }
    next.run(req).await
}

#[derive(Clone)]
pub struct AppState {
    pub pool: AnyPool,
    pub config: Arc<Config>,
    pub clock: Clock,
    limiter: Arc<RateLimiter>,
    /// Ledger events are applied one at a time, in `seq` order.
    ledger_lock: Arc<Mutex<()>>,
}

/// A 4xx/5xx with a JSON body naming the problem.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }
    fn bad(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "database", e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": self.code, "message": self.message })),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

pub async fn connect(url: &str) -> Result<AnyPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(if url.starts_with("sqlite") { 1 } else { 8 })
        .connect(url)
        .await?;
    if url.starts_with("sqlite") {
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await?;
        sqlx::query("PRAGMA synchronous = FULL")
            .execute(&pool)
            .await?;
    }
    migrate(&pool).await?;
    Ok(pool)
}

/// The migrations, in order. Each runs once, in a transaction, and is
/// recorded in `schema_migrations`; the same SQL serves both databases.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/0001_init.sql"))];

async fn migrate(pool: &AnyPool) -> Result<(), sqlx::Error> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)").execute(pool).await?;
    for (version, sql) in MIGRATIONS {
        let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(*version)
            .fetch_optional(pool)
            .await?;
        if done.is_some() {
            continue;
        }
        let mut tx = pool.begin().await?;
        for statement in sql
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty() && !s.lines().all(|l| l.trim_start().starts_with("--")))
        {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(*version)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

pub fn app(pool: AnyPool, config: Config, clock: Clock) -> Router {
    let limiter = Arc::new(RateLimiter::new(config.rate_per_minute, config.rate_burst));
    let state = AppState {
        pool,
        config: Arc::new(config),
        clock,
        ledger_lock: Arc::new(Mutex::new(())),
        limiter,
    };
    // Signup and everything that checks a code is rate limited per client.
    let limited = Router::new()
        .route("/r/{code}", get(landing))
        .route("/r", get(landing_query))
        .route("/api/signup", post(signup))
        .route("/api/referrer", get(referrer_name))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limited,
        ));
    Router::new()
        .merge(limited)
        .route("/api/demo/sign-in", post(sign_in))
        .route("/api/referral-code", get(referral_code))
        .route("/api/events", post(events))
        .route("/api/webhooks/billing", post(billing_webhook))
        .route("/api/stats", get(stats))
        .route("/api/admin/funnel", get(admin_funnel))
        .route("/api/nudge-config", get(nudge_config))
        .route("/api/demo/advance-time", post(advance_time))
        .route("/", get(|s: State<AppState>| page(s, "index.html")))
        .route("/signup", get(|s: State<AppState>| page(s, "signup.html")))
        .route("/admin", get(|s: State<AppState>| page(s, "admin.html")))
        .route("/static/{file}", get(static_file))
        .route("/pkg/{file}", get(package_file))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    // The OS random source; without it no id can be made safely.
    getrandom::getrandom(&mut bytes).unwrap_or_else(|_| std::process::abort());
    format!("{prefix}_{}", hex::encode(bytes))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn sign(secret: &[u8], value: &str) -> String {
    hex::encode(referral_core::keyring::hmac_sha256(
        secret,
        value.as_bytes(),
    ))
}

fn verify_tag(secret: &[u8], message: &[u8], tag_hex: &str) -> bool {
    let Ok(tag) = hex::decode(tag_hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(message);
    mac.verify_slice(&tag).is_ok()
}

/// The signed-in user's id from the session cookie (`<id>.<hmac>`).
fn session(state: &AppState, headers: &HeaderMap) -> ApiResult<String> {
    let value = cookie(headers, SESSION_COOKIE)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "not_signed_in", "sign in first"))?;
    let (id, tag) = value.rsplit_once('.').ok_or_else(|| {
        ApiError::new(StatusCode::UNAUTHORIZED, "bad_session", "malformed session")
    })?;
    if !verify_tag(&state.config.session_secret, id.as_bytes(), tag) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_session",
            "session signature",
        ));
    }
    Ok(id.to_owned())
}

#[derive(Deserialize)]
struct SignIn {
    email: String,
}

async fn create_user(
    state: &AppState,
    email: &str,
    company_domain: Option<&str>,
    referred_by: Option<&str>,
) -> ApiResult<(String, i64)> {
    let normalized = referral_core::fraud::normalize_email(email)
        .map_err(|e| ApiError::bad(e.reason(), e.to_string()))?;
    let domain = match company_domain {
        Some(d) if !d.trim().is_empty() => d.trim().to_ascii_lowercase(),
        _ => referral_core::fraud::email_domain(email)
            .map_err(|e| ApiError::bad(e.reason(), e.to_string()))?,
    };
    let id = random_id("acct");
    let next: i64 = sqlx::query("SELECT COALESCE(MAX(numeric_id), 1000) + 1 AS n FROM users")
        .fetch_one(&state.pool)
        .await?
        .try_get("n")?;
    let inserted = sqlx::query("INSERT INTO users (id, numeric_id, email, normalized_email, company_domain, referred_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&id)
        .bind(next)
        .bind(email.trim().to_ascii_lowercase())
        .bind(&normalized)
        .bind(&domain)
        .bind(referred_by)
        .bind(state.clock.now() as i64)
        .execute(&state.pool)
        .await;
    match inserted {
        Ok(_) => Ok((id, next)),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(ApiError::new(
            StatusCode::CONFLICT,
            "email_taken",
            "an account with this email exists",
        )),
        Err(e) => Err(e.into()),
    }
}

async fn sign_in(State(state): State<AppState>, Json(body): Json<SignIn>) -> ApiResult<Response> {
    let email = body.email.trim().to_ascii_lowercase();
    let existing = sqlx::query("SELECT id FROM users WHERE email = $1")
        .bind(&email)
        .fetch_optional(&state.pool)
        .await?;
    let id = match existing {
        Some(row) => row.try_get::<String, _>("id")?,
        None => create_user(&state, &email, None, None).await?.0,
    };
    let value = format!("{id}.{}", sign(&state.config.session_secret, &id));
    let set = format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax");
    Ok((
        [(header::SET_COOKIE, set)],
        Json(json!({ "account_id": id })),
    )
        .into_response())
}

async fn user_numeric(state: &AppState, id: &str) -> ApiResult<(i64, String)> {
    let row = sqlx::query("SELECT numeric_id, company_domain FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unknown_account",
                "no such account",
            )
        })?;
    Ok((row.try_get("numeric_id")?, row.try_get("company_domain")?))
}

async fn referral_code(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let id = session(&state, &headers)?;
    let (numeric, _) = user_numeric(&state, &id).await?;
    let email: String = sqlx::query("SELECT email FROM users WHERE id = $1")
        .bind(&id)
        .fetch_one(&state.pool)
        .await?
        .try_get("email")?;
    let now = state.clock.now();
    let program = state.config.verifier.policy.program_id;
    let mut links = serde_json::Map::new();
    let mut codes = serde_json::Map::new();
    for channel in Channel::ALL {
        let request = MintRequest {
            program_id: program,
            referrer: ReferrerId::Numeric(numeric as u64),
            channel,
            campaign: None,
        };
        let code = state
            .config
            .verifier
            .mint(&request, now)
            .map_err(|e| ApiError::bad(e.reason(), e.to_string()))?;
        let link = referral_url(
            &LinkOptions::new(&state.config.link_base),
            code.as_str(),
            channel,
        )
        .map_err(|e| ApiError::bad(e.reason(), e.to_string()))?;
        codes.insert(
            channel.as_str().to_owned(),
            Value::String(code.into_string()),
        );
        links.insert(channel.as_str().to_owned(), Value::String(link));
    }
    let code = codes.get("link").cloned().unwrap_or(Value::Null);
    Ok(Json(json!({
        "code": code,
        "codes": codes,
        "links": links,
        "typed_code": state.config.verifier.keyring.typed_code(program, numeric as u64),
        "account_id": id,
        "name": display_name(&email),
    })))
}

#[derive(Deserialize)]
struct RefQuery {
    #[serde(rename = "ref", default)]
    code: String,
}

/// `/r?ref=CODE`: the links core builds (`referral_url`) land here.
async fn landing_query(
    state: State<AppState>,
    axum::extract::Query(q): axum::extract::Query<RefQuery>,
) -> Response {
    landing(state, Path(q.code)).await
}

async fn landing(State(state): State<AppState>, Path(code): Path<String>) -> Response {
    // Only the shape is checked here; the signup verifies.
    if peek(&code).is_err() {
        return Redirect::to("/signup").into_response();
    }
    let max_age = state.config.policy.window_secs;
    let set = format!(
        "{REF_COOKIE}={code}.{}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax",
        state.clock.now()
    );
    // The code rides along so the page's capture script keeps a first-party
    // copy too (and takes it out of the visible URL).
    (
        [(header::SET_COOKIE, set)],
        Redirect::to(&format!("/signup?ref={code}")),
    )
        .into_response()
}

#[derive(Deserialize)]
struct SignupBody {
    email: String,
    #[serde(default)]
    company_domain: Option<String>,
    /// A code from the page (`getCapturedReferral()`), if the cookie is gone.
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    captured_at: Option<u64>,
    #[serde(default)]
    typed_code: Option<String>,
}

async fn signup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<SignupBody>,
) -> ApiResult<Json<Value>> {
    let now = state.clock.now();
    let mut captures = Vec::new();
    if let Some((code, at)) = cookie(&headers, REF_COOKIE).and_then(|v| {
        v.rsplit_once('.')
            .map(|(c, t)| (c.to_owned(), t.parse::<u64>().unwrap_or(now)))
    }) {
        captures.push(CapturedReferral {
            code,
            captured_at: at,
            method: CaptureMethod::Link,
        });
    }
    if let Some(code) = body.code.filter(|c| !c.is_empty()) {
        captures.push(CapturedReferral {
            code,
            captured_at: body.captured_at.unwrap_or(now).min(now),
            method: CaptureMethod::Link,
        });
    }
    if let Some(code) = body.typed_code.filter(|c| !c.is_empty()) {
        captures.push(CapturedReferral {
            code,
            captured_at: now,
            method: CaptureMethod::TypedCode,
        });
    }
    // Who could the referrers be? Look up what the codes name, with the
    // rewards each earned this calendar month (for the velocity check).
    let ledger = current_ledger(&state).await?;
    let this_month = referral_core::rewards::program::year_month(now);
    let rewards_this_month = |account: &str| {
        ledger
            .entries
            .iter()
            .filter(|e| {
                e.beneficiary == account
                    && e.side == referral_core::rewards::Side::Referrer
                    && e.reversal.is_none()
            })
            .filter(|e| referral_core::rewards::program::year_month(e.created_at) == this_month)
            .count() as u32
    };
    let mut referrers = Vec::new();
    for capture in &captures {
        let numeric = if capture.method == CaptureMethod::TypedCode {
            state
                .config
                .verifier
                .keyring
                .verify_typed_code(&capture.code, state.config.verifier.policy.program_id)
                .ok()
                .map(|t| t.referrer)
        } else {
            peek(&capture.code)
                .ok()
                .and_then(|c| match c.unverified().referrer {
                    ReferrerId::Numeric(n) => Some(n),
                    ReferrerId::Opaque(_) => None,
                })
        };
        let Some(numeric) = numeric else { continue };
        let row = sqlx::query("SELECT id, email, referred_by FROM users WHERE numeric_id = $1")
            .bind(numeric as i64)
            .fetch_optional(&state.pool)
            .await?;
        if let Some(row) = row {
            let email: String = row.try_get("email")?;
            let account: String = row.try_get("id")?;
            referrers.push(ReferrerInfo {
                referrer: ReferrerId::Numeric(numeric),
                rewards_this_month: rewards_this_month(&account),
                account_id: account,
                email_domain: referral_core::fraud::email_domain(&email).unwrap_or_default(),
                network_prefix_hash: None,
                referred_by_account: row.try_get("referred_by")?,
            });
        }
    }
    let normalized = referral_core::fraud::normalize_email(&body.email)
        .map_err(|e| ApiError::bad(e.reason(), e.to_string()))?;
    let duplicate: Option<String> = sqlx::query("SELECT id FROM users WHERE normalized_email = $1")
        .bind(&normalized)
        .fetch_optional(&state.pool)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()?;
    let (account_id, _) =
        create_user(&state, &body.email, body.company_domain.as_deref(), None).await?;
    let signup = Signup {
        account_id: account_id.clone(),
        email: body.email.clone(),
        company_domain: body.company_domain.clone(),
        at: now,
        network_prefix_hash: None,
    };
    let outcome = attribute(
        &state.config.verifier,
        &state.config.policy,
        &captures,
        &signup,
        &referrers,
        &KnownPeople {
            account_with_same_normalized_email: duplicate,
        },
    );
    let referral_id = random_id("ref");
    let (referrer, code, channel, review, flags) = match &outcome {
        Attribution::Attributed(a) => (
            Some(a.referrer_account.clone()),
            Some(a.code.clone()),
            a.channel.map(|c| c.as_str().to_owned()),
            a.review,
            serde_json::to_string(&a.flags).unwrap_or_default(),
        ),
        Attribution::NotAttributed { .. } => (None, None, None, false, "[]".to_owned()),
    };
    if let Some(referrer) = &referrer {
        sqlx::query("UPDATE users SET referred_by = $1 WHERE id = $2")
            .bind(referrer)
            .bind(&account_id)
            .execute(&state.pool)
            .await?;
    }
    sqlx::query("INSERT INTO referrals (id, friend_account, referrer_account, code, channel, outcome, review, flags, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(&referral_id)
        .bind(&account_id)
        .bind(&referrer)
        .bind(&code)
        .bind(&channel)
        .bind(outcome.reason())
        .bind(i32::from(review))
        .bind(&flags)
        .bind(now as i64)
        .execute(&state.pool)
        .await?;
    if let Some(referrer) = referrer {
        let event = LedgerEvent::Attributed {
            event_id: format!("attr:{referral_id}"),
            referral_id: referral_id.clone(),
            referrer_account: referrer,
            friend_account: account_id.clone(),
            review,
            at: now,
        };
        apply_ledger(&state, &event).await?;
    }
    Ok(Json(
        json!({ "account_id": account_id, "referral_id": referral_id, "reason": outcome.reason(), "attribution": outcome }),
    ))
}

/// Applies one ledger event after replaying the stored ones; stores it only
/// if core accepted it. The event id makes a redelivery a no-op.
async fn apply_ledger(state: &AppState, event: &LedgerEvent) -> ApiResult<Value> {
    let _guard = state.ledger_lock.lock().await;
    let rows = sqlx::query("SELECT body FROM ledger_events ORDER BY seq")
        .fetch_all(&state.pool)
        .await?;
    let mut ledger = Ledger::new();
    for row in &rows {
        let body: String = row.try_get("body")?;
        let stored: LedgerEvent = serde_json::from_str(&body).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ledger_corrupt",
                e.to_string(),
            )
        })?;
        let _ = ledger.apply(&state.config.program, &stored);
    }
    let applied = ledger
        .apply(&state.config.program, event)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.reason(), e.to_string()))?;
    if applied.code() != "duplicate" {
        let body = serde_json::to_string(event).map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        })?;
        sqlx::query("INSERT INTO ledger_events (seq, event_id, body, outcome, received_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(rows.len() as i64 + 1)
            .bind(event.event_id())
            .bind(body)
            .bind(applied.code())
            .bind(state.clock.now() as i64)
            .execute(&state.pool)
            .await?;
    }
    Ok(json!(applied))
}

/// Every stored ledger event replayed: the ledger as of now.
pub async fn current_ledger(state: &AppState) -> ApiResult<Ledger> {
    let rows = sqlx::query("SELECT body FROM ledger_events ORDER BY seq")
        .fetch_all(&state.pool)
        .await?;
    let mut ledger = Ledger::new();
    for row in &rows {
        let body: String = row.try_get("body")?;
        if let Ok(event) = serde_json::from_str::<LedgerEvent>(&body) {
            let _ = ledger.apply(&state.config.program, &event);
        }
    }
    Ok(ledger)
}

#[derive(Deserialize)]
struct EventBatch {
    events: Vec<IncomingEvent>,
}

#[derive(Deserialize)]
struct IncomingEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    at: u64,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    moment: Option<String>,
}

async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = session(&state, &headers)?;
    let batch: EventBatch =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad("invalid_body", e.to_string()))?;
    if batch.events.len() > 500 {
        return Err(ApiError::bad(
            "batch_too_large",
            "at most 500 events a batch",
        ));
    }
    let mut accepted = 0;
    let mut duplicates = 0;
    let mut tx = state.pool.begin().await?;
    for e in &batch.events {
        if e.id.is_empty() || e.id.len() > 64 || e.kind.is_empty() || e.kind.len() > 32 {
            return Err(ApiError::bad(
                "invalid_event",
                format!(
                    "event {:?}: id and type are required, at most 64 and 32 characters",
                    e.id
                ),
            ));
        }
        let done = sqlx::query("INSERT INTO events (id, user_id, type, channel, moment, at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING")
            .bind(&e.id)
            .bind(&user)
            .bind(&e.kind)
            .bind(&e.channel)
            .bind(&e.moment)
            .bind(e.at as i64)
            .bind(state.clock.now() as i64)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 1 {
            accepted += 1;
        } else {
            duplicates += 1;
        }
    }
    // Acknowledged only once committed: an acknowledged event is durable.
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "accepted": accepted, "duplicates": duplicates })),
    ))
}

#[derive(Deserialize)]
struct BillingEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    account_id: String,
    #[serde(default)]
    amount_minor: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
}

/// `Referral-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`.
async fn billing_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let header = headers
        .get("referral-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_signature",
                "Referral-Signature header required",
            )
        })?;
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<u64>().ok(),
            Some(("v1", value)) => v1 = Some(value.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature_header",
            "expected t=…,v1=…",
        ));
    };
    let now = state.clock.now();
    if now.abs_diff(t) > WEBHOOK_TOLERANCE_SECS {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "stale_signature",
            "timestamp outside the tolerance",
        ));
    }
    let mut signed = t.to_string().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(&body);
    if !verify_tag(&state.config.webhook_secret, &signed, &v1) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "signature does not match",
        ));
    }
    let event: BillingEvent =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad("invalid_body", e.to_string()))?;
    let referral = sqlx::query(
        "SELECT id FROM referrals WHERE friend_account = $1 AND referrer_account IS NOT NULL",
    )
    .bind(&event.account_id)
    .fetch_optional(&state.pool)
    .await?;
    let Some(referral) = referral else {
        return Ok(Json(json!({ "outcome": "not_referred" })));
    };
    let referral_id: String = referral.try_get("id")?;
    let ledger_event = match event.kind.as_str() {
        "payment" => {
            let amount = Money::new(
                event
                    .amount_minor
                    .ok_or_else(|| ApiError::bad("missing_amount", "payment needs amount_minor"))?,
                event.currency.as_deref().unwrap_or("USD"),
            );
            let acv = Money::new(amount.amount_minor.saturating_mul(12), &amount.currency);
            LedgerEvent::Payment {
                event_id: event.id,
                referral_id,
                at: now,
                amount,
                acv: Some(acv),
            }
        }
        "refund" => LedgerEvent::Reversal {
            event_id: event.id,
            referral_id,
            at: now,
            reason: ReversalReason::Refund,
        },
        "chargeback" => LedgerEvent::Reversal {
            event_id: event.id,
            referral_id,
            at: now,
            reason: ReversalReason::Chargeback,
        },
        "cancellation" => LedgerEvent::Reversal {
            event_id: event.id,
            referral_id,
            at: now,
            reason: ReversalReason::Churn,
        },
        other => {
            return Err(ApiError::bad(
                "unknown_event_type",
                format!("{other:?}: expected payment, refund, chargeback or cancellation"),
            ))
        }
    };
    Ok(Json(apply_ledger(&state, &ledger_event).await?))
}

async fn stats(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let user = session(&state, &headers)?;
    let invites: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM events WHERE user_id = $1 AND type = 'share'")
            .bind(&user)
            .fetch_one(&state.pool)
            .await?
            .try_get("n")?;
    let signups: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM referrals WHERE referrer_account = $1")
            .bind(&user)
            .fetch_one(&state.pool)
            .await?
            .try_get("n")?;
    let ledger = current_ledger(&state).await?;
    let now = state.clock.now();
    let entries: Vec<Value> = ledger
        .entries
        .iter()
        .filter(|e| e.beneficiary == user)
        .map(|e| json!({ "id": e.id, "status": ledger.status(e, now), "value": e.value }))
        .collect();
    Ok(Json(
        json!({ "invites": invites, "signups": signups, "rewards": entries.len(), "entries": entries }),
    ))
}

async fn admin_funnel(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let mut events = Vec::new();
    for row in sqlx::query("SELECT user_id, type, channel, moment, at FROM events")
        .fetch_all(&state.pool)
        .await?
    {
        let stage = match row.try_get::<String, _>("type")?.as_str() {
            "impression" => Stage::Impression,
            "share" | "copy" => Stage::Share,
            _ => continue,
        };
        events.push(FunnelEvent {
            stage,
            at: row.try_get::<i64, _>("at")? as u64,
            referrer: row.try_get("user_id")?,
            channel: row.try_get("channel")?,
            moment: row.try_get("moment")?,
            program: None,
        });
    }
    for row in sqlx::query("SELECT referrer_account, channel, created_at FROM referrals WHERE referrer_account IS NOT NULL").fetch_all(&state.pool).await? {
        events.push(FunnelEvent { stage: Stage::Signup, at: row.try_get::<i64, _>("created_at")? as u64, referrer: row.try_get("referrer_account")?, channel: row.try_get("channel")?, moment: None, program: None });
    }
    let ledger = current_ledger(&state).await?;
    for r in ledger.referrals.values().filter(|r| r.payments > 0) {
        events.push(FunnelEvent {
            stage: Stage::Paid,
            at: r.attributed_at,
            referrer: r.referrer_account.clone(),
            channel: None,
            moment: None,
            program: None,
        });
    }
    for e in ledger
        .entries
        .iter()
        .filter(|e| e.side == referral_core::rewards::Side::Referrer && e.reversal.is_none())
    {
        events.push(FunnelEvent {
            stage: Stage::Reward,
            at: e.created_at,
            referrer: e.beneficiary.clone(),
            channel: None,
            moment: None,
            program: None,
        });
    }
    let customers: Vec<Customer> = sqlx::query("SELECT id, created_at FROM users")
        .fetch_all(&state.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Customer {
                account: r.try_get("id")?,
                since: r.try_get::<i64, _>("created_at")? as u64,
                active: true,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    let review: Vec<Value> = sqlx::query("SELECT id, friend_account, referrer_account, flags, outcome FROM referrals WHERE review = 1")
        .fetch_all(&state.pool)
        .await?
        .iter()
        .map(|r| json!({ "referral_id": r.try_get::<String, _>("id").unwrap_or_default(), "friend": r.try_get::<String, _>("friend_account").unwrap_or_default(), "referrer": r.try_get::<Option<String>, _>("referrer_account").unwrap_or_default(), "flags": serde_json::from_str::<Value>(&r.try_get::<String, _>("flags").unwrap_or_default()).unwrap_or(Value::Null) }))
        .collect();
    Ok(Json(
        json!({ "funnel": funnel(&events, &customers), "review_queue": review }),
    ))
}

/// Strict CSP on every page: no inline script or style anywhere.
const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("ts") => "text/plain",
        _ => "application/octet-stream",
    }
}

async fn serve_from(dir: &std::path::Path, name: &str) -> Response {
    // One path segment of safe characters: nothing outside `dir`.
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        || name.starts_with('.')
    {
        return ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file").into_response();
    }
    match tokio::fs::read(dir.join(name)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type(name)),
                (header::CONTENT_SECURITY_POLICY, CSP),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{name} not found (run `cargo xtask wasm` for /pkg/)"),
        )
        .into_response(),
    }
}

async fn page(State(state): State<AppState>, name: &'static str) -> Response {
    serve_from(&state.config.web_dir, name).await
}

async fn static_file(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    serve_from(&state.config.web_dir, &file).await
}

async fn package_file(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    serve_from(&state.config.pkg_dir, &file).await
}

async fn nudge_config(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.config.nudge_config_json.clone(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct CodeQuery {
    code: String,
}

/// "You've been referred by …": the referrer's display name for a code.
/// Only the shape is checked (peek): a name is all it reveals.
async fn referrer_name(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<CodeQuery>,
) -> ApiResult<Json<Value>> {
    let claims = peek(&q.code).map_err(|e| ApiError::bad(e.reason(), e.to_string()))?;
    let ReferrerId::Numeric(numeric) = claims.unverified().referrer else {
        return Err(ApiError::bad("unknown_referrer", "not one of ours"));
    };
    let row = sqlx::query("SELECT email FROM users WHERE numeric_id = $1")
        .bind(numeric as i64)
        .fetch_optional(&state.pool)
        .await?;
    let email: String = row
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_referrer",
                "no such referrer",
            )
        })?
        .try_get("email")?;
    Ok(Json(json!({ "name": display_name(&email) })))
}

/// `anna.lind@…` → `Anna Lind`: the demo has no profile names.
pub fn display_name(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default();
    local
        .split(['.', '_', '-'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Deserialize)]
struct Advance {
    days: u64,
}

async fn advance_time(
    State(state): State<AppState>,
    Json(body): Json<Advance>,
) -> ApiResult<Json<Value>> {
    if !state.config.demo {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "demo mode only",
        ));
    }
    if body.days > 3650 {
        return Err(ApiError::bad("invalid_days", "at most 3650 days"));
    }
    state.clock.advance(body.days * 86_400);
    Ok(Json(json!({ "now": state.clock.now() })))
}
