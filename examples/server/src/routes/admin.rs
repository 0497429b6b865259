//! The admin: sign-in (Argon2id passwords, server-side sessions that
//! expire and can be revoked, CSRF tokens), the funnel and review queue,
//! and API keys. Responses carry only what the admin screens show.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use referral_core::funnel::FunnelReport;
use serde::{Deserialize, Serialize};

use super::assets::serve_from;
use crate::auth::{self, Admin, ADMIN_COOKIE, ADMIN_SESSION};
use crate::error::{ApiError, ApiResult, Json};
use crate::rate_limit::Group;
use crate::store::{access, aggregates, people};
use crate::AppState;

pub fn router(state: AppState) -> Router<AppState> {
    let sign_in = Router::new()
        .route("/api/admin/session", post(sign_in))
        .route_layer(axum::middleware::from_fn_with_state(
            (state, Group::Auth),
            crate::rate_limit::limit,
        ));
    Router::new()
        .route("/admin", get(page))
        .route("/admin/sign-in", get(sign_in_page))
        .route("/api/admin/session", get(whoami).delete(sign_out))
        .route("/api/admin/sessions", delete(sign_out_everywhere))
        .route("/api/admin/funnel", get(admin_funnel))
        .route("/api/admin/api-keys", get(list_keys).post(create_key))
        .route("/api/admin/api-keys/{id}", delete(revoke_key))
        .merge(sign_in)
}

/// The admin page for a signed-in admin; everyone else goes to sign-in.
async fn page(State(state): State<AppState>, admin: Result<Admin, ApiError>) -> Response {
    match admin {
        Ok(_) => serve_from(&state.settings.web_dir, "admin.html").await,
        Err(_) => Redirect::to("/admin/sign-in").into_response(),
    }
}

async fn sign_in_page(State(state): State<AppState>) -> Response {
    serve_from(&state.settings.web_dir, "admin-sign-in.html").await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Serialize)]
pub struct SessionInfo {
    pub email: String,
    /// Demo mode: the page shows the demo clock.
    pub demo: bool,
    /// Send it back as `X-CSRF-Token` on every state change.
    pub csrf_token: String,
}

async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Credentials>,
) -> ApiResult<Response> {
    auth::check_origin(&state, &headers)?;
    let email = body.email.trim().to_ascii_lowercase();
    if email.len() > 254 || email.chars().any(char::is_control) || body.password.len() > 1024 {
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "wrong email or password",
        ));
    }
    let mut conn = state.db.pool.acquire().await?;
    let stored = access::admin_password_hash(&mut conn, &email).await?;
    drop(conn);
    let password = body.password;
    let check =
        tokio::task::spawn_blocking(move || auth::verify_password(&password, stored.as_deref()));
    if !check.await.map_err(ApiError::internal)? {
        tracing::info!(?email, "admin sign-in refused");
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "wrong email or password",
        ));
    }
    let session = auth::create_session(&state, ADMIN_COOKIE, ADMIN_SESSION, &email).await?;
    tracing::info!(?email, "admin signed in");
    Ok((
        [(header::SET_COOKIE, session.set_cookie)],
        Json(SessionInfo {
            email,
            demo: state.settings.demo,
            csrf_token: session.csrf_token,
        }),
    )
        .into_response())
}

async fn whoami(State(state): State<AppState>, admin: Admin) -> Json<SessionInfo> {
    Json(SessionInfo {
        email: admin.email,
        demo: state.settings.demo,
        csrf_token: admin.csrf_token,
    })
}

async fn sign_out(
    State(state): State<AppState>,
    _admin: Admin,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let clear = auth::end_session(&state, &headers, ADMIN_COOKIE).await?;
    Ok(([(header::SET_COOKIE, clear)], StatusCode::NO_CONTENT).into_response())
}

/// Revokes every session of the signed-in admin, this one included.
async fn sign_out_everywhere(State(state): State<AppState>, admin: Admin) -> ApiResult<Response> {
    let mut conn = state.db.pool.acquire().await?;
    access::delete_sessions_of(&mut conn, ADMIN_SESSION, &admin.email).await?;
    let clear = auth::session_cookie(&state, ADMIN_COOKIE, "", 0);
    Ok(([(header::SET_COOKIE, clear)], StatusCode::NO_CONTENT).into_response())
}

#[derive(Serialize)]
pub struct ReviewItem {
    pub referral_id: String,
    pub friend: String,
    pub referrer: Option<String>,
    /// Flag names only (`same_company_domain`, …).
    pub flags: Vec<String>,
}

#[derive(Serialize)]
pub struct AdminFunnel {
    pub funnel: FunnelReport,
    /// Referral lift against the experiment's holdout, overall and per
    /// variant (core's report from the counters).
    pub lift: referral_core::lift::ExperimentLift,
    pub review_queue: Vec<ReviewItem>,
}

async fn admin_funnel(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<Json<AdminFunnel>> {
    // Counters kept with each write, and the oldest flagged referrals: a
    // few index look-ups, whatever the size of the program.
    // One read transaction: every counter from the same moment.
    let mut conn = state.db.read_snapshot().await?;
    let counts = aggregates::funnel_counts(&mut conn).await?;
    let lift = crate::store::lift::report(&mut conn, &state.settings.nudge).await?;
    let review_queue = people::review_queue(&mut conn)
        .await?
        .into_iter()
        .map(|r| {
            let flags: Vec<referral_core::fraud::FraudFlag> =
                serde_json::from_str(&r.flags).unwrap_or_default();
            ReviewItem {
                referral_id: r.referral_id,
                friend: r.friend,
                referrer: r.referrer,
                flags: flags.iter().map(|f| f.code().to_owned()).collect(),
            }
        })
        .collect();
    Ok(Json(AdminFunnel {
        funnel: counts.report(),
        lift,
        review_queue,
    }))
}

#[derive(Serialize)]
pub struct ApiKeyInfo {
    pub id: String,
    pub name: String,
    pub created_at: u64,
    pub revoked_at: Option<u64>,
}

async fn list_keys(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<Json<Vec<ApiKeyInfo>>> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(Json(
        access::list_api_keys(&mut conn)
            .await?
            .into_iter()
            .map(|k| ApiKeyInfo {
                id: k.id,
                name: k.name,
                created_at: k.created_at,
                revoked_at: k.revoked_at,
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
}

#[derive(Serialize)]
pub struct CreatedKey {
    pub id: String,
    pub name: String,
    /// Shown once; only its hash is stored.
    pub key: String,
}

/// Creates an API key (shared by the admin UI and the CLI).
pub async fn create_api_key(state: &AppState, name: &str) -> ApiResult<CreatedKey> {
    let name = name.trim();
    if name.is_empty() || name.len() > 80 || name.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "invalid_name",
            "names have 1 to 80 characters",
        ));
    }
    let (key, id, hash) = auth::new_api_key();
    let mut conn = state.db.pool.acquire().await?;
    access::insert_api_key(&mut conn, &id, name, &hash, state.clock.now()).await?;
    Ok(CreatedKey {
        id,
        name: name.to_owned(),
        key,
    })
}

async fn create_key(
    State(state): State<AppState>,
    admin: Admin,
    Json(body): Json<NewKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let created = create_api_key(&state, &body.name).await?;
    tracing::info!(admin = ?admin.email, key = %created.id, "API key created");
    Ok((StatusCode::CREATED, Json(created)))
}

async fn revoke_key(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let mut conn = state.db.pool.acquire().await?;
    if !access::revoke_api_key(&mut conn, &id, state.clock.now()).await? {
        return Err(ApiError::not_found("no such live API key"));
    }
    tracing::info!(admin = ?admin.email, key = ?id, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}
