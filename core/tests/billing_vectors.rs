//! The billing vectors, read back by core: what the Stripe adapter reads
//! from each event, what the signature check says of each header (made by
//! Stripe's own library), and the first-year value rule.
#![allow(clippy::unwrap_used)]
#![cfg(all(feature = "json", feature = "signing"))]

use referral_core::billing::stripe::{map_event, verify_signature, StripeOptions};
use referral_core::billing::{first_year_value, Interval};
use serde_json::{json, Value};

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/vectors.json");
    serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()["billing"]
        .clone()
}

#[test]
fn stripe_events_map_as_the_vectors_say() {
    let cases = vectors()["stripe_events"].as_array().unwrap().clone();
    assert!(cases.len() >= 12);
    for case in cases {
        let options = StripeOptions {
            live_mode: case["live_mode"].as_bool().unwrap(),
            account_key: case["account_key"].as_str().unwrap().to_owned(),
        };
        let got = match map_event(case["body"].as_str().unwrap(), &options) {
            Ok(m) => json!({
                "event_id": m.event_id, "event_type": m.event_type, "links": m.links,
                "billing": m.outcome.as_ref().ok(), "ignored": m.outcome.as_ref().err().map(|r| r.code()),
            }),
            Err(e) => json!({ "error": e.reason() }),
        };
        assert_eq!(got, case["expected"], "{}", case["name"]);
    }
}

#[test]
fn stripe_signatures_verify_as_the_vectors_say() {
    let cases = vectors()["stripe_signatures"].as_array().unwrap().clone();
    assert!(cases.iter().any(|c| c["expected"]["timestamp"].is_u64()));
    for case in cases {
        let secrets: Vec<String> = serde_json::from_value(case["secrets"].clone()).unwrap();
        let keys: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
        let got = match verify_signature(
            case["header"].as_str().unwrap(),
            case["body"].as_str().unwrap().as_bytes(),
            &keys,
            case["now"].as_u64().unwrap(),
            case["tolerance_secs"].as_u64().unwrap(),
        ) {
            Ok(t) => json!({ "timestamp": t }),
            Err(e) => json!({ "error": e.reason() }),
        };
        assert_eq!(got, case["expected"], "{}", case["name"]);
    }
}

#[test]
fn first_year_values_are_as_the_vectors_say() {
    for case in vectors()["first_year_value"].as_array().unwrap() {
        let interval: Interval = serde_json::from_value(case["interval"].clone()).unwrap();
        let got = first_year_value(
            case["amount_minor"].as_i64().unwrap(),
            interval,
            case["count"].as_u64().unwrap() as u32,
        );
        assert_eq!(got, case["expected"].as_i64().unwrap());
    }
}
