//! `GET`/`PUT /api/v1/me/nudge-state` (browser API): the person's nudge
//! state, kept by the service so that "don't ask again" and the ask history
//! follow the person, not the browser. Writes use optimistic concurrency:
//! `If-Match: "<version>"` (`"0"` for the first); a stale version answers
//! `412` with the stored state, which the widget merges with its own by
//! core's rule (`merge_states`) and sends again. The service checks what it
//! stores with core's reader and merges the stored state into every write,
//! so nothing a client sends can undo an opt-out.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use referral_core::nudge::NudgeState;
use serde::{Deserialize, Serialize};

use crate::auth::User;
use crate::error::{ApiError, ApiResult, Json};
use crate::rate_limit::Group;
use crate::store::people;
use crate::{AppState, Clock};

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/me/nudge-state",
            get(read).put(write).options(super::preflight),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::browser_write,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), Group::Events),
            crate::rate_limit::limit,
        ))
        .layer(super::cors(&state))
}

#[derive(Serialize)]
pub struct StoredState {
    /// Core's `NudgeState` as JSON, or null before the first write.
    pub state: Option<serde_json::Value>,
    pub version: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewState {
    pub state: serde_json::Value,
}

fn answer(status: StatusCode, stored: Option<(String, i64)>) -> ApiResult<Response> {
    let (state, version) = match stored {
        Some((text, version)) => (
            Some(serde_json::from_str(&text).map_err(ApiError::internal)?),
            version,
        ),
        None => (None, 0),
    };
    Ok((
        status,
        [(header::ETAG, format!("\"{version}\""))],
        Json(StoredState { state, version }),
    )
        .into_response())
}

async fn read(State(state): State<AppState>, User(user): User) -> ApiResult<Response> {
    let mut conn = state.db.pool.acquire().await?;
    answer(
        StatusCode::OK,
        people::nudge_state(&mut conn, &user.subject).await?,
    )
}

fn expected_version(headers: &HeaderMap) -> ApiResult<i64> {
    let value = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::PRECONDITION_REQUIRED,
                "if_match_required",
                "send If-Match: \"<version>\" (\"0\" for the first write)",
            )
        })?;
    value
        .trim()
        .trim_matches('"')
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| {
            ApiError::bad(
                "invalid_if_match",
                "If-Match must be a version from an ETag",
            )
        })
}

async fn write(
    State(state): State<AppState>,
    User(user): User,
    headers: HeaderMap,
    Json(body): Json<NewState>,
) -> ApiResult<Response> {
    let expected = expected_version(&headers)?;
    // Core reads it (any known version, migrated, bounded) or refuses it.
    let text = body.state.to_string();
    let parsed = NudgeState::from_json(&text)
        .map_err(|e| ApiError::unprocessable(e.reason(), e.to_string()))?;
    if parsed.user_id != referral_core::nudge::NudgeState::new(&user.subject).user_id {
        return Err(ApiError::forbidden(
            "wrong_user",
            "the state belongs to another user",
        ));
    }
    let mut tx = state.db.begin().await?;
    // What is stored is merged in too (core's rule), so no write, however
    // stale or broken its client, can take back an opt-out or a referral.
    let canonical = match people::nudge_state(&mut tx, &user.subject).await? {
        Some((stored, _)) => match NudgeState::from_json(&stored) {
            Ok(stored) => referral_core::nudge::merge_states(&stored, &parsed)
                .map_err(|e| ApiError::unprocessable(e.reason(), e.to_string()))?
                .to_json(),
            Err(_) => parsed.to_json(),
        },
        None => parsed.to_json(),
    };
    let written = people::put_nudge_state(
        &mut tx,
        &user.subject,
        &canonical,
        expected,
        Clock::real_now(),
    )
    .await?;
    match written {
        Some(version) => {
            tx.commit().await?;
            answer(StatusCode::OK, Some((canonical, version)))
        }
        None => {
            // Another browser wrote first: here is what it wrote.
            let current = people::nudge_state(&mut tx, &user.subject).await?;
            answer(StatusCode::PRECONDITION_FAILED, current)
        }
    }
}
