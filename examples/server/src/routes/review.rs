//! Review decisions (admin session + CSRF): a person approves or rejects a
//! flagged referral, or attributes a signup to a referrer by hand. Each is
//! a core ledger event (idempotent by its id), applied in one transaction
//! with the referral's row, the outbound notification and an audit log
//! entry (who, when, what, why), which the admin page shows.
//!
//! - `POST /api/admin/referrals/{id}/decision {decision, reason}`:
//!   `approve` (core's `Approved`: the rewards held for review go on) or
//!   `reject` (core's `Reversal` `fraud_confirmed`: rewards reversed, the
//!   referral earns no more and cannot be approved after). The same
//!   decision again answers the same; the other one is refused.
//! - `POST /api/admin/referrals {friend, referrer, reason}`: a signup the
//!   attribution missed, attributed by hand (core's `Attributed`).
//! - `POST /api/admin/referrals/{id}/adjustments {adjustment_id, side,
//!   amount_minor, currency, reason}`: a manual adjustment (core's
//!   `Adjustment`: signed, payable at once, not a reward); the client's
//!   `adjustment_id` makes a retry a duplicate.
//! - `GET /api/admin/audit`: the latest 200 entries.
//! - `GET /api/admin/exports/referrals.csv` and `…/rewards.csv`: every
//!   referral, and every reward entry with its status now, for finance
//!   (RFC 4180; cells that a spreadsheet would run as a formula are
//!   quoted with a leading `'`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use referral_core::funnel::Stage;
use referral_core::rewards::{Applied, LedgerEvent, Money, ReversalReason, Side};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::webhooks::{ledger_refusal, retryable};
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult, Json};
use crate::outbound;
use crate::store::{aggregates, ledger, people, random_id, Tx};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/referrals/{id}/decision", post(decide))
        .route("/api/admin/referrals", post(attribute_by_hand))
        .route("/api/admin/referrals/{id}/adjustments", post(adjust))
        .route("/api/admin/audit", get(audit))
        .route("/api/admin/exports/referrals.csv", get(referrals_csv))
        .route("/api/admin/exports/rewards.csv", get(rewards_csv))
}

fn check_reason(reason: &str) -> ApiResult<()> {
    if reason.trim().is_empty() || reason.len() > 500 || reason.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "invalid_reason",
            "a reason: 1 to 500 characters, no control characters",
        ));
    }
    Ok(())
}

async fn write_audit(
    tx: &mut Tx,
    admin: &str,
    action: &str,
    subject: &str,
    reason: &str,
    detail: &serde_json::Value,
    now: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_log (at, admin, action, subject, reason, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(now as i64)
        .bind(admin)
        .bind(action)
        .bind(subject)
        .bind(reason)
        .bind(detail.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Core applies the admin's ledger event in the request's transaction;
/// the counter changes are written by the caller with its own.
async fn apply(
    state: &AppState,
    tx: &mut Tx,
    event: &LedgerEvent,
    now: u64,
) -> ApiResult<(Applied, aggregates::Bumps)> {
    let mut bumps = aggregates::Bumps::default();
    let applied = ledger::apply(
        &state.db,
        tx,
        &mut bumps,
        &state.settings.program,
        event,
        now,
    )
    .await
    .map_err(ledger_refusal)?;
    Ok((applied, bumps))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    decision: String,
    reason: String,
}

#[derive(Serialize)]
struct Decided {
    referral_id: String,
    decision: String,
    applied: Applied,
}

async fn decide(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Json(body): Json<Decision>,
) -> ApiResult<Json<Decided>> {
    check_reason(&body.reason)?;
    let approve = match body.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            return Err(ApiError::bad(
                "invalid_decision",
                "decision: approve or reject",
            ))
        }
    };
    let decision = if approve { "approved" } else { "rejected" };
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let row = sqlx::query(
        "SELECT friend_account, referrer_account, review, decision FROM referrals WHERE id = $1",
    )
    .bind(&id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_referral",
            "no such referral",
        )
    })?;
    let friend: String = row.try_get("friend_account")?;
    let referrer: Option<String> = row.try_get("referrer_account")?;
    let Some(referrer) = referrer else {
        return Err(ApiError::conflict(
            "not_attributed",
            "the signup was not attributed",
        ));
    };
    state.db.lock_account(&mut tx, &friend).await?;
    match row.try_get::<Option<String>, _>("decision")?.as_deref() {
        Some(earlier) if earlier == decision => {
            return Ok(Json(Decided {
                referral_id: id,
                decision: decision.to_owned(),
                applied: Applied::Duplicate,
            }))
        }
        Some(_) => {
            return Err(ApiError::conflict(
                "already_decided",
                "the referral was decided the other way",
            ))
        }
        None => {}
    }
    if row.try_get::<i64, _>("review")? == 0 {
        return Err(ApiError::conflict(
            "not_in_review",
            "the referral was not flagged",
        ));
    }
    let event = if approve {
        LedgerEvent::Approved {
            event_id: format!("approve:{id}"),
            referral_id: id.clone(),
            at: now,
        }
    } else {
        LedgerEvent::Reversal {
            event_id: format!("reject:{id}"),
            referral_id: id.clone(),
            at: now,
            reason: ReversalReason::FraudConfirmed,
        }
    };
    let (applied, bumps) = apply(&state, &mut tx, &event, now).await?;
    sqlx::query("UPDATE referrals SET decision = $1 WHERE id = $2")
        .bind(decision)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    outbound::referral_decided(&mut tx, &id, &referrer, &friend, approve, &body.reason, now)
        .await?;
    write_audit(
        &mut tx,
        &admin.email,
        if approve {
            "referral.approve"
        } else {
            "referral.reject"
        },
        &id,
        &body.reason,
        &serde_json::json!({ "friend": friend, "referrer": referrer, "applied": applied }),
        now,
    )
    .await?;
    bumps.write(&mut tx, &state.settings.nudge).await?;
    tx.commit().await.map_err(retryable)?;
    Ok(Json(Decided {
        referral_id: id,
        decision: decision.to_owned(),
        applied,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ByHand {
    friend: String,
    referrer: String,
    reason: String,
}

#[derive(Serialize)]
struct Attributed {
    referral_id: String,
    applied: Applied,
}

async fn attribute_by_hand(
    State(state): State<AppState>,
    admin: Admin,
    Json(body): Json<ByHand>,
) -> ApiResult<Json<Attributed>> {
    check_reason(&body.reason)?;
    super::users::check_external_id(&body.friend)?;
    super::users::check_external_id(&body.referrer)?;
    if body.friend == body.referrer {
        return Err(ApiError::bad(
            "self_referral",
            "a person cannot refer themselves",
        ));
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    state.db.lock_account(&mut tx, &body.friend).await?;
    for who in [&body.friend, &body.referrer] {
        if people::user_by_external(&mut tx, who).await?.is_none() {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_user",
                "both people must be registered",
            ));
        }
    }
    if people::referral_of_friend(&mut tx, &body.friend)
        .await?
        .is_some()
    {
        return Err(ApiError::conflict(
            "already_attributed",
            "the signup is attributed already",
        ));
    }
    // The signup's row if the host reported it (unattributed), else a new one.
    let existing: Option<String> =
        sqlx::query("SELECT id FROM referrals WHERE friend_account = $1")
            .bind(&body.friend)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("id"))
            .transpose()?;
    let referral_id = match existing {
        Some(id) => {
            sqlx::query("UPDATE referrals SET referrer_account = $1, outcome = 'attributed_by_hand', review = 0, flags = '[]' WHERE id = $2")
                .bind(&body.referrer)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            id
        }
        None => {
            let id = random_id("ref");
            people::insert_referral(
                &mut tx,
                &people::NewReferral {
                    id: &id,
                    friend_account: &body.friend,
                    referrer_account: Some(&body.referrer),
                    code: None,
                    channel: None,
                    outcome: "attributed_by_hand",
                    review: false,
                    flags: "[]",
                    created_at: now,
                },
            )
            .await?;
            id
        }
    };
    people::set_referred_by(&mut tx, &body.friend, &body.referrer).await?;
    let event = LedgerEvent::Attributed {
        event_id: format!("attr:{referral_id}"),
        referral_id: referral_id.clone(),
        referrer_account: body.referrer.clone(),
        friend_account: body.friend.clone(),
        review: false,
        at: now,
    };
    let (applied, mut bumps) = apply(&state, &mut tx, &event, now).await?;
    outbound::emit(
        &mut tx,
        "referral.attributed",
        serde_json::json!({
            "referral_id": referral_id, "referrer_id": body.referrer, "friend_id": body.friend,
            "channel": null, "review": false, "flags": [], "by_hand": true,
        }),
        now,
    )
    .await?;
    bumps.stage(Stage::Signup, &body.referrer, None, None, 1);
    aggregates::referred_signup(&mut tx, &mut bumps, &body.referrer, now).await?;
    write_audit(
        &mut tx,
        &admin.email,
        "referral.attribute",
        &referral_id,
        &body.reason,
        &serde_json::json!({ "friend": body.friend, "referrer": body.referrer }),
        now,
    )
    .await?;
    bumps.write(&mut tx, &state.settings.nudge).await?;
    tx.commit().await.map_err(retryable)?;
    Ok(Json(Attributed {
        referral_id,
        applied,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Adjust {
    adjustment_id: String,
    side: Side,
    amount_minor: i64,
    currency: String,
    reason: String,
}

async fn adjust(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Json(body): Json<Adjust>,
) -> ApiResult<Json<Attributed>> {
    check_reason(&body.reason)?;
    super::users::check_external_id(&body.adjustment_id)?;
    let currency = referral_core::billing::currency_code(&body.currency)
        .ok_or_else(|| ApiError::bad("invalid_currency", "a three-letter ISO 4217 code"))?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let friend: String = sqlx::query(
        "SELECT friend_account FROM referrals WHERE id = $1 AND referrer_account IS NOT NULL",
    )
    .bind(&id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_referral",
            "no attributed referral with this id",
        )
    })?
    .try_get("friend_account")?;
    state.db.lock_account(&mut tx, &friend).await?;
    let event = LedgerEvent::Adjustment {
        event_id: format!("adj:{}", body.adjustment_id),
        referral_id: id.clone(),
        side: body.side,
        amount: Money::new(body.amount_minor, &currency),
        reason: body.reason.clone(),
        at: now,
    };
    let (applied, bumps) = apply(&state, &mut tx, &event, now).await?;
    if !matches!(applied, Applied::Duplicate) {
        write_audit(
            &mut tx,
            &admin.email,
            "referral.adjust",
            &id,
            &body.reason,
            &serde_json::json!({ "side": body.side, "amount_minor": body.amount_minor, "currency": currency, "adjustment_id": body.adjustment_id }),
            now,
        )
        .await?;
    }
    bumps.write(&mut tx, &state.settings.nudge).await?;
    tx.commit().await.map_err(retryable)?;
    Ok(Json(Attributed {
        referral_id: id,
        applied,
    }))
}

#[derive(Serialize)]
struct AuditEntry {
    at: i64,
    admin: String,
    action: String,
    subject: String,
    reason: String,
    detail: serde_json::Value,
}

async fn audit(State(state): State<AppState>, _admin: Admin) -> ApiResult<Json<Vec<AuditEntry>>> {
    let mut conn = state.db.read.acquire().await?;
    let rows = sqlx::query("SELECT at, admin, action, subject, reason, detail FROM audit_log ORDER BY id DESC LIMIT 200")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditEntry {
                at: r.try_get("at")?,
                admin: r.try_get("admin")?,
                action: r.try_get("action")?,
                subject: r.try_get("subject")?,
                reason: r.try_get("reason")?,
                detail: serde_json::from_str(&r.try_get::<String, _>("detail")?)
                    .unwrap_or(serde_json::Value::Null),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map(Json)
        .map_err(Into::into)
}

/// One CSV cell (RFC 4180), safe to open in a spreadsheet: a cell that
/// starts like a formula (`=`, `+`, `-`, `@`, tab, CR) gets a leading `'`.
fn csv_cell(text: &str) -> String {
    let text = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn csv_line(cells: &[String]) -> String {
    let mut line = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

fn csv_response(name: &str, body: String) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

async fn referrals_csv(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<axum::response::Response> {
    let mut conn = state.db.read_snapshot().await?;
    let mut out = csv_line(
        &[
            "referral_id",
            "friend",
            "referrer",
            "channel",
            "outcome",
            "review",
            "decision",
            "created_at",
        ]
        .map(str::to_owned),
    );
    for r in &sqlx::query("SELECT id, friend_account, referrer_account, channel, outcome, review, decision, created_at FROM referrals ORDER BY created_at, id")
        .fetch_all(&mut *conn)
        .await?
    {
        out.push_str(&csv_line(&[
            r.try_get::<String, _>("id")?,
            r.try_get::<String, _>("friend_account")?,
            r.try_get::<Option<String>, _>("referrer_account")?.unwrap_or_default(),
            r.try_get::<Option<String>, _>("channel")?.unwrap_or_default(),
            r.try_get::<String, _>("outcome")?,
            (r.try_get::<i64, _>("review")? != 0).to_string(),
            r.try_get::<Option<String>, _>("decision")?.unwrap_or_default(),
            r.try_get::<i64, _>("created_at")?.to_string(),
        ]));
    }
    Ok(csv_response("referrals.csv", out))
}

async fn rewards_csv(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<axum::response::Response> {
    use referral_core::rewards::RewardValue;
    let now = state.clock.now();
    let mut conn = state.db.read_snapshot().await?;
    let mut out = csv_line(
        &[
            "entry_id",
            "referral_id",
            "beneficiary",
            "side",
            "kind",
            "amount_minor",
            "currency",
            "status",
            "created_at",
            "hold_until",
            "paid_at",
            "reversal",
            "adjustment",
        ]
        .map(str::to_owned),
    );
    for row in &sqlx::query("SELECT referrer, ledger FROM referrer_ledgers ORDER BY referrer")
        .fetch_all(&mut *conn)
        .await?
    {
        let referrer: String = row.try_get("referrer")?;
        let ledger = ledger::parse(&referrer, row.try_get("ledger")?)
            .await
            .map_err(ApiError::internal)?;
        for e in &ledger.entries {
            let (kind, amount, currency) = match &e.value {
                RewardValue::Money { amount, cash } => (
                    if *cash { "cash" } else { "credit" }.to_owned(),
                    amount.amount_minor.to_string(),
                    amount.currency.clone(),
                ),
                RewardValue::FreeMonths { months } => (
                    format!("free_months:{months}"),
                    String::new(),
                    String::new(),
                ),
                RewardValue::FeatureUnlock { feature } => {
                    (format!("feature:{feature}"), String::new(), String::new())
                }
                RewardValue::TierUpgrade { tier, months } => (
                    format!("tier:{tier}:{months}"),
                    String::new(),
                    String::new(),
                ),
            };
            out.push_str(&csv_line(&[
                e.id.clone(),
                e.referral_id.clone(),
                e.beneficiary.clone(),
                serde_json::to_value(e.side)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                kind,
                amount,
                currency,
                serde_json::to_value(ledger.status(e, now))
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                e.created_at.to_string(),
                e.hold_until.to_string(),
                e.paid_at.map(|t| t.to_string()).unwrap_or_default(),
                e.reversal
                    .as_ref()
                    .and_then(|r| serde_json::to_value(r.reason).ok())
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                e.adjustment.clone().unwrap_or_default(),
            ]));
        }
    }
    Ok(csv_response("rewards.csv", out))
}
