//! Billing systems' events in the ledger's terms, so every host maps billing
//! the same way: which events count, what a payment's first-year value is,
//! which events reverse a reward.
//!
//! A [`BillingEvent`] is what a billing system said happened to an account;
//! [`BillingEvent::ledger_event`] turns it into the [`LedgerEvent`] for the
//! account's referral. [`stripe`] reads Stripe's webhook events (sans-I/O:
//! the event's JSON in, the billing event or a typed reason out) and checks
//! the `Stripe-Signature` header.
//!
//! **First-year value (ACV).** A recurring payment's first-year value is the
//! payment times the periods in a year: 12 for a monthly price, 1 for a
//! yearly one, 52 for a weekly one, 365 for a daily one, divided by the
//! interval count (a price billed every 3 months: 4). A payment with no
//! known period is one-off: its first-year value is the payment itself.
//! The generic signed webhook carries no period and keeps its documented
//! rule: a monthly plan.

use serde::{Deserialize, Serialize};

use crate::rewards::{LedgerEvent, Money, ReversalReason};

/// How often a recurring price bills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

impl Interval {
    /// Stripe's and most billing systems' names (`month`).
    pub fn parse(name: &str) -> Option<Interval> {
        match name {
            "day" => Some(Interval::Day),
            "week" => Some(Interval::Week),
            "month" => Some(Interval::Month),
            "year" => Some(Interval::Year),
            _ => None,
        }
    }

    fn per_year(self) -> i64 {
        match self {
            Interval::Day => 365,
            Interval::Week => 52,
            Interval::Month => 12,
            Interval::Year => 1,
        }
    }
}

/// The first-year value of a payment of `amount_minor` billed every
/// `count` `interval`s (see the module's rule). At least the payment
/// itself; saturates instead of overflowing.
pub fn first_year_value(amount_minor: i64, interval: Interval, count: u32) -> i64 {
    let per_year = (interval.per_year() / i64::from(count.max(1))).max(1);
    amount_minor.saturating_mul(per_year)
}

/// What happened to the account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BillingFact {
    /// Money received; `acv` is its first-year value when known.
    Payment { amount: Money, acv: Option<Money> },
    /// A payment returned.
    Refund,
    /// A payment disputed by the card holder.
    Chargeback,
    /// The subscription ended (a reversal only inside the program's
    /// clawback window: core's ledger decides).
    Cancellation,
}

/// Which account a billing event is about, as the billing system names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "id", rename_all = "snake_case")]
pub enum AccountRef {
    /// The host's own account id (from metadata or a reference field).
    Account(String),
    /// The billing system's customer id: the host maps it to its account
    /// (a checkout tells which, see [`stripe::Mapped::links`]).
    Customer(String),
    /// A payment's id (a dispute names only the charge).
    Charge(String),
}

/// A billing system's event, in core's terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingEvent {
    /// The billing system's event id: the ledger event's id, so a
    /// redelivery is a duplicate.
    pub event_id: String,
    pub account: AccountRef,
    pub fact: BillingFact,
    /// When it happened, Unix seconds.
    pub at: u64,
}

impl BillingEvent {
    /// The ledger event for this billing event on `referral_id`.
    pub fn ledger_event(&self, referral_id: &str) -> LedgerEvent {
        let event_id = self.event_id.clone();
        let referral_id = referral_id.to_owned();
        let at = self.at;
        let reversal = |reason| LedgerEvent::Reversal {
            event_id: event_id.clone(),
            referral_id: referral_id.clone(),
            at,
            reason,
        };
        match &self.fact {
            BillingFact::Payment { amount, acv } => LedgerEvent::Payment {
                event_id: event_id.clone(),
                referral_id: referral_id.clone(),
                at,
                amount: amount.clone(),
                acv: acv.clone(),
            },
            BillingFact::Refund => reversal(ReversalReason::Refund),
            BillingFact::Chargeback => reversal(ReversalReason::Chargeback),
            BillingFact::Cancellation => reversal(ReversalReason::Churn),
        }
    }
}

/// A currency code as the ledger keeps it: three ASCII letters, upper case
/// (Stripe sends `usd`). None for anything else.
pub fn currency_code(text: &str) -> Option<String> {
    (text.len() == 3 && text.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| text.to_ascii_uppercase())
}

/// The generic signed webhook's payment: a monthly plan, so its first-year
/// value is 12 payments.
pub fn monthly_payment(amount_minor: i64, currency: &str) -> BillingFact {
    BillingFact::Payment {
        amount: Money::new(amount_minor, currency),
        acv: Some(Money::new(
            first_year_value(amount_minor, Interval::Month, 1),
            currency,
        )),
    }
}

#[cfg(feature = "json")]
pub mod stripe;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_year_values() {
        assert_eq!(first_year_value(2_000, Interval::Month, 1), 24_000);
        assert_eq!(first_year_value(2_000, Interval::Month, 3), 8_000);
        assert_eq!(first_year_value(2_000, Interval::Year, 1), 2_000);
        assert_eq!(first_year_value(2_000, Interval::Year, 2), 2_000);
        assert_eq!(first_year_value(100, Interval::Week, 1), 5_200);
        assert_eq!(first_year_value(100, Interval::Day, 0), 36_500);
        assert_eq!(first_year_value(i64::MAX, Interval::Month, 1), i64::MAX);
        assert_eq!(currency_code("usd").as_deref(), Some("USD"));
        assert_eq!(currency_code("us"), None);
        assert_eq!(currency_code("u$d"), None);
    }

    #[test]
    fn billing_events_become_ledger_events() {
        let event = BillingEvent {
            event_id: "evt_1".into(),
            account: AccountRef::Account("acct".into()),
            fact: monthly_payment(9_900, "USD"),
            at: 5,
        };
        assert_eq!(
            event.ledger_event("ref_1"),
            LedgerEvent::Payment {
                event_id: "evt_1".into(),
                referral_id: "ref_1".into(),
                at: 5,
                amount: Money::new(9_900, "USD"),
                acv: Some(Money::new(118_800, "USD")),
            }
        );
        let churn = BillingEvent {
            fact: BillingFact::Cancellation,
            ..event
        };
        assert!(matches!(
            churn.ledger_event("ref_1"),
            LedgerEvent::Reversal {
                reason: ReversalReason::Churn,
                ..
            }
        ));
    }
}
