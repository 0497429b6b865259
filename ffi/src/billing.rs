//! Billing systems' events in core's terms, so every host maps billing the
//! same way: core's types exposed as they are (remote types), Stripe's
//! events read and its signature checked by core.

use referral_core::billing as core_;
use referral_core::billing::stripe as stripe_;

use crate::{LedgerEvent, Money, ReferralError};

/// How often a recurring price bills.
pub type BillingInterval = core_::Interval;
#[uniffi::remote(Enum)]
pub enum BillingInterval {
    Day,
    Week,
    Month,
    Year,
}

/// What happened to the account.
pub type BillingFact = core_::BillingFact;
#[uniffi::remote(Enum)]
pub enum BillingFact {
    Payment { amount: Money, acv: Option<Money> },
    Refund,
    Chargeback,
    Cancellation,
}

/// Which account a billing event is about, as the billing system names it.
pub type BillingAccount = core_::AccountRef;
#[uniffi::remote(Enum)]
pub enum BillingAccount {
    Account(String),
    Customer(String),
    Charge(String),
}

/// A billing system's event, in core's terms.
pub type BillingEvent = core_::BillingEvent;
#[uniffi::remote(Record)]
pub struct BillingEvent {
    pub event_id: String,
    pub account: BillingAccount,
    pub fact: BillingFact,
    pub at: u64,
}

/// An id Stripe uses (a customer, a charge) and the account it names.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StripeLink {
    pub stripe_id: String,
    pub account: BillingAccount,
}

/// What a Stripe event means: the billing event, or `ignored` with
/// core's reason (`unhandled_type`, `wrong_mode`, `not_paid`,
/// `zero_amount`, `partial_refund`, `subscription_checkout`,
/// `no_account`). Reshapes core's `Result` into two options.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StripeMapped {
    pub event_id: String,
    pub event_type: String,
    pub links: Vec<StripeLink>,
    pub billing: Option<BillingEvent>,
    pub ignored: Option<String>,
}

/// Reads a Stripe webhook event (its body). Errors: `InvalidInput`
/// (`invalid_event`, `invalid_field`).
#[uniffi::export]
pub fn stripe_map_event(
    body: String,
    live_mode: bool,
    account_key: String,
) -> Result<StripeMapped, ReferralError> {
    let options = stripe_::StripeOptions {
        live_mode,
        account_key,
    };
    let mapped = stripe_::map_event(&body, &options).map_err(|e| ReferralError::InvalidInput {
        reason: e.reason().to_owned(),
        detail: e.to_string(),
    })?;
    let (billing, ignored) = match mapped.outcome {
        Ok(billing) => (Some(billing), None),
        Err(reason) => (None, Some(reason.code().to_owned())),
    };
    Ok(StripeMapped {
        event_id: mapped.event_id,
        event_type: mapped.event_type,
        links: mapped
            .links
            .into_iter()
            .map(|(stripe_id, account)| StripeLink { stripe_id, account })
            .collect(),
        billing,
        ignored,
    })
}

/// Checks a `Stripe-Signature` header against the endpoint's secrets
/// (`whsec_…`, several while one is rolled) within `tolerance_secs` of
/// `now`; returns the signed timestamp. Errors: `InvalidInput`
/// (`malformed_signature`, `stale_signature`, `bad_signature`).
#[uniffi::export]
pub fn stripe_verify_signature(
    header: String,
    body: Vec<u8>,
    secrets: Vec<String>,
    now: u64,
    tolerance_secs: u64,
) -> Result<u64, ReferralError> {
    let secrets: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
    stripe_::verify_signature(&header, &body, &secrets, now, tolerance_secs).map_err(|e| {
        ReferralError::InvalidInput {
            reason: e.reason().to_owned(),
            detail: e.to_string(),
        }
    })
}

/// The ledger event for a billing event on the account's referral.
#[uniffi::export]
pub fn billing_ledger_event(billing: BillingEvent, referral_id: String) -> LedgerEvent {
    billing.ledger_event(&referral_id)
}

/// A payment's first-year value: periods per year ÷ `count`, at least the
/// payment (core's rule, documented in one place).
#[uniffi::export]
pub fn billing_first_year_value(amount_minor: i64, interval: BillingInterval, count: u32) -> i64 {
    core_::first_year_value(amount_minor, interval, count)
}
