//! `POST /api/v1/me/events` (browser API): the widget's events, stored
//! idempotently per user (an id is the browser's, unique for its user).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};

use crate::auth::User;
use crate::error::{ApiError, ApiResult, Json};
use crate::rate_limit::Group;
use crate::store::ingest;
use crate::{AppState, Clock};

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/me/events", post(events).options(super::preflight))
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    pub events: Vec<IncomingEvent>,
}

/// The widget sends other details (surface, …) too; they are not stored.
#[derive(Deserialize)]
pub struct IncomingEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub at: u64,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub moment: Option<String>,
}

#[derive(Serialize)]
pub struct Accepted {
    pub accepted: u32,
    pub duplicates: u32,
}

const MAX_BATCH: usize = 500;

fn short(field: &str, value: Option<&str>, max: usize) -> ApiResult<()> {
    match value {
        Some(v) if v.len() > max || v.chars().any(char::is_control) => Err(ApiError::bad(
            "invalid_event",
            format!("{field}: at most {max} characters, no control characters"),
        )),
        _ => Ok(()),
    }
}

async fn events(
    State(state): State<AppState>,
    User(user): User,
    Json(batch): Json<EventBatch>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    if batch.events.len() > MAX_BATCH {
        return Err(ApiError::bad(
            "batch_too_large",
            "at most 500 events a batch",
        ));
    }
    for e in &batch.events {
        if e.id.is_empty() || e.kind.is_empty() {
            return Err(ApiError::bad("invalid_event", "id and type are required"));
        }
        short("id", Some(&e.id), 64)?;
        short("type", Some(&e.kind), 32)?;
        short("channel", e.channel.as_deref(), 32)?;
        short("moment", e.moment.as_deref(), 64)?;
        if e.at > i64::MAX as u64 {
            return Err(ApiError::bad(
                "invalid_event",
                "at: seconds since the epoch",
            ));
        }
    }
    let mut duplicates = 0;
    // Inserted in id order (and each id once), so concurrent batches with
    // overlapping ids take their row locks in the same order: no deadlock.
    let mut order: Vec<&IncomingEvent> = batch.events.iter().collect();
    order.sort_by(|a, b| a.id.cmp(&b.id));
    let unique = order.len();
    order.dedup_by(|a, b| a.id == b.id);
    duplicates += (unique - order.len()) as u32;
    let events = order
        .into_iter()
        .map(|e| ingest::Event {
            id: e.id.clone(),
            kind: e.kind.clone(),
            channel: e.channel.clone(),
            moment: e.moment.clone(),
            at: e.at,
        })
        .collect();
    // Acknowledged only once committed: an acknowledged event is durable.
    let stored = state
        .ingest
        .store(
            &user.subject,
            events,
            Clock::real_now(),
            // Far above what a person's widget sends, low enough that one
            // token cannot fill the disk (EVENTS_PER_USER_PER_DAY).
            state.settings.events_per_user_per_day,
        )
        .await?;
    let ingest::Stored::Accepted {
        accepted,
        duplicates: stored_duplicates,
    } = stored
    else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "event_quota",
            "this user sent too many events today",
        ));
    };
    duplicates += stored_duplicates;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            accepted,
            duplicates,
        }),
    ))
}
