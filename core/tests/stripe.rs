//! Stripe's events through core's adapter, built from Stripe's published
//! object fixtures (`tests/fixtures/stripe/`).
#![allow(clippy::unwrap_used)]
#![cfg(feature = "json")]

use referral_core::billing::stripe::{map_event, Ignored, StripeOptions};
use referral_core::billing::{AccountRef, BillingFact};
use referral_core::rewards::Money;
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../tests/fixtures/stripe/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A webhook event around `object`, as Stripe sends it (`event.json`'s shape).
fn event(kind: &str, object: Value) -> String {
    let mut event = fixture("event");
    event["id"] = json!(format!("evt_{kind}"));
    event["type"] = json!(kind);
    event["created"] = json!(1_780_000_000u64);
    event["livemode"] = json!(false);
    event["data"]["object"] = object;
    event.to_string()
}

fn options() -> StripeOptions {
    StripeOptions::default()
}

#[test]
fn a_subscription_invoice_is_a_payment_with_its_first_year_value() {
    let mut invoice = fixture("invoice");
    invoice["amount_paid"] = json!(4_900);
    invoice["status"] = json!("paid");
    invoice["parent"]["subscription_details"]["metadata"] = json!({ "account_id": "acct_42" });
    // Current API versions: the line names the price only; a monthly period.
    invoice["lines"]["data"][0]["period"] =
        json!({ "start": 1_780_000_000u64, "end": 1_780_000_000u64 + 30 * 86_400 });
    invoice["charge"] = json!("ch_1");
    let mapped = map_event(&event("invoice.paid", invoice.clone()), &options()).unwrap();
    assert_eq!(mapped.event_id, "evt_invoice.paid");
    let billing = mapped.outcome.unwrap();
    assert_eq!(billing.account, AccountRef::Account("acct_42".into()));
    assert_eq!(
        billing.fact,
        BillingFact::Payment {
            amount: Money::new(4_900, "USD"),
            acv: Some(Money::new(58_800, "USD")),
        }
    );
    assert_eq!(billing.at, 1_780_000_000);
    assert_eq!(
        mapped.links,
        vec![("ch_1".to_owned(), AccountRef::Account("acct_42".into()))]
    );

    // An older API version's line with its price: yearly, so × 1.
    invoice["lines"]["data"][0]["price"] = fixture("price");
    invoice["lines"]["data"][0]["price"]["recurring"] =
        json!({ "interval": "year", "interval_count": 1 });
    let yearly = map_event(&event("invoice.paid", invoice.clone()), &options()).unwrap();
    assert!(matches!(
        yearly.outcome.unwrap().fact,
        BillingFact::Payment {
            acv: Some(Money {
                amount_minor: 4_900,
                ..
            }),
            ..
        }
    ));

    // No metadata: the customer, for the host to look up.
    invoice["parent"]["subscription_details"]["metadata"] = Value::Null;
    let by_customer = map_event(&event("invoice.paid", invoice.clone()), &options()).unwrap();
    assert_eq!(
        by_customer.outcome.unwrap().account,
        AccountRef::Customer("cus_QXg1o8vcGmoR32".into())
    );

    // A trial's invoice pays nothing.
    invoice["amount_paid"] = json!(0);
    let trial = map_event(&event("invoice.paid", invoice), &options()).unwrap();
    assert_eq!(trial.outcome, Err(Ignored::ZeroAmount));
}

#[test]
fn checkouts_link_the_customer_and_pay_only_when_one_off() {
    let mut session = fixture("checkout_session");
    session["client_reference_id"] = json!("acct_7");
    session["customer"] = json!("cus_7");
    session["mode"] = json!("subscription");
    session["payment_status"] = json!("paid");
    session["amount_total"] = json!(2_000);
    session["currency"] = json!("eur");
    let subscription = map_event(
        &event("checkout.session.completed", session.clone()),
        &options(),
    )
    .unwrap();
    assert_eq!(subscription.outcome, Err(Ignored::SubscriptionCheckout));
    assert_eq!(
        subscription.links,
        vec![("cus_7".to_owned(), AccountRef::Account("acct_7".into()))]
    );
    session["mode"] = json!("payment");
    let one_off = map_event(
        &event("checkout.session.completed", session.clone()),
        &options(),
    )
    .unwrap();
    assert_eq!(
        one_off.outcome.unwrap().fact,
        BillingFact::Payment {
            amount: Money::new(2_000, "EUR"),
            acv: Some(Money::new(2_000, "EUR"))
        }
    );
    session["payment_status"] = json!("unpaid");
    let unpaid = map_event(
        &event("checkout.session.completed", session.clone()),
        &options(),
    )
    .unwrap();
    assert_eq!(unpaid.outcome, Err(Ignored::NotPaid));
    // The account from metadata when there is no reference id.
    session["client_reference_id"] = Value::Null;
    session["metadata"] = json!({ "account_id": "acct_8" });
    let by_metadata = map_event(&event("checkout.session.completed", session), &options()).unwrap();
    assert_eq!(
        by_metadata.links,
        vec![("cus_7".to_owned(), AccountRef::Account("acct_8".into()))]
    );
}

#[test]
fn refunds_disputes_and_cancellations_reverse() {
    let mut charge = fixture("charge");
    charge["amount_refunded"] = json!(100);
    charge["refunded"] = json!(true);
    charge["customer"] = json!("cus_9");
    let refund = map_event(&event("charge.refunded", charge.clone()), &options()).unwrap();
    let refund = refund.outcome.unwrap();
    assert_eq!(
        (refund.account, refund.fact),
        (AccountRef::Customer("cus_9".into()), BillingFact::Refund)
    );
    charge["amount_refunded"] = json!(40);
    let partial = map_event(&event("charge.refunded", charge), &options()).unwrap();
    assert_eq!(partial.outcome, Err(Ignored::PartialRefund));

    let dispute = map_event(
        &event("charge.dispute.created", fixture("dispute")),
        &options(),
    )
    .unwrap();
    let dispute = dispute.outcome.unwrap();
    assert_eq!(
        dispute.account,
        AccountRef::Charge("ch_1PgafuB7WZ01zgkWXYmPNZs8".into())
    );
    assert_eq!(dispute.fact, BillingFact::Chargeback);

    let mut subscription = fixture("subscription");
    subscription["metadata"] = json!({ "account_id": "acct_3" });
    let deleted = map_event(
        &event("customer.subscription.deleted", subscription),
        &options(),
    )
    .unwrap();
    let deleted = deleted.outcome.unwrap();
    assert_eq!(
        (deleted.account, deleted.fact),
        (
            AccountRef::Account("acct_3".into()),
            BillingFact::Cancellation
        )
    );
}

#[test]
fn other_events_and_modes_are_ignored_and_malformed_ones_refused() {
    let plan = fixture("event").to_string();
    assert_eq!(
        map_event(&plan, &options()).unwrap().outcome,
        Err(Ignored::UnhandledType)
    );
    let live = StripeOptions {
        live_mode: true,
        ..options()
    };
    let test_event = event("charge.dispute.created", fixture("dispute"));
    assert_eq!(
        map_event(&test_event, &live).unwrap().outcome,
        Err(Ignored::WrongMode)
    );
    for bad in [
        "",
        "[]",
        "{\"object\":\"charge\"}",
        "{\"object\":\"event\",\"id\":\"evt\"}",
    ] {
        let error = map_event(bad, &options()).unwrap_err();
        assert!(
            ["invalid_event", "invalid_field"].contains(&error.reason()),
            "{bad}: {error}"
        );
    }
    let mut invoice = fixture("invoice");
    invoice["currency"] = json!("dollars");
    invoice["amount_paid"] = json!(5);
    assert_eq!(
        map_event(&event("invoice.paid", invoice), &options())
            .unwrap_err()
            .reason(),
        "invalid_field"
    );
}

#[cfg(feature = "signing")]
#[test]
fn stripe_signatures_verify_with_rotation_and_tolerance() {
    use hmac::{Hmac, Mac};
    use referral_core::billing::stripe::verify_signature;
    // The scheme as Stripe documents it; the service's tests also check
    // headers made by Stripe's own library.
    let sign = |secret: &[u8], t: u64, body: &[u8]| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    };
    let body = br#"{"id":"evt_1"}"#;
    let (old, new) = (b"whsec_old".as_slice(), b"whsec_new".as_slice());
    let t = 1_780_000_000;
    let header = format!("t={t},v1={},v0=ignored", sign(new, t, body));
    assert_eq!(
        verify_signature(&header, body, &[old, new], t + 10, 300),
        Ok(t)
    );
    assert_eq!(
        verify_signature(&header, body, &[old], t, 300)
            .unwrap_err()
            .reason(),
        "bad_signature"
    );
    assert_eq!(
        verify_signature(&header, body, &[new], t + 301, 300)
            .unwrap_err()
            .reason(),
        "stale_signature"
    );
    assert_eq!(
        verify_signature(&header, b"{}", &[new], t, 300)
            .unwrap_err()
            .reason(),
        "bad_signature"
    );
    // Stripe rolling its signature: two v1 values, one of them ours.
    let two = format!(
        "t={t},v1={},v1={}",
        sign(b"other", t, body),
        sign(old, t, body)
    );
    assert_eq!(verify_signature(&two, body, &[old], t, 300), Ok(t));
    for bad in ["", "t=abc,v1=00", "v1=00", "t=1,v1=zz", "garbage"] {
        assert!(
            verify_signature(bad, body, &[old], t, 300).is_err(),
            "{bad}"
        );
    }
}
