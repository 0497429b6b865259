//! Outbound webhooks, signed per the Standard Webhooks specification
//! (`docs/adr/0008-outbound-webhooks.md`).
//!
//! - **Outbox.** `emit` writes a notification (`outbound_events`) and one
//!   delivery per subscribed endpoint (`outbound_deliveries`) in the
//!   caller's transaction: the notification exists if and only if the
//!   change that caused it committed.
//! - **Worker.** `start` spawns a task that claims due deliveries with a
//!   lease (one `UPDATE … RETURNING`, `FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL, so several processes never send one delivery twice at
//!   once), sends them, records every attempt and retries with exponential
//!   back-off and jitter up to a maximum number of attempts.
//! - **`reward.payable`** happens by time passing: entries created with a
//!   hold are watched (`payable_watch`); the worker finds those whose hold
//!   is over, checks the entry with core under its referrer's lock and
//!   announces it once (the watch row is deleted in the same transaction).
//! - **Signing.** `webhook-id`, `webhook-timestamp`, `webhook-signature:
//!   v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one signature per
//!   active secret (`whsec_<base64>`). This is a rule every host would
//!   share: it could move into core (`signing` feature) later.
//! - **Addresses.** HTTPS only, and no loopback, private, link-local or
//!   otherwise special address, checked when an endpoint is added and
//!   again at each delivery on every address the name resolves to (the
//!   connection goes to a checked address: no DNS rebinding), unless
//!   `--allow-private-webhook-urls`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use referral_core::rewards::{Entry, EntryStatus, Ledger};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::{AnyConnection, Row};

use crate::store::{ledger as ledger_store, random_bytes, random_id, Backend};
use crate::{AppState, Clock};

pub const EVENT_TYPES: [&str; 7] = [
    "referral.attributed",
    "referral.flagged",
    "referral.approved",
    "referral.rejected",
    "reward.held",
    "reward.payable",
    "reward.reversed",
];

/// How long a claimed delivery is someone's (then another worker may
/// take it over): longer than one attempt can last.
const LEASE_MS: i64 = 60_000;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest wait between two attempts.
const MAX_BACKOFF_MS: u64 = 3_600_000;
/// An old secret keeps signing this long after a rotation.
pub const ROTATION_OVERLAP_SECS: u64 = 24 * 3600;
/// How often an entry still under review is looked at again.
const PENDING_RECHECK_SECS: u64 = 3600;

#[derive(Clone, Debug)]
pub struct OutboundSettings {
    pub allow_private_urls: bool,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub poll_ms: u64,
}

// ---------------------------------------------------------------- signing

/// A new secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    format!("whsec_{}", B64.encode(random_bytes::<32>()))
}

/// The signature of one message with one secret: `v1,<base64>`.
pub fn sign(secret: &str, msg_id: &str, timestamp: u64, body: &str) -> Option<String> {
    let key = B64.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    Some(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// `webhook-signature`: one signature per active secret, space-separated.
pub fn signature_header(secrets: &[StoredSecret], msg_id: &str, ts: u64, body: &str) -> String {
    secrets
        .iter()
        .filter(|s| s.expires_at.is_none_or(|e| e > ts))
        .filter_map(|s| sign(&s.secret, msg_id, ts, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredSecret {
    pub secret: String,
    /// Set when a newer secret replaced this one: it signs until then.
    #[serde(default)]
    pub expires_at: Option<u64>,
}

// ------------------------------------------------------------- addresses

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("not a valid absolute URL")]
    Invalid,
    #[error("only https:// URLs are allowed")]
    NotHttps,
    #[error("the URL may not carry a user name or password")]
    Credentials,
    #[error("the host does not resolve")]
    Unresolvable,
    #[error("the host is or resolves to a loopback, private, link-local or reserved address")]
    Private,
}

impl UrlError {
    pub fn code(&self) -> &'static str {
        match self {
            UrlError::Invalid => "invalid_url",
            UrlError::NotHttps => "url_not_https",
            UrlError::Credentials => "url_credentials",
            UrlError::Unresolvable => "url_unresolvable",
            UrlError::Private => "url_private_address",
        }
    }
}

/// An endpoint URL taken apart.
#[derive(Clone, Debug)]
pub struct Target {
    pub https: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

/// Checks the URL's form: absolute, https (or http when private URLs are
/// allowed), no credentials, at most 2,000 characters.
pub fn parse_url(url: &str, allow_private: bool) -> Result<Target, UrlError> {
    if url.len() > 2000 || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(UrlError::Invalid);
    }
    let uri: axum::http::Uri = url.parse().map_err(|_| UrlError::Invalid)?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") if allow_private => false,
        Some("http") => return Err(UrlError::NotHttps),
        _ => return Err(UrlError::Invalid),
    };
    let authority = uri.authority().ok_or(UrlError::Invalid)?;
    if authority.as_str().contains('@') {
        return Err(UrlError::Credentials);
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host.is_empty() {
        return Err(UrlError::Invalid);
    }
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    Ok(Target {
        https,
        host,
        port,
        path,
    })
}

/// Loopback, private, link-local, shared (CGNAT), multicast, unspecified,
/// documentation and other reserved addresses: none is a public endpoint.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 (embeds IPv4)
                || (s[0] == 0x2002) // 6to4 (embeds IPv4)
                || v6.to_ipv4().is_some() // IPv4-compatible
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking
        || o[0] >= 240 // reserved
}

/// Resolves the target's host and checks every address; the addresses to
/// connect to.
pub async fn resolve(target: &Target, allow_private: bool) -> Result<Vec<SocketAddr>, UrlError> {
    let addrs: Vec<SocketAddr> = match target.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, target.port)],
        Err(_) => tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::lookup_host((target.host.as_str(), target.port)),
        )
        .await
        .map_err(|_| UrlError::Unresolvable)?
        .map_err(|_| UrlError::Unresolvable)?
        .collect(),
    };
    if addrs.is_empty() {
        return Err(UrlError::Unresolvable);
    }
    if !allow_private && addrs.iter().any(|a| is_forbidden(a.ip())) {
        return Err(UrlError::Private);
    }
    Ok(addrs)
}

/// The check made when an endpoint is added.
pub async fn validate_url(url: &str, allow_private: bool) -> Result<(), UrlError> {
    let target = parse_url(url, allow_private)?;
    resolve(&target, allow_private).await.map(|_| ())
}

// ------------------------------------------------------------------ outbox

/// Milliseconds since the epoch (real time: deliveries are real).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// RFC 3339 in UTC for the payload's `timestamp`.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn wants(event_types: &str, event_type: &str) -> bool {
    match serde_json::from_str::<Vec<String>>(event_types) {
        Ok(types) => types.is_empty() || types.iter().any(|t| t == event_type),
        Err(_) => false,
    }
}

/// Writes one notification into the outbox, in the caller's transaction,
/// with a delivery for each endpoint subscribed to its type. `now` is the
/// program's time (the payload's `timestamp`).
pub async fn emit(
    conn: &mut AnyConnection,
    event_type: &'static str,
    data: Value,
    now: u64,
) -> Result<String, sqlx::Error> {
    debug_assert!(EVENT_TYPES.contains(&event_type));
    let id = random_id("msg");
    let body = json!({
        "type": event_type,
        "timestamp": rfc3339(now),
        "data": data,
    })
    .to_string();
    sqlx::query(
        "INSERT INTO outbound_events (id, event_type, body, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&id)
    .bind(event_type)
    .bind(&body)
    .bind(Clock::real_now() as i64)
    .execute(&mut *conn)
    .await?;
    let endpoints = sqlx::query("SELECT id, event_types FROM webhook_endpoints ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    let due = now_ms();
    for row in endpoints {
        let endpoint: String = row.try_get("id")?;
        let types: String = row.try_get("event_types")?;
        if !wants(&types, event_type) {
            continue;
        }
        sqlx::query("INSERT INTO outbound_deliveries (event_id, endpoint_id, status, attempts, next_attempt_at, created_at) VALUES ($1, $2, 'pending', 0, $3, $4)")
            .bind(&id)
            .bind(&endpoint)
            .bind(due)
            .bind(Clock::real_now() as i64)
            .execute(&mut *conn)
            .await?;
    }
    Ok(id)
}

fn entry_data(ledger: &Ledger, entry: &Entry, now: u64) -> Value {
    json!({
        "entry_id": entry.id,
        "referral_id": entry.referral_id,
        "beneficiary": entry.beneficiary,
        "side": entry.side,
        "value": entry.value,
        "hold_until": entry.hold_until,
        "status": ledger.status(entry, now),
        "reversal": entry.reversal,
    })
}

/// What a ledger change announces, computed from the ledger after it:
/// `reward.held` (or `reward.payable` at once without a hold) for each
/// created entry, `reward.reversed` for each reversed one; and the created
/// entries to watch for the end of their hold.
pub struct LedgerNotices {
    pub notices: Vec<(&'static str, Value)>,
    pub watch: Vec<(String, u64)>,
}

pub fn ledger_notices(
    ledger: &Ledger,
    created: &[String],
    reversed: &[String],
    now: u64,
) -> LedgerNotices {
    let mut out = LedgerNotices {
        notices: Vec::new(),
        watch: Vec::new(),
    };
    for entry in ledger.entries.iter() {
        if created.contains(&entry.id) {
            match ledger.status(entry, now) {
                EntryStatus::Held => {
                    out.notices
                        .push(("reward.held", entry_data(ledger, entry, now)));
                    out.watch.push((entry.id.clone(), entry.hold_until));
                }
                EntryStatus::Payable => {
                    out.notices
                        .push(("reward.payable", entry_data(ledger, entry, now)));
                }
                // Under review: announced when cleared and its hold is over.
                EntryStatus::Pending => out.watch.push((entry.id.clone(), entry.hold_until)),
                EntryStatus::Paid | EntryStatus::Reversed => {}
            }
        } else if reversed.contains(&entry.id) {
            out.notices
                .push(("reward.reversed", entry_data(ledger, entry, now)));
        }
    }
    out
}

/// Writes a ledger change's notices and watches (in the caller's
/// transaction).
pub async fn write_ledger_notices(
    conn: &mut AnyConnection,
    referrer: &str,
    notices: LedgerNotices,
    now: u64,
) -> Result<(), sqlx::Error> {
    for (kind, data) in notices.notices {
        emit(conn, kind, data, now).await?;
    }
    for (entry, until) in notices.watch {
        sqlx::query("INSERT INTO payable_watch (entry_id, referrer, next_check) VALUES ($1, $2, $3) ON CONFLICT (entry_id) DO NOTHING")
            .bind(entry)
            .bind(referrer)
            .bind(until as i64)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// `referral.approved` / `referral.rejected`: for the review decisions
/// (called by them, in their transaction, with the admin's reason).
pub async fn referral_decided(
    conn: &mut AnyConnection,
    referral_id: &str,
    referrer: &str,
    friend: &str,
    approved: bool,
    reason: &str,
    now: u64,
) -> Result<String, sqlx::Error> {
    let kind = if approved {
        "referral.approved"
    } else {
        "referral.rejected"
    };
    emit(
        conn,
        kind,
        json!({
            "referral_id": referral_id,
            "referrer_id": referrer,
            "friend_id": friend,
            "reason": reason,
        }),
        now,
    )
    .await
}

// ------------------------------------------------------------------ worker

/// Starts the delivery worker (and the payable scan) for this process.
pub fn start(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let poll = Duration::from_millis(state.settings.outbound.poll_ms);
        loop {
            if let Err(e) = scan_payable(&state).await {
                tracing::warn!(error = %e, "payable scan failed");
            }
            match deliver_due(&state).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhook delivery round failed"),
            }
            tokio::time::sleep(poll).await;
        }
    })
}

/// Finds entries whose hold is over and announces `reward.payable` once
/// for each that core says is payable. One entry per transaction: the
/// watch row is claimed (`SKIP LOCKED` on PostgreSQL), its referrer's
/// ledger locked, and the notice written and the row deleted together.
pub async fn scan_payable(state: &AppState) -> Result<usize, sqlx::Error> {
    let mut done = 0;
    for _ in 0..100 {
        let now = state.clock.now();
        // A read first: no write transaction (SQLite's one writer) when
        // nothing is due.
        let due = sqlx::query("SELECT 1 AS one FROM payable_watch WHERE next_check <= $1 LIMIT 1")
            .bind(now as i64)
            .fetch_optional(&state.db.read)
            .await?;
        if due.is_none() {
            break;
        }
        let mut tx = state.db.begin().await?;
        let select = match state.db.backend {
            Backend::Postgres => "SELECT entry_id, referrer FROM payable_watch WHERE next_check <= $1 ORDER BY next_check LIMIT 1 FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "SELECT entry_id, referrer FROM payable_watch WHERE next_check <= $1 ORDER BY next_check LIMIT 1",
        };
        let Some(row) = sqlx::query(select)
            .bind(now as i64)
            .fetch_optional(&mut *tx)
            .await?
        else {
            break;
        };
        let entry_id: String = row.try_get("entry_id")?;
        let referrer: String = row.try_get("referrer")?;
        let ledger = ledger_store::lock_referrer(&state.db, &mut tx, &referrer, now)
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let entry = ledger.entries.iter().find(|e| e.id == entry_id);
        let next = match entry.map(|e| (e, ledger.status(e, now))) {
            Some((e, EntryStatus::Payable)) => {
                emit(&mut tx, "reward.payable", entry_data(&ledger, e, now), now).await?;
                None
            }
            Some((e, EntryStatus::Held)) => Some(e.hold_until.max(now + 1)),
            Some((_, EntryStatus::Pending)) => Some(now + PENDING_RECHECK_SECS),
            _ => None,
        };
        match next {
            Some(at) => {
                sqlx::query("UPDATE payable_watch SET next_check = $1 WHERE entry_id = $2")
                    .bind(at as i64)
                    .bind(&entry_id)
                    .execute(&mut *tx)
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM payable_watch WHERE entry_id = $1")
                    .bind(&entry_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        done += 1;
    }
    Ok(done)
}

struct Claimed {
    id: i64,
    event_id: String,
    endpoint_id: String,
    attempts: i64,
    lease: i64,
}

/// Claims due deliveries with a lease in one atomic statement and sends
/// them concurrently; answers how many were claimed.
pub async fn deliver_due(state: &AppState) -> Result<usize, sqlx::Error> {
    let now = now_ms();
    let lease = now + LEASE_MS;
    let lock = match state.db.backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let due = sqlx::query("SELECT 1 AS one FROM outbound_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 LIMIT 1")
        .bind(now)
        .fetch_optional(&state.db.read)
        .await?;
    if due.is_none() {
        return Ok(0);
    }
    let claim = format!(
        "UPDATE outbound_deliveries SET lease_until = $1 WHERE id IN (SELECT id FROM outbound_deliveries WHERE status = 'pending' AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2) ORDER BY next_attempt_at LIMIT 16{lock}) RETURNING id, event_id, endpoint_id, attempts"
    );
    let rows = {
        let mut tx = state.db.begin().await?;
        let rows = sqlx::query(&claim)
            .bind(lease)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows
    };
    let mut claimed = Vec::new();
    for row in rows {
        claimed.push(Claimed {
            id: row.try_get("id")?,
            event_id: row.try_get("event_id")?,
            endpoint_id: row.try_get("endpoint_id")?,
            attempts: row.try_get::<i64, _>("attempts")?,
            lease,
        });
    }
    let n = claimed.len();
    let mut tasks = tokio::task::JoinSet::new();
    for c in claimed {
        let state = state.clone();
        tasks.spawn(async move {
            if let Err(e) = deliver_one(&state, c).await {
                tracing::warn!(error = %e, "webhook delivery not recorded");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(n)
}

async fn deliver_one(state: &AppState, c: Claimed) -> Result<(), sqlx::Error> {
    let mut conn = state.db.read.acquire().await?;
    let event = sqlx::query("SELECT body FROM outbound_events WHERE id = $1")
        .bind(&c.event_id)
        .fetch_optional(&mut *conn)
        .await?;
    let endpoint = sqlx::query("SELECT url, secrets FROM webhook_endpoints WHERE id = $1")
        .bind(&c.endpoint_id)
        .fetch_optional(&mut *conn)
        .await?;
    drop(conn);
    let started = Instant::now();
    let attempted_at = Clock::real_now();
    let result = match (event, endpoint) {
        (Some(event), Some(endpoint)) => {
            let body: String = event.try_get("body")?;
            let url: String = endpoint.try_get("url")?;
            let secrets: Vec<StoredSecret> =
                serde_json::from_str(&endpoint.try_get::<String, _>("secrets")?)
                    .unwrap_or_default();
            let ts = Clock::real_now();
            let signature = signature_header(&secrets, &c.event_id, ts, &body);
            post(
                &url,
                &[
                    ("webhook-id", c.event_id.clone()),
                    ("webhook-timestamp", ts.to_string()),
                    ("webhook-signature", signature),
                ],
                body,
                state.settings.outbound.allow_private_urls,
            )
            .await
        }
        _ => Err("the endpoint was removed".to_owned()),
    };
    let duration_ms = started.elapsed().as_millis() as i64;
    let (status_code, error) = match &result {
        Ok(code) => (Some(i64::from(*code)), None),
        Err(e) => (None, Some(e.clone())),
    };
    let ok = status_code.is_some_and(|s| (200..300).contains(&s));
    let attempts = c.attempts + 1;
    let settings = &state.settings.outbound;
    let (status, next) = if ok {
        ("delivered", now_ms())
    } else if attempts >= i64::from(settings.max_attempts) {
        ("failed", now_ms())
    } else {
        (
            "pending",
            now_ms() + backoff_ms(settings.retry_base_ms, attempts as u32) as i64,
        )
    };
    let mut tx = state.db.begin().await?;
    // Only while the lease is still ours (else another worker took over).
    let updated = sqlx::query("UPDATE outbound_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, lease_until = NULL, last_status = $4, delivered_at = $5 WHERE id = $6 AND lease_until = $7")
        .bind(status)
        .bind(attempts)
        .bind(next)
        .bind(status_code)
        .bind(if ok { Some(Clock::real_now() as i64) } else { None })
        .bind(c.id)
        .bind(c.lease)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO outbound_attempts (delivery_id, attempted_at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5)")
        .bind(c.id)
        .bind(attempted_at as i64)
        .bind(status_code)
        .bind(error.as_deref())
        .bind(duration_ms)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 1 {
        tx.commit().await?;
    }
    Ok(())
}

/// The wait before the next attempt: `base × 2^(attempts − 1)`, capped at
/// an hour, then a random point in its upper half (jitter, so retries of
/// many deliveries spread out).
pub fn backoff_ms(base: u64, attempts: u32) -> u64 {
    let full = base
        .saturating_mul(1u64 << attempts.saturating_sub(1).min(30))
        .min(MAX_BACKOFF_MS);
    let r = u64::from_le_bytes(random_bytes::<8>());
    full / 2 + r % (full / 2 + 1)
}

// -------------------------------------------------------------------- HTTP

/// One POST, no redirects followed; the answer's status code, or what
/// went wrong (a short description, never the body).
async fn post(
    url: &str,
    headers: &[(&str, String)],
    body: String,
    allow_private: bool,
) -> Result<u16, String> {
    tokio::time::timeout(
        ATTEMPT_TIMEOUT,
        post_inner(url, headers, body, allow_private),
    )
    .await
    .map_err(|_| "timed out".to_owned())?
}

async fn post_inner(
    url: &str,
    headers: &[(&str, String)],
    body: String,
    allow_private: bool,
) -> Result<u16, String> {
    use hyper_util::rt::TokioIo;
    let target = parse_url(url, allow_private).map_err(|e| e.to_string())?;
    let addrs = resolve(&target, allow_private)
        .await
        .map_err(|e| e.to_string())?;
    let mut stream = None;
    let mut last = String::new();
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                stream = Some(s);
                break;
            }
            Ok(Err(e)) => last = format!("connect: {}", e.kind()),
            Err(_) => last = "connect: timed out".to_owned(),
        }
    }
    let stream = stream.ok_or(last)?;
    let host_header =
        if (target.https && target.port == 443) || (!target.https && target.port == 80) {
            target.host.clone()
        } else {
            format!("{}:{}", target.host, target.port)
        };
    let request = {
        let mut b = axum::http::Request::post(target.path.as_str())
            .header("host", host_header)
            .header("content-type", "application/json")
            .header("user-agent", "referral-server-webhooks/1");
        for (name, value) in headers {
            b = b.header(*name, value.as_str());
        }
        b.body(http_body_full(body))
            .map_err(|_| "invalid request".to_owned())?
    };
    let status = if target.https {
        let tls = tls_connector();
        let name = rustls_name(&target.host)?;
        let stream = tls
            .connect(name, stream)
            .await
            .map_err(|e| format!("tls: {e}"))?;
        send(TokioIo::new(stream), request).await?
    } else {
        send(TokioIo::new(stream), request).await?
    };
    Ok(status)
}

type FullBody = axum::body::Body;

fn http_body_full(body: String) -> FullBody {
    axum::body::Body::from(body)
}

async fn send<T>(io: T, request: axum::http::Request<FullBody>) -> Result<u16, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("http: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("http: {e}"))?;
    Ok(response.status().as_u16())
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    static CONFIG: std::sync::OnceLock<Arc<tokio_rustls::rustls::ClientConfig>> =
        std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = tokio_rustls::rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth());
        // The ring provider supports the default versions.
        Arc::new(config.unwrap_or_else(|_| std::process::abort()))
    });
    tokio_rustls::TlsConnector::from(config.clone())
}

fn rustls_name(host: &str) -> Result<tokio_rustls::rustls::pki_types::ServerName<'static>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(tokio_rustls::rustls::pki_types::ServerName::IpAddress(
            ip.into(),
        ));
    }
    tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| "tls: invalid host name".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_forbidden(a.parse().unwrap()), "{a}");
        }
        for a in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(!is_forbidden(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn dates_and_backoff() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        for attempts in 1..10 {
            let full = (100u64 << (attempts - 1)).min(MAX_BACKOFF_MS);
            let b = backoff_ms(100, attempts);
            assert!(b >= full / 2 && b <= full, "{attempts}: {b}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://example.com/x", false).unwrap_err(),
            UrlError::NotHttps
        );
        assert_eq!(
            parse_url("https://u:p@example.com/x", false).unwrap_err(),
            UrlError::Credentials
        );
        let t = parse_url("https://[::1]:8443/hook?a=1", false).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 8443, "/hook?a=1")
        );
    }
}
