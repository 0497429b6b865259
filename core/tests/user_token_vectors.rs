//! Runs the shared vector file's `user_tokens` section against this crate,
//! with the `codes` section's keys. The Python and Kotlin tests read the
//! same file.
#![allow(clippy::unwrap_used)]

use referral_core::{KeyStatus, Keyring, UserTokenClaims, UserTokenPolicy, UserTokenRequest};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../tests/vectors/vectors.json")).unwrap()
}

fn secret(codes: &Value, key_id: u64) -> Vec<u8> {
    codes["keyring"]
        .as_array()
        .unwrap()
        .iter()
        .chain(codes["unlisted_keys"].as_array().unwrap())
        .find(|k| k["key_id"].as_u64() == Some(key_id))
        .map(|k| hex::decode(k["secret_hex"].as_str().unwrap()).unwrap())
        .expect("secret for key")
}

fn shared_keyring(codes: &Value) -> Keyring {
    let keys: Vec<(u32, Vec<u8>, KeyStatus)> = codes["keyring"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let id = k["key_id"].as_u64().unwrap();
            (
                id as u32,
                secret(codes, id),
                serde_json::from_value(k["status"].clone()).unwrap(),
            )
        })
        .collect();
    Keyring::from_keys(keys.iter().map(|(i, s, st)| (*i, s.as_slice(), *st))).unwrap()
}

fn request(value: &Value) -> UserTokenRequest {
    UserTokenRequest {
        subject: value["subject"].as_str().unwrap().to_owned(),
        audience: value["audience"].as_str().unwrap().to_owned(),
        ttl_secs: value["ttl_secs"].as_u64().unwrap(),
    }
}

fn policy(tokens: &Value, audience: &str) -> UserTokenPolicy {
    UserTokenPolicy {
        audience: audience.to_owned(),
        max_clock_skew_secs: tokens["policy"]["max_clock_skew_secs"].as_u64().unwrap(),
    }
}

#[test]
fn minted_user_tokens_match_byte_for_byte() {
    let v = vectors();
    let (codes, tokens) = (&v["codes"], &v["user_tokens"]);
    let shared = shared_keyring(codes);
    let cases = tokens["mint"]["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    let mut key_ids = std::collections::BTreeSet::new();
    for case in cases {
        let key_id = case["key_id"].as_u64().unwrap();
        key_ids.insert(key_id);
        let ring = Keyring::new(key_id as u32, &secret(codes, key_id)).unwrap();
        let req = request(&case["request"]);
        let now = case["now"].as_u64().unwrap();
        let token = ring.mint_user_token(&req, now).unwrap();
        assert_eq!(token, case["token"].as_str().unwrap(), "{}", case["name"]);
        assert_eq!(token.len() as u64, case["length"].as_u64().unwrap());
        let claims = shared
            .verify_user_token(&token, &policy(tokens, &req.audience), now)
            .unwrap();
        let expected: UserTokenClaims = serde_json::from_value(case["claims"].clone()).unwrap();
        assert_eq!(claims, expected, "{}", case["name"]);
    }
    // The active key and the rotated-out one both mint in the file.
    assert!(key_ids.contains(&1) && key_ids.contains(&2), "{key_ids:?}");
}

#[test]
fn mint_refusals_match() {
    let v = vectors();
    let shared = shared_keyring(&v["codes"]);
    let mut reasons = std::collections::BTreeSet::new();
    for case in v["user_tokens"]["mint_errors"]["cases"].as_array().unwrap() {
        let error = shared
            .mint_user_token(&request(&case["request"]), case["now"].as_u64().unwrap())
            .expect_err(case["name"].as_str().unwrap());
        assert_eq!(error.reason(), case["error"], "{}", case["name"]);
        reasons.insert(error.reason());
    }
    for reason in ["invalid_subject", "invalid_audience", "invalid_ttl"] {
        assert!(
            reasons.contains(reason),
            "no mint vector refused with {reason}"
        );
    }
}

#[test]
fn verify_cases_decide_identically() {
    let v = vectors();
    let tokens = &v["user_tokens"];
    let shared = shared_keyring(&v["codes"]);
    let policy = policy(tokens, tokens["policy"]["audience"].as_str().unwrap());
    let mut reasons = std::collections::BTreeSet::new();
    for case in tokens["verify"]["cases"].as_array().unwrap() {
        let result = shared.verify_user_token(
            case["token"].as_str().unwrap(),
            &policy,
            case["now"].as_u64().unwrap(),
        );
        match (&result, case.get("error")) {
            (Err(error), Some(expected)) => {
                assert_eq!(error.reason(), expected, "{}", case["name"]);
                reasons.insert(error.reason());
            }
            (Ok(claims), None) => {
                let expected: UserTokenClaims = serde_json::from_value(case["ok"].clone()).unwrap();
                assert_eq!(claims, &expected, "{}", case["name"]);
            }
            _ => panic!("{}: got {result:?}, expected {case}", case["name"]),
        }
    }
    for reason in [
        "malformed",
        "unsupported_version",
        "unknown_key",
        "retired_key",
        "bad_signature",
        "expired",
        "issued_in_future",
        "wrong_audience",
    ] {
        assert!(
            reasons.contains(reason),
            "no verify vector fails with {reason}"
        );
    }
}
