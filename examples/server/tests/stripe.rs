//! Stripe's own webhooks at `/api/v1/webhooks/stripe`: `Stripe-Signature`
//! checked (rotation, tolerance), events built from Stripe's published
//! fixtures read by core's adapter, customers and charges linked to
//! accounts, idempotent on the event id. (Signatures made by Stripe's own
//! library are checked by `tests/e2e/stripe.mjs`.)

mod common;

use axum::http::StatusCode;
use common::{service, Call};
use referral_server::Clock;
use serde_json::{json, Value};

const SECRET: &str = "whsec_test_current";
const OLD_SECRET: &str = "whsec_test_previous";

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/fixtures/stripe/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn event(id: &str, kind: &str, object: Value) -> Value {
    let mut event = fixture("event");
    event["id"] = json!(id);
    event["type"] = json!(kind);
    event["created"] = json!(Clock::real_now());
    event["livemode"] = json!(false);
    event["data"]["object"] = object;
    event
}

fn signed(secret: &str, t: u64, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn deliver(s: &common::Service, event: &Value, secret: &str) -> common::Reply {
    let body = event.to_string();
    Call::new("POST", "/api/v1/webhooks/stripe")
        .header("stripe-signature", signed(secret, Clock::real_now(), &body))
        .header("content-type", "application/json")
        .raw(body)
        .send(&s.router)
        .await
}

fn invoice(customer: &str, charge: &str, amount: i64) -> Value {
    let mut invoice = fixture("invoice");
    invoice["customer"] = json!(customer);
    invoice["charge"] = json!(charge);
    invoice["amount_paid"] = json!(amount);
    invoice["status"] = json!("paid");
    let start = Clock::real_now();
    invoice["lines"]["data"][0]["period"] = json!({ "start": start, "end": start + 30 * 86_400 });
    invoice
}

fn checkout(account: &str, customer: &str) -> Value {
    let mut session = fixture("checkout_session");
    session["client_reference_id"] = json!(account);
    session["customer"] = json!(customer);
    session["mode"] = json!("subscription");
    session["payment_status"] = json!("paid");
    session["status"] = json!("complete");
    session
}

async fn referred(s: &common::Service, referrer: &str, friend: &str) {
    let r = s
        .register(referrer, &format!("{referrer}@{referrer}.example"), "Anna")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let code = s.links(referrer).await["codes"]["email"]
        .as_str()
        .unwrap()
        .to_owned();
    let signup = s
        .signup(json!({ "user_id": friend, "email": format!("{friend}@{friend}.example"), "code": code }))
        .await;
    assert_eq!(signup.body["reason"], "attributed", "{}", signup.text);
}

async fn entries(s: &common::Service, referrer: &str) -> Value {
    Call::new("GET", "/api/v1/me/stats")
        .bearer(&s.user_token(referrer))
        .send(&s.router)
        .await
        .body["entries"]
        .clone()
}

#[tokio::test]
async fn stripe_events_pay_and_reverse_referrals() {
    let off = service(&[]).await;
    let refused = deliver(
        &off,
        &event("evt_0", "invoice.paid", invoice("cus_x", "ch_x", 100)),
        SECRET,
    )
    .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert_eq!(refused.error(), "stripe_not_configured");

    let s = service(&["--stripe-webhook-secret", &format!("{SECRET},{OLD_SECRET}")]).await;
    referred(&s, "st-anna", "st-bo").await;
    // The checkout links Bo's customer; a subscription's payment comes
    // with its invoice.
    let linked = deliver(
        &s,
        &event(
            "evt_1",
            "checkout.session.completed",
            checkout("st-bo", "cus_bo"),
        ),
        SECRET,
    )
    .await;
    assert_eq!(
        linked.body,
        json!({ "outcome": "ignored", "reason": "subscription_checkout" }),
        "{}",
        linked.text
    );
    // The invoice names only the customer: it pays Bo's referral. The
    // secret being rolled out still verifies.
    let paid = deliver(
        &s,
        &event("evt_2", "invoice.paid", invoice("cus_bo", "ch_bo", 4_900)),
        OLD_SECRET,
    )
    .await;
    assert_eq!(paid.body["outcome"], "rewarded", "{}", paid.text);
    assert_eq!(entries(&s, "st-anna").await[0]["status"], "held");
    // Stripe delivers at least once.
    let again = deliver(
        &s,
        &event("evt_2", "invoice.paid", invoice("cus_bo", "ch_bo", 4_900)),
        SECRET,
    )
    .await;
    assert_eq!(again.body["outcome"], "duplicate", "{}", again.text);
    // A dispute names only the charge: the reward is reversed.
    let dispute = {
        let mut d = fixture("dispute");
        d["charge"] = json!("ch_bo");
        d
    };
    let reversed = deliver(
        &s,
        &event("evt_3", "charge.dispute.created", dispute),
        SECRET,
    )
    .await;
    assert_eq!(reversed.body["outcome"], "reversed", "{}", reversed.text);
    assert_eq!(entries(&s, "st-anna").await[0]["status"], "reversed");
}

#[tokio::test]
async fn an_invoice_before_its_checkout_waits_for_the_link() {
    let s = service(&["--stripe-webhook-secret", SECRET]).await;
    referred(&s, "st-cy", "st-di").await;
    let early = deliver(
        &s,
        &event("evt_10", "invoice.paid", invoice("cus_di", "ch_di", 4_900)),
        SECRET,
    )
    .await;
    assert_eq!(
        early.body,
        json!({ "outcome": "pending" }),
        "{}",
        early.text
    );
    assert_eq!(entries(&s, "st-cy").await, json!([]));
    let linked = deliver(
        &s,
        &event(
            "evt_11",
            "checkout.session.completed",
            checkout("st-di", "cus_di"),
        ),
        SECRET,
    )
    .await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text);
    assert_eq!(entries(&s, "st-cy").await[0]["status"], "held");
    // A full refund on the charge (linked by the invoice) reverses it.
    let mut charge = fixture("charge");
    charge["id"] = json!("ch_di");
    charge["amount"] = json!(4_900);
    charge["amount_refunded"] = json!(4_900);
    charge["refunded"] = json!(true);
    let refund = deliver(&s, &event("evt_12", "charge.refunded", charge), SECRET).await;
    assert_eq!(refund.body["outcome"], "reversed", "{}", refund.text);
}

#[tokio::test]
async fn forged_stale_and_malformed_deliveries_are_refused() {
    let s = service(&["--stripe-webhook-secret", SECRET]).await;
    let body = event("evt_20", "invoice.paid", invoice("cus_z", "ch_z", 100)).to_string();
    let send = |header: String, body: String| {
        Call::new("POST", "/api/v1/webhooks/stripe")
            .header("stripe-signature", header)
            .header("content-type", "application/json")
            .raw(body)
    };
    let now = Clock::real_now();
    let forged = send(signed("whsec_wrong", now, &body), body.clone())
        .send(&s.router)
        .await;
    assert_eq!(
        (forged.status, forged.error()),
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );
    let stale = send(signed(SECRET, now - 3_600, &body), body.clone())
        .send(&s.router)
        .await;
    assert_eq!(stale.error(), "stale_signature");
    let tampered = send(signed(SECRET, now, &body), body.replace("100", "999"))
        .send(&s.router)
        .await;
    assert_eq!(tampered.error(), "bad_signature");
    let missing = Call::new("POST", "/api/v1/webhooks/stripe")
        .raw(body.clone())
        .send(&s.router)
        .await;
    assert_eq!(missing.error(), "missing_signature");
    let junk = send(
        signed(SECRET, now, "{\"object\":\"event\"}"),
        "{\"object\":\"event\"}".into(),
    )
    .send(&s.router)
    .await;
    assert_eq!(
        (junk.status, junk.error()),
        (StatusCode::BAD_REQUEST, "invalid_field")
    );
    // A live-mode event on a test endpoint changes nothing.
    let mut live = event("evt_21", "invoice.paid", invoice("cus_z", "ch_z", 100));
    live["livemode"] = json!(true);
    let ignored = deliver(&s, &live, SECRET).await;
    assert_eq!(
        ignored.body,
        json!({ "outcome": "ignored", "reason": "wrong_mode" })
    );
}
