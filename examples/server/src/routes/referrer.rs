//! The friend's side: the referral landing (`/r/{code}`) and "You've been
//! referred by …" (`GET /api/v1/referrer`). Both verify the code first.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use referral_core::ReferrerId;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult, Json, Query};
use crate::rate_limit::Group;
use crate::store::people;
use crate::AppState;

pub const REF_COOKIE: &str = "referral_ref";

/// `code.capture_time.tag`: the tag (128 bits of HMAC-SHA256) makes the
/// capture time the service's, so nobody can stretch the attribution window
/// or reorder touches by editing the cookie.
pub fn ref_cookie_value(key: &[u8; 32], code: &str, captured_at: u64) -> String {
    let body = format!("{code}.{captured_at}");
    let tag = referral_core::keyring::hmac_sha256(key, body.as_bytes());
    format!("{body}.{}", hex::encode(&tag[..16]))
}

/// The code and capture time of a cookie value this service set; `None`
/// for anything else.
pub fn read_ref_cookie(key: &[u8; 32], value: &str) -> Option<(String, u64)> {
    use subtle::ConstantTimeEq;
    let (body, tag_hex) = value.rsplit_once('.')?;
    let tag = hex::decode(tag_hex).ok()?;
    let expected = referral_core::keyring::hmac_sha256(key, body.as_bytes());
    if tag.len() != 16 || !bool::from(tag.as_slice().ct_eq(&expected[..16])) {
        return None;
    }
    let (code, at) = body.rsplit_once('.')?;
    Some((code.to_owned(), at.parse().ok()?))
}

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/r/{code}", get(landing))
        .route("/r", get(landing_query))
        .route(
            "/api/v1/referrer",
            get(referrer_name)
                .options(super::preflight)
                .layer(super::cors(&state)),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            (state, Group::Lookups),
            crate::rate_limit::limit,
        ))
}

#[derive(Deserialize)]
struct RefQuery {
    #[serde(rename = "ref", default)]
    code: String,
}

/// `/r?ref=CODE`: the links core builds (`referral_url`) land here.
async fn landing_query(state: State<AppState>, Query(q): Query<RefQuery>) -> Response {
    landing(state, Path(q.code)).await
}

fn signup_url(state: &AppState, code: Option<&str>) -> String {
    let base = &state.settings.signup_url;
    match code {
        Some(code) => {
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}ref={code}")
        }
        None => base.clone(),
    }
}

/// Sets the first-party, HttpOnly referral cookie (a 90-day window holds
/// only with a cookie the server sets) and sends the friend to the host's
/// signup page with the code, for the page's own capture.
async fn landing(State(state): State<AppState>, Path(code): Path<String>) -> Response {
    let now = state.clock.now();
    if code.len() > 256 || state.settings.verifier.verify(&code, now).is_err() {
        return Redirect::to(&signup_url(&state, None)).into_response();
    }
    let secure = if state.settings.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let set = format!(
        "{REF_COOKIE}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        ref_cookie_value(&state.settings.ref_cookie_key, &code, now),
        state.settings.policy.window_secs
    );
    (
        [(header::SET_COOKIE, set)],
        Redirect::to(&signup_url(&state, Some(&code))),
    )
        .into_response()
}

#[derive(Deserialize)]
struct CodeQuery {
    code: String,
}

#[derive(Serialize)]
pub struct ReferrerName {
    /// The name the referrer agreed to show, or null.
    pub name: Option<String>,
}

/// The referrer's display name for a verified code, only if they agreed
/// to show it.
async fn referrer_name(
    State(state): State<AppState>,
    Query(q): Query<CodeQuery>,
) -> ApiResult<Json<ReferrerName>> {
    if q.code.len() > 256 {
        return Err(ApiError::bad("malformed", "code too long"));
    }
    let claims = state
        .settings
        .verifier
        .verify(&q.code, state.clock.now())
        .map_err(|e| ApiError::bad(e.reason(), e.to_string()))?;
    let ReferrerId::Numeric(numeric) = claims.claims().referrer else {
        return Err(ApiError::not_found("no such referrer"));
    };
    let numeric = i64::try_from(numeric).map_err(|_| ApiError::not_found("no such referrer"))?;
    let mut conn = state.db.pool.acquire().await?;
    let user = people::user_by_numeric(&mut conn, numeric)
        .await?
        .ok_or_else(|| ApiError::not_found("no such referrer"))?;
    Ok(Json(ReferrerName {
        name: user.display_name.filter(|_| user.share_name),
    }))
}
