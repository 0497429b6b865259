//! Stripe's webhook events in core's terms ([`map_event`]) and Stripe's
//! `Stripe-Signature` check ([`verify_signature`]). Sans-I/O: the host
//! receives the request, stores what core decided, and maps Stripe's
//! customer and charge ids to its accounts with the links core returns.
//!
//! Which events count:
//!
//! | event | means |
//! |---|---|
//! | `checkout.session.completed` | links the session's `customer` to the account in `client_reference_id` (or `metadata[account key]`); a paid one-off checkout (`mode: payment`) is a payment, first-year value = the payment. A subscription's payments come from its invoices. |
//! | `invoice.paid` | a payment of `amount_paid` (0: ignored, a trial); first-year value from the line's recurring price (`price.recurring` or `plan`), else from its billing period's length (a month's period: × 12), else one-off. Links the invoice's `charge` to the account. |
//! | `charge.refunded` | a refund when the whole charge is refunded (a partial refund is ignored: the reward stands) |
//! | `charge.dispute.created` | a chargeback, for the disputed charge |
//! | `customer.subscription.deleted` | a cancellation (a reversal only inside the program's clawback window) |
//!
//! The account is the host's id from the object's `metadata[account key]`
//! (for invoices also the subscription's metadata), else the customer (or
//! for a dispute, the charge) for the host to look up. Events of the other
//! mode (test events on a live endpoint, or the reverse) are ignored.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{currency_code, first_year_value, AccountRef, BillingEvent, BillingFact, Interval};
use crate::rewards::Money;

/// How the host reads Stripe's events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeOptions {
    /// Accept live-mode events (else test-mode ones).
    pub live_mode: bool,
    /// The metadata key that holds the host's account id.
    pub account_key: String,
}

impl Default for StripeOptions {
    fn default() -> Self {
        StripeOptions {
            live_mode: false,
            account_key: "account_id".to_owned(),
        }
    }
}

/// Why an event changes nothing. `code()` is the stable form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ignored {
    /// Not an event referrals depend on.
    UnhandledType,
    /// A test-mode event on a live endpoint, or the reverse.
    WrongMode,
    /// A checkout or invoice that is not paid.
    NotPaid,
    /// Nothing was paid (a trial's invoice).
    ZeroAmount,
    /// Part of a charge was refunded: the reward stands.
    PartialRefund,
    /// A subscription's checkout: its invoices carry the payments.
    SubscriptionCheckout,
    /// Neither the host's account nor a customer or charge is named.
    NoAccount,
}

impl Ignored {
    pub fn code(self) -> &'static str {
        match self {
            Ignored::UnhandledType => "unhandled_type",
            Ignored::WrongMode => "wrong_mode",
            Ignored::NotPaid => "not_paid",
            Ignored::ZeroAmount => "zero_amount",
            Ignored::PartialRefund => "partial_refund",
            Ignored::SubscriptionCheckout => "subscription_checkout",
            Ignored::NoAccount => "no_account",
        }
    }
}

/// A malformed event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    #[error("not a Stripe event: {0}")]
    NotAnEvent(String),
    #[error("`{field}` is missing or malformed")]
    Field { field: &'static str },
}

impl StripeError {
    pub fn reason(&self) -> &'static str {
        match self {
            StripeError::NotAnEvent(_) => "invalid_event",
            StripeError::Field { .. } => "invalid_field",
        }
    }
}

/// What a Stripe event means.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapped {
    /// Stripe's event id (`evt_…`): the idempotency key.
    pub event_id: String,
    /// Stripe's event type (`invoice.paid`).
    pub event_type: String,
    /// Ids the host should remember as naming an account: a checkout's
    /// customer, an invoice's charge. `(stripe id, account)`.
    pub links: Vec<(String, AccountRef)>,
    /// The billing event, or why there is none.
    pub outcome: Result<BillingEvent, Ignored>,
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key)?.as_str().filter(|s| !s.is_empty())
}

fn integer(value: &Value, key: &str) -> Option<i64> {
    value.get(key)?.as_i64()
}

fn metadata_account(object: &Value, key: &str) -> Option<String> {
    text(object.get("metadata")?, key).map(str::to_owned)
}

/// An invoice's account: its metadata, its subscription's (both API
/// shapes), else its customer.
fn invoice_account(invoice: &Value, key: &str) -> Option<AccountRef> {
    let subscription_metadata = [
        invoice.pointer("/parent/subscription_details"),
        invoice.get("subscription_details"),
    ];
    metadata_account(invoice, key)
        .or_else(|| {
            subscription_metadata
                .into_iter()
                .flatten()
                .find_map(|details| metadata_account(details, key))
        })
        .map(AccountRef::Account)
        .or_else(|| text(invoice, "customer").map(|c| AccountRef::Customer(c.to_owned())))
}

/// The first-year value of an invoice's payment (see the module's table).
fn invoice_acv(invoice: &Value, amount: i64) -> i64 {
    let Some(line) = invoice.pointer("/lines/data/0") else {
        return amount;
    };
    let recurring = line
        .pointer("/price/recurring")
        .or_else(|| line.get("plan"))
        .and_then(|r| {
            let interval = Interval::parse(text(r, "interval")?)?;
            let count = integer(r, "interval_count").unwrap_or(1);
            Some((interval, u32::try_from(count).ok()?))
        });
    if let Some((interval, count)) = recurring {
        return first_year_value(amount, interval, count);
    }
    // Current API versions name only the price: the billing period's
    // length tells the interval.
    let period = line
        .get("period")
        .and_then(|p| Some(integer(p, "end")? - integer(p, "start")?))
        .unwrap_or(0);
    const DAY: i64 = 86_400;
    let interval = match period {
        p if (27 * DAY..=32 * DAY).contains(&p) => Some((Interval::Month, 1)),
        p if (88 * DAY..=93 * DAY).contains(&p) => Some((Interval::Month, 3)),
        p if (180 * DAY..=185 * DAY).contains(&p) => Some((Interval::Month, 6)),
        p if (364 * DAY..=367 * DAY).contains(&p) => Some((Interval::Year, 1)),
        p if p == 7 * DAY => Some((Interval::Week, 1)),
        _ => None,
    };
    interval.map_or(amount, |(interval, count)| {
        first_year_value(amount, interval, count)
    })
}

fn money(object: &Value, amount_key: &'static str) -> Result<(i64, String), StripeError> {
    let amount = integer(object, amount_key).ok_or(StripeError::Field { field: amount_key })?;
    let currency = text(object, "currency")
        .and_then(currency_code)
        .ok_or(StripeError::Field { field: "currency" })?;
    Ok((amount, currency))
}

/// Reads a Stripe event (the webhook's body).
pub fn map_event(body: &str, options: &StripeOptions) -> Result<Mapped, StripeError> {
    let event: Value =
        serde_json::from_str(body).map_err(|e| StripeError::NotAnEvent(e.to_string()))?;
    if event.get("object").and_then(Value::as_str) != Some("event") {
        return Err(StripeError::NotAnEvent("`object` is not \"event\"".into()));
    }
    let event_id = text(&event, "id")
        .filter(|id| id.len() <= 255)
        .ok_or(StripeError::Field { field: "id" })?
        .to_owned();
    let event_type = text(&event, "type")
        .ok_or(StripeError::Field { field: "type" })?
        .to_owned();
    let at = event
        .get("created")
        .and_then(Value::as_u64)
        .ok_or(StripeError::Field { field: "created" })?;
    let object = event
        .pointer("/data/object")
        .filter(|o| o.is_object())
        .ok_or(StripeError::Field {
            field: "data.object",
        })?;
    let mut mapped = Mapped {
        event_id: event_id.clone(),
        event_type: event_type.clone(),
        links: Vec::new(),
        outcome: Err(Ignored::UnhandledType),
    };
    if event.get("livemode").and_then(Value::as_bool) != Some(options.live_mode) {
        mapped.outcome = Err(Ignored::WrongMode);
        return Ok(mapped);
    }
    let key = options.account_key.as_str();
    let event_of = |account: AccountRef, fact: BillingFact| BillingEvent {
        event_id: event_id.clone(),
        account,
        fact,
        at,
    };
    mapped.outcome = match event_type.as_str() {
        "checkout.session.completed" => {
            let account = text(object, "client_reference_id")
                .map(str::to_owned)
                .or_else(|| metadata_account(object, key));
            if let (Some(customer), Some(account)) = (text(object, "customer"), &account) {
                mapped
                    .links
                    .push((customer.to_owned(), AccountRef::Account(account.clone())));
            }
            match (
                text(object, "mode"),
                text(object, "payment_status"),
                account,
            ) {
                (Some("subscription"), _, _) => Err(Ignored::SubscriptionCheckout),
                (_, Some("paid"), Some(account)) => {
                    let (amount, currency) = money(object, "amount_total")?;
                    if amount == 0 {
                        Err(Ignored::ZeroAmount)
                    } else {
                        Ok(event_of(
                            AccountRef::Account(account),
                            BillingFact::Payment {
                                amount: Money::new(amount, &currency),
                                acv: Some(Money::new(amount, &currency)),
                            },
                        ))
                    }
                }
                (_, Some("paid"), None) => Err(Ignored::NoAccount),
                _ => Err(Ignored::NotPaid),
            }
        }
        "invoice.paid" => {
            let (amount, currency) = money(object, "amount_paid")?;
            match invoice_account(object, key) {
                None => Err(Ignored::NoAccount),
                Some(account) => {
                    if let Some(charge) = text(object, "charge") {
                        mapped.links.push((charge.to_owned(), account.clone()));
                    }
                    if amount == 0 {
                        Err(Ignored::ZeroAmount)
                    } else {
                        let acv = invoice_acv(object, amount);
                        Ok(event_of(
                            account,
                            BillingFact::Payment {
                                amount: Money::new(amount, &currency),
                                acv: Some(Money::new(acv, &currency)),
                            },
                        ))
                    }
                }
            }
        }
        "charge.refunded" => {
            let (amount, _) = money(object, "amount")?;
            let refunded = integer(object, "amount_refunded").unwrap_or(0);
            let account = metadata_account(object, key)
                .map(AccountRef::Account)
                .or_else(|| text(object, "customer").map(|c| AccountRef::Customer(c.to_owned())))
                .or_else(|| text(object, "id").map(|c| AccountRef::Charge(c.to_owned())));
            match account {
                None => Err(Ignored::NoAccount),
                Some(_) if refunded < amount => Err(Ignored::PartialRefund),
                Some(account) => Ok(event_of(account, BillingFact::Refund)),
            }
        }
        "charge.dispute.created" => {
            let account = metadata_account(object, key)
                .map(AccountRef::Account)
                .or_else(|| text(object, "charge").map(|c| AccountRef::Charge(c.to_owned())));
            match account {
                None => Err(Ignored::NoAccount),
                Some(account) => Ok(event_of(account, BillingFact::Chargeback)),
            }
        }
        "customer.subscription.deleted" => {
            let account = metadata_account(object, key)
                .map(AccountRef::Account)
                .or_else(|| text(object, "customer").map(|c| AccountRef::Customer(c.to_owned())));
            match account {
                None => Err(Ignored::NoAccount),
                Some(account) => Ok(event_of(account, BillingFact::Cancellation)),
            }
        }
        _ => Err(Ignored::UnhandledType),
    };
    Ok(mapped)
}

/// Why a `Stripe-Signature` header is refused.
#[cfg(feature = "signing")]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("no v1 signature matches a current secret")]
    NoMatch,
}

#[cfg(feature = "signing")]
impl SignatureError {
    pub fn reason(&self) -> &'static str {
        match self {
            SignatureError::Malformed => "malformed_signature",
            SignatureError::Stale => "stale_signature",
            SignatureError::NoMatch => "bad_signature",
        }
    }
}

/// Stripe's webhook signature check: `t=<unix>,v1=<hex>[,v1=…]`, each `v1`
/// an HMAC-SHA256 of `"<t>.<body>"` under the endpoint's secret (several
/// secrets while one is rolled; several `v1` while Stripe rolls). The
/// timestamp must be within `tolerance_secs` of `now` (Stripe's libraries
/// use 300). Constant-time comparison. Returns the signed timestamp.
#[cfg(feature = "signing")]
pub fn verify_signature(
    header: &str,
    body: &[u8],
    secrets: &[&[u8]],
    now: u64,
    tolerance_secs: u64,
) -> Result<u64, SignatureError> {
    use hmac::{Hmac, Mac};
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" => {
                timestamp = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| SignatureError::Malformed)?,
                )
            }
            "v1" => signatures
                .push(crate::code::hex_bytes::decode(value).ok_or(SignatureError::Malformed)?),
            // v0 (test-only scheme) and future schemes are not checked.
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoMatch);
    }
    if now.abs_diff(t) > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    for secret in secrets {
        for signature in &signatures {
            let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
                continue;
            };
            mac.update(t.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            if mac.verify_slice(signature).is_ok() {
                return Ok(t);
            }
        }
    }
    Err(SignatureError::NoMatch)
}
