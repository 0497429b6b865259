//! Admin: outbound webhook endpoints (add, list, remove, rotate the
//! secret), recent deliveries with every attempt, and redelivery. Admin
//! session + CSRF like the rest of the admin (`crate::outbound` sends).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::auth::Admin;
use crate::error::{ApiError, ApiResult, Json};
use crate::outbound::{self, StoredSecret, EVENT_TYPES};
use crate::store::{random_id, values_placeholders};
use crate::{AppState, Clock};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/admin/webhooks",
            get(list_endpoints).post(add_endpoint),
        )
        .route("/api/admin/webhooks/{id}", delete(remove_endpoint))
        .route("/api/admin/webhooks/{id}/rotate", post(rotate_secret))
        .route("/api/admin/webhook-deliveries", get(list_deliveries))
        .route(
            "/api/admin/webhook-deliveries/{id}/redeliver",
            post(redeliver),
        )
}

#[derive(Serialize)]
pub struct EndpointInfo {
    pub id: String,
    pub url: String,
    /// Empty: every event type.
    pub event_types: Vec<String>,
    pub created_at: u64,
    /// Secrets that sign now (2 during a rotation's overlap).
    pub active_secrets: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEndpoint {
    url: String,
    #[serde(default)]
    event_types: Vec<String>,
}

#[derive(Serialize)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: EndpointInfo,
    /// The signing secret (`whsec_…`): shown in this answer only.
    pub secret: String,
}

fn active(secrets: &[StoredSecret], now: u64) -> Vec<StoredSecret> {
    secrets
        .iter()
        .filter(|s| s.expires_at.is_none_or(|e| e > now))
        .cloned()
        .collect()
}

async fn list_endpoints(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<Json<Vec<EndpointInfo>>> {
    let mut conn = state.db.read.acquire().await?;
    let rows = sqlx::query(
        "SELECT id, url, event_types, secrets, created_at FROM webhook_endpoints ORDER BY created_at, id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let now = Clock::real_now();
    let mut out = Vec::new();
    for row in rows {
        let secrets: Vec<StoredSecret> =
            serde_json::from_str(&row.try_get::<String, _>("secrets")?).unwrap_or_default();
        out.push(EndpointInfo {
            id: row.try_get("id")?,
            url: row.try_get("url")?,
            event_types: serde_json::from_str(&row.try_get::<String, _>("event_types")?)
                .unwrap_or_default(),
            created_at: row.try_get::<i64, _>("created_at")? as u64,
            active_secrets: active(&secrets, now).len(),
        });
    }
    Ok(Json(out))
}

async fn add_endpoint(
    State(state): State<AppState>,
    admin: Admin,
    Json(body): Json<NewEndpoint>,
) -> ApiResult<(StatusCode, Json<CreatedEndpoint>)> {
    let url = body.url.trim().to_owned();
    outbound::validate_url(&url, state.settings.outbound.allow_private_urls)
        .await
        .map_err(|e| ApiError::unprocessable(e.code(), e.to_string()))?;
    let mut types = body.event_types;
    types.sort();
    types.dedup();
    if let Some(bad) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
        let shown: String = bad.chars().take(40).collect();
        return Err(ApiError::bad(
            "unknown_event_type",
            format!("{shown:?} is not one of {}", EVENT_TYPES.join(", ")),
        ));
    }
    let id = random_id("we");
    let secret = outbound::new_secret();
    let secrets = vec![StoredSecret {
        secret: secret.clone(),
        expires_at: None,
    }];
    let now = Clock::real_now();
    let mut tx = state.db.begin().await?;
    sqlx::query("INSERT INTO webhook_endpoints (id, url, event_types, secrets, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(&url)
        .bind(serde_json::to_string(&types).map_err(ApiError::internal)?)
        .bind(serde_json::to_string(&secrets).map_err(ApiError::internal)?)
        .bind(now as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(admin = ?admin.email, endpoint = %id, "webhook endpoint added");
    Ok((
        StatusCode::CREATED,
        Json(CreatedEndpoint {
            endpoint: EndpointInfo {
                id,
                url,
                event_types: types,
                created_at: now,
                active_secrets: 1,
            },
            secret,
        }),
    ))
}

async fn remove_endpoint(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    let gone = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    if gone.rows_affected() == 0 {
        return Err(ApiError::not_found("no such webhook endpoint"));
    }
    // What was still to be sent there will not be.
    sqlx::query("UPDATE outbound_deliveries SET status = 'failed', lease_until = NULL WHERE endpoint_id = $1 AND status = 'pending'")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(admin = ?admin.email, endpoint = ?id, "webhook endpoint removed");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub struct Rotated {
    /// The new secret (shown once); the previous one keeps signing until
    /// `previous_expires_at`, so receivers can switch without a gap.
    pub secret: String,
    pub previous_expires_at: u64,
}

async fn rotate_secret(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Rotated>> {
    let now = Clock::real_now();
    let mut tx = state.db.begin().await?;
    let select = match state.db.backend {
        crate::store::Backend::Postgres => {
            "SELECT secrets FROM webhook_endpoints WHERE id = $1 FOR UPDATE"
        }
        crate::store::Backend::Sqlite => "SELECT secrets FROM webhook_endpoints WHERE id = $1",
    };
    let row = sqlx::query(select)
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found("no such webhook endpoint"))?;
    let stored: Vec<StoredSecret> =
        serde_json::from_str(&row.try_get::<String, _>("secrets")?).map_err(ApiError::internal)?;
    let expires = now + outbound::ROTATION_OVERLAP_SECS;
    let secret = outbound::new_secret();
    let mut secrets = vec![StoredSecret {
        secret: secret.clone(),
        expires_at: None,
    }];
    // Earlier secrets sign until the overlap ends (at the latest).
    secrets.extend(active(&stored, now).into_iter().map(|s| StoredSecret {
        expires_at: Some(s.expires_at.map_or(expires, |e| e.min(expires))),
        secret: s.secret,
    }));
    sqlx::query("UPDATE webhook_endpoints SET secrets = $1 WHERE id = $2")
        .bind(serde_json::to_string(&secrets).map_err(ApiError::internal)?)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(admin = ?admin.email, endpoint = ?id, "webhook secret rotated");
    Ok(Json(Rotated {
        secret,
        previous_expires_at: expires,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryQuery {
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Serialize)]
pub struct Attempt {
    pub attempted_at: u64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[derive(Serialize)]
pub struct Delivery {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub endpoint_id: String,
    pub url: Option<String>,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    /// Milliseconds since the epoch, while pending.
    pub next_attempt_at: Option<i64>,
    pub created_at: u64,
    pub delivered_at: Option<u64>,
    pub attempt_log: Vec<Attempt>,
}

async fn list_deliveries(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<Json<Vec<Delivery>>> {
    let limit = i64::from(q.limit.unwrap_or(50).clamp(1, 200));
    let mut conn = state.db.read_snapshot().await?;
    let rows = sqlx::query(
        "SELECT d.id, d.event_id, e.event_type, d.endpoint_id, w.url, d.status, d.attempts, d.next_attempt_at, d.created_at, d.delivered_at \
         FROM outbound_deliveries d JOIN outbound_events e ON e.id = d.event_id \
         LEFT JOIN webhook_endpoints w ON w.id = d.endpoint_id \
         ORDER BY d.id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::new();
    for row in rows {
        let status: String = row.try_get("status")?;
        out.push(Delivery {
            id: row.try_get("id")?,
            event_id: row.try_get("event_id")?,
            event_type: row.try_get("event_type")?,
            endpoint_id: row.try_get("endpoint_id")?,
            url: row.try_get("url")?,
            next_attempt_at: (status == "pending")
                .then(|| row.try_get::<i64, _>("next_attempt_at"))
                .transpose()?,
            status,
            attempts: row.try_get("attempts")?,
            created_at: row.try_get::<i64, _>("created_at")? as u64,
            delivered_at: row
                .try_get::<Option<i64>, _>("delivered_at")?
                .map(|t| t as u64),
            attempt_log: Vec::new(),
        });
    }
    if !out.is_empty() {
        let sql = format!(
            "SELECT delivery_id, attempted_at, status_code, error, duration_ms FROM outbound_attempts WHERE delivery_id IN ({}) ORDER BY id",
            values_placeholders(out.len(), 1)
        );
        let mut query = sqlx::query(&sql);
        for d in &out {
            query = query.bind(d.id);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let delivery: i64 = row.try_get("delivery_id")?;
            if let Some(d) = out.iter_mut().find(|d| d.id == delivery) {
                d.attempt_log.push(Attempt {
                    attempted_at: row.try_get::<i64, _>("attempted_at")? as u64,
                    status_code: row.try_get("status_code")?,
                    error: row.try_get("error")?,
                    duration_ms: row.try_get("duration_ms")?,
                });
            }
        }
    }
    conn.commit().await?;
    Ok(Json(out))
}

/// Sends a delivery again (same `webhook-id`, so receivers can tell it is
/// the same message), now, with a fresh count of attempts.
async fn redeliver(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    let updated = sqlx::query("UPDATE outbound_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, lease_until = NULL WHERE id = $2 AND endpoint_id IN (SELECT id FROM webhook_endpoints)")
        .bind(outbound::now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(ApiError::not_found(
            "no such delivery (or its endpoint was removed)",
        ));
    }
    tx.commit().await?;
    tracing::info!(admin = ?admin.email, delivery = id, "webhook redelivery");
    Ok(StatusCode::ACCEPTED)
}
