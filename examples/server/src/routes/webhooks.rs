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

use crate::error::{unique_violation, ApiError, ApiResult, Json};
use crate::store::{aggregates, ledger, people};
use crate::AppState;

pub const WEBHOOK_TOLERANCE_SECS: u64 = 300;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/webhooks/billing", post(billing_webhook))
}

/// A billing event as the billing system sends it.
#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct BillingEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The host's user id of the paying account.
    pub account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl BillingEvent {
    /// Checks the shape; ISO 4217 codes are upper-cased (Stripe sends
    /// `usd`). Whether the currency is the program's is core's question.
    fn validated(mut self) -> ApiResult<BillingEvent> {
        let valid = |t: &str| !t.is_empty() && t.len() <= 128 && !t.chars().any(char::is_control);
        if !valid(&self.id) || !valid(&self.account_id) {
            return Err(ApiError::bad(
                "invalid_body",
                "id and account_id: 1 to 128 characters, no control characters",
            ));
        }
        match self.kind.as_str() {
            "payment" => {
                if self.amount_minor.is_none() {
                    return Err(ApiError::bad(
                        "missing_amount",
                        "payment needs amount_minor",
                    ));
                }
                let currency = self
                    .currency
                    .as_deref()
                    .ok_or_else(|| ApiError::bad("missing_currency", "payment needs currency"))?;
                if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err(ApiError::bad(
                        "invalid_currency",
                        "a three-letter ISO 4217 code",
                    ));
                }
                self.currency = Some(currency.to_ascii_uppercase());
            }
            "refund" | "chargeback" | "cancellation" => {}
            _ => {
                return Err(ApiError::bad(
                    "unknown_event_type",
                    "expected payment, refund, chargeback or cancellation",
                ))
            }
        }
        Ok(self)
    }

    /// The core ledger event for this billing event on a referral.
    pub fn ledger_event(&self, referral_id: &str, at: u64) -> LedgerEvent {
        let event_id = self.id.clone();
        let referral_id = referral_id.to_owned();
        let reversal = |reason| LedgerEvent::Reversal {
            event_id: event_id.clone(),
            referral_id: referral_id.clone(),
            at,
            reason,
        };
        match self.kind.as_str() {
            "refund" => reversal(ReversalReason::Refund),
            "chargeback" => reversal(ReversalReason::Chargeback),
            "cancellation" => reversal(ReversalReason::Churn),
            // `validated` admits nothing else.
            _ => {
                let amount_minor = self.amount_minor.unwrap_or_default();
                let currency = self.currency.as_deref().unwrap_or_default();
                LedgerEvent::Payment {
                    event_id: event_id.clone(),
                    referral_id: referral_id.clone(),
                    at,
                    amount: Money::new(amount_minor, currency),
                    // The host's data: a monthly plan's first-year value.
                    acv: Some(Money::new(amount_minor.saturating_mul(12), currency)),
                }
            }
        }
    }
}

/// Core's outcome for the event; `not_referred` for an account whose
/// signup was reported without a referral; `pending` for an account whose
/// signup has not been reported yet (kept, and applied when it is).
#[derive(Serialize)]
#[serde(untagged)]
pub enum WebhookAnswer {
    Applied(Applied),
    Other { outcome: &'static str },
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
    let event: BillingEvent = serde_json::from_slice::<BillingEvent>(&body)
        .map_err(|e| ApiError::bad("invalid_body", e.to_string()))?
        .validated()?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    state.db.lock_account(&mut tx, &event.account_id).await?;
    let Some(referral_id) = people::referral_of_friend(&mut tx, &event.account_id).await? else {
        if people::signup_reported(&mut tx, &event.account_id).await? {
            return Ok(Json(WebhookAnswer::Other {
                outcome: "not_referred",
            }));
        }
        // Billing can be faster than the host's signup report: keep the
        // event; the signup applies it if the account was referred.
        let body = serde_json::to_string(&event).map_err(ApiError::internal)?;
        people::insert_pending_billing(&mut tx, &event.id, &event.account_id, &body, now).await?;
        tx.commit().await?;
        return Ok(Json(WebhookAnswer::Other { outcome: "pending" }));
    };
    let ledger_event = event.ledger_event(&referral_id, now);
    let mut bumps = aggregates::Bumps::default();
    let applied = ledger::apply(
        &state.db,
        &mut tx,
        &mut bumps,
        &state.settings.program,
        &ledger_event,
        now,
    )
    .await
    .map_err(ledger_refusal)?;
    bumps.write(&mut tx, &state.settings.nudge).await?;
    tx.commit().await.map_err(retryable)?;
    Ok(Json(WebhookAnswer::Applied(applied)))
}

/// Core's refusal is the caller's problem (422); anything else is ours.
pub fn ledger_refusal(e: ledger::LedgerStoreError) -> ApiError {
    match e {
        ledger::LedgerStoreError::Refused(e) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.reason(), e.to_string())
        }
        ledger::LedgerStoreError::Database(e) => retryable(e),
        other => ApiError::internal(other),
    }
}

/// Two first deliveries of one event id racing: the loser's insert meets
/// the winner's unique event id; the event is applied once, and a retry
/// gets `duplicate`. Other database errors are ours.
pub fn retryable(e: sqlx::Error) -> ApiError {
    if unique_violation(&e).is_some() {
        return ApiError::conflict(
            "concurrent_delivery",
            "the same event is being applied by another request; retry to read its outcome",
        );
    }
    e.into()
}
