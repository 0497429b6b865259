//! Billing vectors: Stripe events built from Stripe's published fixtures
//! (`tests/fixtures/stripe/`) with what core's adapter reads from them, the
//! first-year value rule, and `Stripe-Signature` headers made by Stripe's
//! own library (stripe-node 23.1.0, `webhooks.generateTestHeaderString`,
//! recorded here) with what core's check says.

use referral_core::billing::stripe::{map_event, verify_signature, StripeOptions};
use referral_core::billing::{first_year_value, Interval};
use serde_json::{json, Value};

fn fixture(name: &str) -> Result<Value, String> {
    let path = format!(
        "{}/../tests/fixtures/stripe/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
}

fn event(id: &str, kind: &str, object: Value) -> Result<Value, String> {
    let mut event = fixture("event")?;
    event["id"] = json!(id);
    event["type"] = json!(kind);
    event["created"] = json!(1_780_000_000u64);
    event["livemode"] = json!(false);
    event["data"]["object"] = object;
    Ok(event)
}

/// Headers stripe-node 23.1.0 made for this payload (see the module doc).
const LIB_PAYLOAD: &str = r#"{"id":"evt_lib","object":"event"}"#;
const LIB_HEADERS: [(&str, u64, &str); 2] = [
    (
        "whsec_vector_secret",
        1_780_000_000,
        "t=1780000000,v1=3a7cdfe478c72e61fba7075e6ef8109e403933876339261ee31d96e3fed805c7",
    ),
    (
        "whsec_vector_rolled",
        1_780_000_123,
        "t=1780000123,v1=ed7927b866531e0b1055530f68b46ef03b0755d8fbf8b339812d9c16057aa2c5",
    ),
];

pub fn cases() -> Result<Value, String> {
    let mut events = Vec::new();
    let mut add = |name: &str, event: Value, live_mode: bool| -> Result<(), String> {
        let options = StripeOptions {
            live_mode,
            ..StripeOptions::default()
        };
        let body = event.to_string();
        let expected = match map_event(&body, &options) {
            Ok(mapped) => json!({
                "event_id": mapped.event_id,
                "event_type": mapped.event_type,
                "links": mapped.links,
                "billing": mapped.outcome.as_ref().ok(),
                "ignored": mapped.outcome.as_ref().err().map(|r| r.code()),
            }),
            Err(e) => json!({ "error": e.reason() }),
        };
        events.push(json!({
            "name": name,
            "body": body,
            "live_mode": live_mode,
            "account_key": options.account_key,
            "expected": expected,
        }));
        Ok(())
    };
    let mut invoice = fixture("invoice")?;
    invoice["amount_paid"] = json!(4_900);
    invoice["charge"] = json!("ch_1");
    invoice["parent"]["subscription_details"]["metadata"] = json!({ "account_id": "acct_42" });
    invoice["lines"]["data"][0]["period"] =
        json!({ "start": 1_780_000_000u64, "end": 1_780_000_000u64 + 30 * 86_400 });
    add(
        "invoice.paid: the subscription's account, a monthly period (ACV × 12)",
        event("evt_v1", "invoice.paid", invoice.clone())?,
        false,
    )?;
    let mut quarterly = invoice.clone();
    quarterly["lines"]["data"][0]["price"] = fixture("price")?;
    quarterly["lines"]["data"][0]["price"]["recurring"] =
        json!({ "interval": "month", "interval_count": 3 });
    add(
        "invoice.paid: a quarterly price (ACV × 4)",
        event("evt_v2", "invoice.paid", quarterly)?,
        false,
    )?;
    let mut by_customer = invoice.clone();
    by_customer["parent"]["subscription_details"]["metadata"] = Value::Null;
    add(
        "invoice.paid: no metadata, the customer",
        event("evt_v3", "invoice.paid", by_customer)?,
        false,
    )?;
    let mut trial = invoice.clone();
    trial["amount_paid"] = json!(0);
    add(
        "invoice.paid: a trial pays nothing",
        event("evt_v4", "invoice.paid", trial)?,
        false,
    )?;
    add(
        "invoice.paid: a test event on a live endpoint",
        event("evt_v5", "invoice.paid", invoice)?,
        true,
    )?;
    let mut session = fixture("checkout_session")?;
    session["client_reference_id"] = json!("acct_7");
    session["customer"] = json!("cus_7");
    session["mode"] = json!("subscription");
    session["payment_status"] = json!("paid");
    session["amount_total"] = json!(2_000);
    session["currency"] = json!("eur");
    add(
        "checkout.session.completed: a subscription links its customer",
        event("evt_v6", "checkout.session.completed", session.clone())?,
        false,
    )?;
    session["mode"] = json!("payment");
    add(
        "checkout.session.completed: a paid one-off checkout",
        event("evt_v7", "checkout.session.completed", session)?,
        false,
    )?;
    let mut charge = fixture("charge")?;
    charge["amount_refunded"] = json!(100);
    charge["customer"] = json!("cus_9");
    add(
        "charge.refunded: in full",
        event("evt_v8", "charge.refunded", charge.clone())?,
        false,
    )?;
    charge["amount_refunded"] = json!(40);
    add(
        "charge.refunded: in part",
        event("evt_v9", "charge.refunded", charge)?,
        false,
    )?;
    add(
        "charge.dispute.created: the charge",
        event("evt_v10", "charge.dispute.created", fixture("dispute")?)?,
        false,
    )?;
    let mut subscription = fixture("subscription")?;
    subscription["metadata"] = json!({ "account_id": "acct_3" });
    add(
        "customer.subscription.deleted",
        event("evt_v11", "customer.subscription.deleted", subscription)?,
        false,
    )?;
    add(
        "plan.created: not about referrals",
        fixture("event")?,
        false,
    )?;
    add("not an event", json!({ "object": "charge" }), false)?;

    let mut signatures = Vec::new();
    let mut check = |name: &str, header: &str, body: &str, secrets: &[&str], now: u64| {
        let keys: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
        let expected = match verify_signature(header, body.as_bytes(), &keys, now, 300) {
            Ok(t) => json!({ "timestamp": t }),
            Err(e) => json!({ "error": e.reason() }),
        };
        signatures.push(json!({
            "name": name, "header": header, "body": body, "secrets": secrets,
            "now": now, "tolerance_secs": 300, "expected": expected,
        }));
    };
    let (secret, t, header) = LIB_HEADERS[0];
    let (rolled, t2, rolled_header) = LIB_HEADERS[1];
    check(
        "made by stripe-node",
        header,
        LIB_PAYLOAD,
        &[secret],
        t + 60,
    );
    check(
        "while a secret is rolled: either verifies",
        rolled_header,
        LIB_PAYLOAD,
        &[secret, rolled],
        t2,
    );
    check(
        "another endpoint's secret",
        header,
        LIB_PAYLOAD,
        &[rolled],
        t,
    );
    check(
        "a changed body",
        header,
        r#"{"id":"evt_lib","object":"event","x":1}"#,
        &[secret],
        t,
    );
    check("too old", header, LIB_PAYLOAD, &[secret], t + 301);
    check("from the future", header, LIB_PAYLOAD, &[secret], t - 301);
    check("no timestamp", "v1=00", LIB_PAYLOAD, &[secret], t);
    check("not hex", "t=1780000000,v1=zz", LIB_PAYLOAD, &[secret], t);
    check("no v1", "t=1780000000,v0=00", LIB_PAYLOAD, &[secret], t);

    let first_year: Vec<Value> = [
        (4_900, Interval::Month, 1),
        (4_900, Interval::Month, 3),
        (4_900, Interval::Year, 1),
        (100, Interval::Week, 2),
        (10, Interval::Day, 1),
    ]
    .into_iter()
    .map(|(amount, interval, count)| {
        json!({ "amount_minor": amount, "interval": interval, "count": count,
                "expected": first_year_value(amount, interval, count) })
    })
    .collect();
    Ok(json!({
        "comment": "Stripe events from Stripe's published fixtures; signature headers made by stripe-node 23.1.0.",
        "stripe_events": events,
        "stripe_signatures": signatures,
        "first_year_value": first_year,
    }))
}
