//! Runs the shared vector file's `codes`, `share` and `hmac_rfc4231` sections
//! against this crate. The Python, Kotlin and WASM tests read the same file.
#![allow(clippy::unwrap_used)]

use referral_core::keyring::hmac_sha256;
use referral_core::{
    peek, referral_url, share_action, Channel, Claims, KeyStatus, Keyring, LinkOptions,
    MessageVars, MintRequest, ShareAction, ShareMessage, Template, Verifier, VerifyPolicy,
};
use serde_json::Value;

fn vectors() -> Value {
    let text = include_str!("../../tests/vectors/vectors.json");
    serde_json::from_str(text).expect("vector file is JSON")
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).expect("hex")
}

fn shared_keyring(codes: &Value) -> Keyring {
    let keys: Vec<(u32, Vec<u8>, KeyStatus)> = codes["keyring"]
        .as_array()
        .expect("keyring")
        .iter()
        .map(|key| {
            (
                key["key_id"].as_u64().expect("key id") as u32,
                unhex(key["secret_hex"].as_str().expect("secret")),
                serde_json::from_value(key["status"].clone()).expect("status"),
            )
        })
        .collect();
    Keyring::from_keys(
        keys.iter()
            .map(|(id, secret, status)| (*id, secret.as_slice(), *status)),
    )
    .expect("keyring")
}

#[test]
fn hmac_matches_rfc4231() {
    // Expected values from RFC 4231 section 4, typed in independently of the
    // generator so a regression in both cannot hide.
    let rfc: [(&str, &str); 6] = [
        (
            "1",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            "2",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            "3",
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        ),
        (
            "4",
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
        (
            "6",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            "7",
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ];
    let vectors = vectors();
    let cases = vectors["hmac_rfc4231"].as_array().expect("cases");
    assert_eq!(cases.len(), rfc.len());
    for (case, (name, expected)) in cases.iter().zip(rfc) {
        assert_eq!(case["case"], name);
        let key = unhex(case["key_hex"].as_str().unwrap());
        let data = unhex(case["data_hex"].as_str().unwrap());
        assert_eq!(
            hex::encode(hmac_sha256(&key, &data)),
            expected,
            "RFC 4231 case {name}"
        );
        assert_eq!(case["hmac_sha256_hex"], expected);
    }
}

/// RFC 4231 test case 5: output truncated to 128 bits, checked through the
/// same constant-time truncated comparison codes use.
#[test]
fn hmac_truncation_matches_rfc4231_case_5() {
    use hmac::{Hmac, Mac};
    let key = [0x0c; 20];
    let data = b"Test With Truncation";
    let full = hmac_sha256(&key, data);
    assert_eq!(hex::encode(&full[..16]), "a3b6167473100ee06e0c796c2955552b");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(data);
    assert!(mac
        .verify_truncated_left(&hex::decode("a3b6167473100ee06e0c796c2955552b").unwrap())
        .is_ok());
}

#[test]
fn minted_codes_match_byte_for_byte() {
    let vectors = vectors();
    let codes = &vectors["codes"];
    for case in codes["mint"]["cases"].as_array().expect("mint cases") {
        let key_id = case["key_id"].as_u64().unwrap() as u32;
        let secret = codes["keyring"]
            .as_array()
            .unwrap()
            .iter()
            .chain(codes["unlisted_keys"].as_array().unwrap())
            .find(|k| k["key_id"].as_u64() == Some(u64::from(key_id)))
            .map(|k| unhex(k["secret_hex"].as_str().unwrap()))
            .expect("secret for key");
        let ring = Keyring::new(key_id, &secret).unwrap();
        let request: MintRequest = serde_json::from_value(case["request"].clone()).unwrap();
        let code = ring.mint(&request, case["now"].as_u64().unwrap()).unwrap();
        assert_eq!(
            code.as_str(),
            case["code"].as_str().unwrap(),
            "{}",
            case["name"]
        );
        let claims: Claims = serde_json::from_value(case["claims"].clone()).unwrap();
        assert_eq!(peek(code.as_str()).unwrap().unverified(), &claims);
    }
}

#[test]
fn verify_and_peek_cases_decide_identically() {
    let vectors = vectors();
    let codes = &vectors["codes"];
    let policy: VerifyPolicy = serde_json::from_value(codes["policy"].clone()).unwrap();
    let verifier = Verifier::new(shared_keyring(codes), policy);
    let mut failures = 0;
    for case in codes["verify"]["cases"].as_array().unwrap() {
        let result = verifier.verify(
            case["code"].as_str().unwrap(),
            case["now"].as_u64().unwrap(),
        );
        match (&result, case.get("error")) {
            (Err(error), Some(expected)) => {
                assert_eq!(error.reason(), expected, "{}", case["name"])
            }
            (Ok(claims), None) => {
                let expected: Claims = serde_json::from_value(case["ok"].clone()).unwrap();
                assert_eq!(claims.claims(), &expected, "{}", case["name"]);
            }
            _ => panic!("{}: got {result:?}, expected {case}", case["name"]),
        }
        failures += usize::from(result.is_err());
    }
    assert!(
        failures >= 15,
        "the file must hold failing cases, found {failures}"
    );
    for case in codes["peek"]["cases"].as_array().unwrap() {
        let result = peek(case["code"].as_str().unwrap());
        match (&result, case.get("error")) {
            (Err(error), Some(expected)) => {
                assert_eq!(error.reason(), expected, "{}", case["name"])
            }
            (Ok(claims), None) => {
                let expected: Claims = serde_json::from_value(case["ok"].clone()).unwrap();
                assert_eq!(claims.unverified(), &expected, "{}", case["name"]);
            }
            _ => panic!("{}: got {result:?}, expected {case}", case["name"]),
        }
    }
}

#[test]
fn every_code_error_reason_is_covered_by_the_vectors() {
    let vectors = vectors();
    let reasons: Vec<&str> = vectors["codes"]["verify"]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["error"].as_str())
        .collect();
    for reason in [
        "malformed",
        "unsupported_version",
        "unknown_key",
        "retired_key",
        "bad_signature",
        "expired",
        "issued_in_future",
        "wrong_program",
    ] {
        assert!(reasons.contains(&reason), "no vector fails with {reason}");
    }
}

#[test]
fn share_cases_build_identically() {
    let vectors = vectors();
    let share = &vectors["share"];
    let message: ShareMessage = serde_json::from_value(share["message"].clone()).unwrap();
    let vars: MessageVars = serde_json::from_value(share["vars"].clone()).unwrap();
    for case in share["cases"].as_array().unwrap() {
        let options: LinkOptions = serde_json::from_value(case["link_options"].clone()).unwrap();
        let channel: Channel = serde_json::from_value(case["channel"].clone()).unwrap();
        let link = referral_url(&options, case["code"].as_str().unwrap(), channel).unwrap();
        assert_eq!(link, case["link"].as_str().unwrap(), "{}", case["name"]);
        let action: ShareAction = serde_json::from_value(case["action"].clone()).unwrap();
        assert_eq!(
            share_action(channel, &link, &message, &vars),
            action,
            "{}",
            case["name"]
        );
    }
    for case in share["invalid_base_urls"].as_array().unwrap() {
        let error = referral_url(
            &LinkOptions::new(case["base_url"].as_str().unwrap()),
            "C",
            Channel::Link,
        )
        .expect_err("invalid base url");
        assert_eq!(error.reason(), case["error"].as_str().unwrap());
    }
    for case in share["invalid_templates"].as_array().unwrap() {
        let error =
            Template::parse(case["template"].as_str().unwrap()).expect_err("invalid template");
        assert_eq!(error.reason(), case["error"].as_str().unwrap());
    }
}
