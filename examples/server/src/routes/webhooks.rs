//! Billing webhooks drive core's ledger.
//!
//! - `POST /api/v1/webhooks/billing`: the generic signed billing event
//!   for billing systems other than Stripe. `Referral-Signature: t=<unix
//!   seconds>,v1=<hex HMAC-SHA256 of "t.body">`, checked in constant time
//!   within a 300 s tolerance of the real clock.
//! - `POST /api/v1/webhooks/stripe`: Stripe's own webhooks, verified with
//!   `Stripe-Signature` and read by core's Stripe adapter
//!   (`referral_core::billing::stripe`); on when a Stripe secret is set.
//!
//! Both become core's `BillingEvent`, applied the same way: on the
//! account's referral, kept pending until its signup is reported, or
//! `not_referred`. Idempotent on the billing system's event id.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use referral_core::billing::stripe::{self, Ignored};
use referral_core::billing::{self as core_billing, AccountRef, BillingFact};
use referral_core::rewards::Applied;
use serde::{Deserialize, Serialize};

use sha2::Sha256;

use crate::error::{unique_violation, ApiError, ApiResult, Json};
use crate::store::{aggregates, ledger, people, Tx};
use crate::AppState;

pub const WEBHOOK_TOLERANCE_SECS: u64 = 300;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhooks/billing", post(billing_webhook))
        .route("/api/v1/webhooks/stripe", post(stripe_webhook))
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
                // Core's reading of a currency code (the Stripe adapter's too).
                let code = core_billing::currency_code(currency).ok_or_else(|| {
                    ApiError::bad("invalid_currency", "a three-letter ISO 4217 code")
                })?;
                self.currency = Some(code);
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

    /// Core's billing event: the generic webhook's payment is a monthly
    /// plan's (core's `monthly_payment`: first-year value 12 payments).
    pub fn to_core(&self, at: u64) -> core_billing::BillingEvent {
        let fact = match self.kind.as_str() {
            "refund" => BillingFact::Refund,
            "chargeback" => BillingFact::Chargeback,
            "cancellation" => BillingFact::Cancellation,
            // `validated` admits nothing else.
            _ => core_billing::monthly_payment(
                self.amount_minor.unwrap_or_default(),
                self.currency.as_deref().unwrap_or_default(),
            ),
        };
        core_billing::BillingEvent {
            event_id: self.id.clone(),
            account: AccountRef::Account(self.account_id.clone()),
            fact,
            at,
        }
    }
}

/// A pending billing event as stored: core's `BillingEvent`, or (rows
/// written before core had one) the generic webhook's body, received at
/// `received_at`.
pub fn stored_billing(body: &str, received_at: u64) -> Option<core_billing::BillingEvent> {
    serde_json::from_str::<core_billing::BillingEvent>(body)
        .ok()
        .or_else(|| {
            serde_json::from_str::<BillingEvent>(body)
                .ok()
                .map(|legacy| legacy.to_core(received_at))
        })
}

/// Core's outcome for the event; `not_referred` for an account whose
/// signup was reported without a referral; `pending` for an account whose
/// signup has not been reported yet (kept, and applied when it is).
#[derive(Serialize)]
#[serde(untagged)]
pub enum WebhookAnswer {
    Applied(Applied),
    Other {
        outcome: &'static str,
    },
    /// Core's Stripe adapter ignored the event: `reason` says why.
    Ignored {
        outcome: &'static str,
        reason: &'static str,
    },
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
    let billing = event.to_core(now);
    let mut tx = state.db.begin().await?;
    let answer = apply_billing(&state, &mut tx, &event.account_id, &billing, now).await?;
    tx.commit().await.map_err(retryable)?;
    Ok(Json(answer))
}

/// Applies core's billing event for `account` in the caller's
/// transaction: on the account's referral, or kept pending until its
/// signup is reported (billing can be faster than the host), or
/// `not_referred`.
async fn apply_billing(
    state: &AppState,
    tx: &mut Tx,
    account: &str,
    billing: &core_billing::BillingEvent,
    now: u64,
) -> ApiResult<WebhookAnswer> {
    state.db.lock_account(tx, account).await?;
    let Some(referral_id) = people::referral_of_friend(tx, account).await? else {
        if people::signup_reported(tx, account).await? {
            return Ok(WebhookAnswer::Other {
                outcome: "not_referred",
            });
        }
        let body = serde_json::to_string(billing).map_err(ApiError::internal)?;
        people::insert_pending_billing(tx, &billing.event_id, account, &body, now).await?;
        return Ok(WebhookAnswer::Other { outcome: "pending" });
    };
    let ledger_event = billing.ledger_event(&referral_id);
    let mut bumps = aggregates::Bumps::default();
    let applied = ledger::apply(
        &state.db,
        tx,
        &mut bumps,
        &state.settings.program,
        &ledger_event,
        now,
    )
    .await
    .map_err(ledger_refusal)?;
    bumps.write(tx, &state.settings.nudge).await?;
    Ok(WebhookAnswer::Applied(applied))
}

/// The pending key of a billing system's id the service cannot name an
/// account for yet (a customer or charge seen before its checkout).
fn unresolved_key(id: &str) -> String {
    format!("stripe:{id}")
}

/// `POST /api/v1/webhooks/stripe`: a Stripe event, verified and read by
/// core, applied in one transaction with the ids it links. Events that
/// name a customer or charge not linked yet wait under that id and follow
/// its link when it comes.
async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<WebhookAnswer>> {
    let Some(settings) = state.settings.stripe.as_ref() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "stripe_not_configured",
            "set STRIPE_WEBHOOK_SECRETS to receive Stripe's webhooks",
        ));
    };
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized("missing_signature", "Stripe-Signature header required")
        })?;
    let secrets: Vec<&[u8]> = settings.secrets.iter().map(Vec::as_slice).collect();
    // Freshness is about real time, whatever the demo clock says.
    stripe::verify_signature(
        header,
        &body,
        &secrets,
        crate::Clock::real_now(),
        WEBHOOK_TOLERANCE_SECS,
    )
    .map_err(|e| ApiError::unauthorized(e.reason(), e.to_string()))?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad("invalid_event", "the body is not UTF-8"))?;
    let mapped = stripe::map_event(text, &settings.options)
        .map_err(|e| ApiError::bad(e.reason(), e.to_string()))?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    // Links first: an event can both link and pay (an invoice's charge).
    for (external_id, account) in &mapped.links {
        let Some(account) = resolve(&mut tx, account).await? else {
            // A charge of a customer not linked yet: linked through the
            // customer, resolved when the customer's link comes.
            if let AccountRef::Customer(customer) = account {
                people::insert_billing_link(&mut tx, external_id, None, Some(customer), now)
                    .await?;
            }
            continue;
        };
        if people::insert_billing_link(&mut tx, external_id, Some(&account), None, now).await? {
            // Events that waited for this id now name the account.
            for pending in
                people::take_pending_billing(&mut tx, &unresolved_key(external_id)).await?
            {
                if let Some(billing) = stored_billing(&pending, now) {
                    apply_billing(&state, &mut tx, &account, &billing, now).await?;
                }
            }
        }
    }
    let answer = match &mapped.outcome {
        Err(reason) => WebhookAnswer::Ignored {
            outcome: "ignored",
            reason: Ignored::code(*reason),
        },
        Ok(billing) => match resolve(&mut tx, &billing.account).await? {
            Some(account) => apply_billing(&state, &mut tx, &account, billing, now).await?,
            None => {
                let (AccountRef::Customer(id) | AccountRef::Charge(id) | AccountRef::Account(id)) =
                    &billing.account;
                let body = serde_json::to_string(billing).map_err(ApiError::internal)?;
                people::insert_pending_billing(
                    &mut tx,
                    &billing.event_id,
                    &unresolved_key(id),
                    &body,
                    now,
                )
                .await?;
                WebhookAnswer::Other { outcome: "pending" }
            }
        },
    };
    tx.commit().await.map_err(retryable)?;
    Ok(Json(answer))
}

/// The host's account a billing reference names, if known.
async fn resolve(tx: &mut Tx, account: &AccountRef) -> Result<Option<String>, sqlx::Error> {
    match account {
        AccountRef::Account(id) => Ok(Some(id.clone())),
        AccountRef::Customer(id) | AccountRef::Charge(id) => people::billing_link(tx, id).await,
    }
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
