//! `POST /api/v1/webhooks/billing`: signed billing events drive core's
//! ledger. `Referral-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "t.body">`, checked in constant time within a 300 s tolerance of the
//! real clock.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use referral_core::rewards::{Applied, LedgerEvent, Money, ReversalReason};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{ApiError, ApiResult, Json};
use crate::store::{ledger, people};
use crate::AppState;

pub const WEBHOOK_TOLERANCE_SECS: u64 = 300;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/webhooks/billing", post(billing_webhook))
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

/// Core's outcome for the event, or `not_referred` for an account no
/// referral names.
#[derive(Serialize)]
#[serde(untagged)]
pub enum WebhookAnswer {
    Applied(Applied),
    NotReferred { outcome: &'static str },
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

fn check_signature(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> ApiResult<()> {
    let header = headers
        .get("referral-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized("missing_signature", "Referral-Signature header required")
        })?;
    let (mut t, mut v1) = (None, None);
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<u64>().ok(),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(ApiError::unauthorized(
            "bad_signature_header",
            "expected t=…,v1=…",
        ));
    };
    // Freshness is about real time, whatever the demo clock says.
    if crate::Clock::real_now().abs_diff(t) > WEBHOOK_TOLERANCE_SECS {
        return Err(ApiError::unauthorized(
            "stale_signature",
            "timestamp outside the tolerance",
        ));
    }
    let mut signed = t.to_string().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(body);
    if !verify_tag(secret, &signed, v1) {
        return Err(ApiError::unauthorized(
            "bad_signature",
            "signature does not match",
        ));
    }
    Ok(())
}

async fn billing_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<WebhookAnswer>> {
    check_signature(&state.settings.webhook_secret, &headers, &body)?;
    let event: BillingEvent =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad("invalid_body", e.to_string()))?;
    let valid = |t: &str| !t.is_empty() && t.len() <= 128 && !t.chars().any(char::is_control);
    if !valid(&event.id) || !valid(&event.account_id) {
        return Err(ApiError::bad(
            "invalid_body",
            "id and account_id: 1 to 128 characters, no control characters",
        ));
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    state.db.lock_ledger(&mut tx).await?;
    let Some(referral_id) = people::referral_of_friend(&mut tx, &event.account_id).await? else {
        return Ok(Json(WebhookAnswer::NotReferred {
            outcome: "not_referred",
        }));
    };
    let reversal = |reason| LedgerEvent::Reversal {
        event_id: event.id.clone(),
        referral_id: referral_id.clone(),
        at: now,
        reason,
    };
    let ledger_event = match event.kind.as_str() {
        "payment" => {
            let amount_minor = event
                .amount_minor
                .ok_or_else(|| ApiError::bad("missing_amount", "payment needs amount_minor"))?;
            let currency = event
                .currency
                .as_deref()
                .ok_or_else(|| ApiError::bad("missing_currency", "payment needs currency"))?;
            let amount = Money::new(amount_minor, currency);
            // The host's data: a monthly plan's first-year value.
            let acv = Money::new(amount_minor.saturating_mul(12), currency);
            LedgerEvent::Payment {
                event_id: event.id.clone(),
                referral_id: referral_id.clone(),
                at: now,
                amount,
                acv: Some(acv),
            }
        }
        "refund" => reversal(ReversalReason::Refund),
        "chargeback" => reversal(ReversalReason::Chargeback),
        "cancellation" => reversal(ReversalReason::Churn),
        _ => {
            return Err(ApiError::bad(
                "unknown_event_type",
                "expected payment, refund, chargeback or cancellation",
            ))
        }
    };
    let mut current = ledger::replay(&mut tx, &state.settings.program)
        .await
        .map_err(ApiError::internal)?;
    let applied = ledger::append(
        &mut tx,
        &mut current,
        &state.settings.program,
        &ledger_event,
        now,
    )
    .await
    .map_err(|e| match e {
        ledger::LedgerStoreError::Refused(e) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.reason(), e.to_string())
        }
        other => ApiError::internal(other),
    })?;
    tx.commit().await?;
    Ok(Json(WebhookAnswer::Applied(applied)))
}
