//! Data rights: the host exports or erases what the service keeps about
//! one of its users (server API, API key), on that person's request.
//!
//! - `GET /api/v1/users/{id}/export`: everything stored about the person,
//!   as JSON: the user row, the referral that brought them and the ones
//!   they made, their rewards (as referrer and as friend), their widget
//!   events, their nudge state, and the billing ids linked to them.
//! - `DELETE /api/v1/users/{id}`: erases in one transaction: the email and
//!   name (the `users` row stays, marked erased, so the program's
//!   accounting still adds up), widget events, nudge state, event quota,
//!   billing links and pending billing events, sessions. Kept: the host's
//!   account id where the ledger, referrals and counters name it (the
//!   host's own pseudonymous id: use an opaque one, never an email), and
//!   the ledger's money records. Erasing twice answers the same.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use sqlx::Row;

use crate::auth::ApiKey;
use crate::error::{ApiError, ApiResult, Json};
use crate::store::{ledger, people};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/users/{id}/export", get(export))
}

/// `DELETE /api/v1/users/{id}` (mounted with the users router's `PUT`).
pub async fn erase(
    State(state): State<AppState>,
    _key: ApiKey,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    super::users::check_external_id(&id)?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    state.db.lock_account(&mut tx, &id).await?;
    let row = sqlx::query("SELECT erased_at FROM users WHERE external_id = $1")
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "unknown_user",
                "no such user",
            )
        })?;
    if let Some(at) = row.try_get::<Option<i64>, _>("erased_at")? {
        return Ok(Json(json!({ "id": id, "erased_at": at })));
    }
    // The normalised email must stay unique-free and match no one: a
    // value no real address normalises to.
    sqlx::query("UPDATE users SET email = '', normalized_email = 'erased:' || external_id, email_domain = '', display_name = NULL, share_name = 0, erased_at = $1 WHERE external_id = $2")
        .bind(now as i64)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    for statement in [
        "DELETE FROM events WHERE user_id = $1",
        "DELETE FROM nudge_states WHERE user_id = $1",
        "DELETE FROM event_quota WHERE user_id = $1",
        "DELETE FROM billing_links WHERE account = $1",
        "DELETE FROM pending_billing_events WHERE account_id = $1",
        "DELETE FROM sessions WHERE subject = $1",
    ] {
        sqlx::query(statement).bind(&id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(Json(json!({ "id": id, "erased_at": now })))
}

async fn export(
    State(state): State<AppState>,
    _key: ApiKey,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    super::users::check_external_id(&id)?;
    // One snapshot: the parts agree with each other.
    let mut conn = state.db.read_snapshot().await?;
    let user = sqlx::query("SELECT external_id, email, display_name, share_name, referred_by, created_at, erased_at FROM users WHERE external_id = $1")
        .bind(&id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ApiError::new(axum::http::StatusCode::NOT_FOUND, "unknown_user", "no such user"))?;
    let referral = |r: &sqlx::any::AnyRow| -> Result<Value, sqlx::Error> {
        Ok(json!({
            "id": r.try_get::<String, _>("id")?,
            "friend": r.try_get::<String, _>("friend_account")?,
            "referrer": r.try_get::<Option<String>, _>("referrer_account")?,
            "channel": r.try_get::<Option<String>, _>("channel")?,
            "outcome": r.try_get::<String, _>("outcome")?,
            "created_at": r.try_get::<i64, _>("created_at")?,
        }))
    };
    const REFERRAL: &str =
        "SELECT id, friend_account, referrer_account, channel, outcome, created_at FROM referrals";
    let referred_by = sqlx::query(&format!("{REFERRAL} WHERE friend_account = $1"))
        .bind(&id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(referral)
        .transpose()?;
    let referrals = sqlx::query(&format!(
        "{REFERRAL} WHERE referrer_account = $1 ORDER BY created_at, id"
    ))
    .bind(&id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(referral)
    .collect::<Result<Vec<_>, _>>()?;
    let events = sqlx::query(
        "SELECT id, type, channel, moment, at FROM events WHERE user_id = $1 ORDER BY at, id",
    )
    .bind(&id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(json!({
            "id": r.try_get::<String, _>("id")?,
            "type": r.try_get::<String, _>("type")?,
            "channel": r.try_get::<Option<String>, _>("channel")?,
            "moment": r.try_get::<Option<String>, _>("moment")?,
            "at": r.try_get::<i64, _>("at")?,
        }))
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let nudge_state = people::nudge_state(&mut conn, &id)
        .await?
        .and_then(|(text, _)| serde_json::from_str::<Value>(&text).ok());
    let billing_ids = sqlx::query(
        "SELECT external_id FROM billing_links WHERE account = $1 ORDER BY external_id",
    )
    .bind(&id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| r.try_get::<String, _>("external_id"))
    .collect::<Result<Vec<_>, _>>()?;
    // Rewards: as a referrer (their own ledger) and as a friend (the
    // referral that brought them), the entries that are theirs.
    let now = state.clock.now();
    let ledgers = ledger::ledgers_of(&mut conn, &id)
        .await
        .map_err(ApiError::internal)?;
    let rewards: Vec<Value> = ledgers
        .iter()
        .flat_map(|l| {
            l.entries
                .iter()
                .filter(|e| e.beneficiary == id)
                .map(move |e| json!({ "entry": e, "status": l.status(e, now) }))
        })
        .collect();
    Ok(Json(json!({
        "user": {
            "id": user.try_get::<String, _>("external_id")?,
            "email": user.try_get::<String, _>("email")?,
            "display_name": user.try_get::<Option<String>, _>("display_name")?,
            "share_name": user.try_get::<i64, _>("share_name")? != 0,
            "referred_by": user.try_get::<Option<String>, _>("referred_by")?,
            "created_at": user.try_get::<i64, _>("created_at")?,
            "erased_at": user.try_get::<Option<i64>, _>("erased_at")?,
        },
        "referred_by": referred_by,
        "referrals": referrals,
        "rewards": rewards,
        "events": events,
        "nudge_state": nudge_state,
        "billing_ids": billing_ids,
    })))
}
