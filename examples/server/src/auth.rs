//! Who is calling: the signed-in admin (server-side session + CSRF token),
//! the host's backend (API key), the widget (user token), and password
//! hashing (Argon2id). See `docs/adr/0001-service-and-host.md`.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use referral_core::{UserTokenClaims, UserTokenPolicy};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::store::{access, random_bytes, sha256_hex};
use crate::AppState;

pub const ADMIN_COOKIE: &str = "referral_admin";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const ADMIN_SESSION: &str = "admin";

pub fn hash_password(password: &str) -> ApiResult<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).map_err(ApiError::internal)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

/// Checks a password against a stored hash; `None` (no such account) still
/// runs a hash so timing does not tell which emails exist.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
    let hash = stored.unwrap_or(dummy);
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && stored.is_some()
}

pub fn check_new_password(password: &str) -> ApiResult<()> {
    if password.chars().count() < 12 || password.len() > 1024 {
        return Err(ApiError::bad(
            "weak_password",
            "passwords need 12 to 1024 characters",
        ));
    }
    Ok(())
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A new session: the cookie to set and its CSRF token.
pub struct NewSession {
    pub set_cookie: String,
    pub csrf_token: String,
}

pub async fn create_session(
    state: &AppState,
    cookie_name: &str,
    kind: &str,
    subject: &str,
) -> ApiResult<NewSession> {
    let token = hex::encode(random_bytes::<32>());
    let csrf_token = hex::encode(random_bytes::<16>());
    let now = crate::Clock::real_now();
    let ttl = state.settings.session_hours * 3600;
    let mut conn = state.db.pool.acquire().await?;
    access::delete_expired_sessions(&mut conn, now).await?;
    access::insert_session(
        &mut conn,
        &sha256_hex(token.as_bytes()),
        kind,
        subject,
        &csrf_token,
        now,
        now + ttl,
    )
    .await?;
    Ok(NewSession {
        set_cookie: session_cookie(state, cookie_name, &token, ttl),
        csrf_token,
    })
}

pub fn session_cookie(state: &AppState, name: &str, value: &str, max_age: u64) -> String {
    let secure = if state.settings.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// Ends the session named by the request's cookie; returns the cookie that
/// clears it.
pub async fn end_session(
    state: &AppState,
    headers: &HeaderMap,
    cookie_name: &str,
) -> ApiResult<String> {
    if let Some(token) = cookie(headers, cookie_name) {
        let mut conn = state.db.pool.acquire().await?;
        access::delete_session(&mut conn, &sha256_hex(token.as_bytes())).await?;
    }
    Ok(session_cookie(state, cookie_name, "", 0))
}

/// The live session a cookie names. State changes (anything but GET and
/// HEAD) must also carry the session's CSRF token in `X-CSRF-Token` and,
/// when the browser sends one, an `Origin` of this service.
pub async fn session_from(
    state: &AppState,
    parts: &Parts,
    cookie_name: &str,
    kind: &str,
) -> ApiResult<access::Session> {
    let token = cookie(&parts.headers, cookie_name)
        .ok_or_else(|| ApiError::unauthorized("not_signed_in", "sign in first"))?;
    let mut conn = state.db.pool.acquire().await?;
    let session = access::session(
        &mut conn,
        &sha256_hex(token.as_bytes()),
        kind,
        crate::Clock::real_now(),
    )
    .await?
    .ok_or_else(|| ApiError::unauthorized("not_signed_in", "the session ended; sign in again"))?;
    if parts.method != Method::GET && parts.method != Method::HEAD {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !bool::from(sent.as_bytes().ct_eq(session.csrf_token.as_bytes())) {
            return Err(ApiError::forbidden("csrf", "missing or wrong X-CSRF-Token"));
        }
        check_origin(state, &parts.headers)?;
    }
    Ok(session)
}

/// Browsers send `Origin` on every cross-origin request and every POST;
/// when present it must be this service's or an allowed one.
pub fn check_origin(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        None => Ok(()),
        Some(Ok(origin)) if state.settings.allowed_origins.iter().any(|o| o == origin) => Ok(()),
        Some(_) => Err(ApiError::forbidden(
            "origin_not_allowed",
            "this origin may not call the service",
        )),
    }
}

/// The signed-in admin (by email).
pub struct Admin {
    pub email: String,
    pub csrf_token: String,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let session = session_from(state, parts, ADMIN_COOKIE, ADMIN_SESSION).await?;
        Ok(Admin {
            email: session.subject,
            csrf_token: session.csrf_token,
        })
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The host's backend, by API key (`Authorization: Bearer rk_<id>_<secret>`).
pub struct ApiKey {
    pub id: String,
}

pub fn new_api_key() -> (String, String, String) {
    let id = hex::encode(random_bytes::<6>());
    let secret = hex::encode(random_bytes::<24>());
    let hash = sha256_hex(secret.as_bytes());
    (format!("rk_{id}_{secret}"), id, hash)
}

impl FromRequestParts<AppState> for ApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let invalid = || ApiError::unauthorized("invalid_api_key", "a valid API key is required");
        let key = bearer(&parts.headers).ok_or_else(invalid)?;
        let (id, secret) = key
            .strip_prefix("rk_")
            .and_then(|k| k.split_once('_'))
            .filter(|(id, s)| id.len() <= 32 && s.len() <= 128)
            .ok_or_else(invalid)?;
        let mut conn = state.db.pool.acquire().await?;
        let stored = access::api_key_hash(&mut conn, id)
            .await?
            .ok_or_else(invalid)?;
        let sent = sha256_hex(secret.as_bytes());
        if !bool::from(sent.as_bytes().ct_eq(stored.as_bytes())) {
            return Err(invalid());
        }
        state.limits.api.check(&id.to_owned())?;
        Ok(ApiKey { id: id.to_owned() })
    }
}

/// The widget's user, by user token (`Authorization: Bearer ut1.…`),
/// verified by core against this service's audience.
pub struct User(pub UserTokenClaims);

impl FromRequestParts<AppState> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized("missing_user_token", "a user token is required")
        })?;
        let policy = UserTokenPolicy {
            audience: state.settings.public_url.clone(),
            max_clock_skew_secs: 300,
        };
        let claims = state
            .settings
            .user_tokens
            .verify_user_token(token, &policy, crate::Clock::real_now())
            .map_err(|e| ApiError::unauthorized(invalid_token_code(e.reason()), e.to_string()))?;
        // One user cannot flood from many addresses either.
        state.limits.per_user.check(&claims.subject)?;
        Ok(User(claims))
    }
}

fn invalid_token_code(reason: &str) -> &'static str {
    match reason {
        "expired" => "user_token_expired",
        "wrong_audience" => "user_token_wrong_audience",
        _ => "invalid_user_token",
    }
}
