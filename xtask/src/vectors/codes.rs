//! Code vectors: a keyring (active, verify-only and retired keys), minted
//! codes with their claims, and codes that must fail with a given reason.

use referral_core::keyring::hmac_sha256;
use referral_core::{
    base62, Channel, KeyStatus, Keyring, MintRequest, ReferrerId, Verifier, VerifyPolicy,
};
use serde_json::{json, Value};

use super::hex;

/// Deterministic 32-byte secrets, so the file never changes by itself.
fn secret(key_id: u32) -> Vec<u8> {
    (0..32u8)
        .map(|i| {
            i.wrapping_mul(7)
                .wrapping_add((key_id as u8).wrapping_mul(31))
        })
        .collect()
}

const PROGRAM: u32 = 7;
pub(super) const NOW: u64 = 1_780_000_000; // 2026-05-28
const POLICY: VerifyPolicy = VerifyPolicy {
    program_id: PROGRAM,
    max_age_secs: 90 * 86_400,
    max_clock_skew_secs: 300,
};

pub(super) fn keyring_with_active(key_id: u32) -> Result<Keyring, String> {
    Keyring::new(key_id, &secret(key_id)).map_err(|e| e.to_string())
}

/// Key 1 was rotated out (verify-only), key 2 mints, key 3 is retired.
pub(super) fn shared_keyring() -> Result<Keyring, String> {
    let mut ring = keyring_with_active(1)?;
    ring.rotate(2, &secret(2)).map_err(|e| e.to_string())?;
    ring.add_key(3, &secret(3), KeyStatus::Retired)
        .map_err(|e| e.to_string())?;
    Ok(ring)
}

/// The vectors' keyring and policy, for sections that verify codes.
pub fn shared_verifier() -> Result<Verifier, String> {
    Ok(Verifier::new(shared_keyring()?, POLICY))
}

fn request(
    referrer: ReferrerId,
    channel: Channel,
    campaign: Option<u32>,
    program_id: u32,
) -> MintRequest {
    MintRequest {
        program_id,
        referrer,
        channel,
        campaign,
    }
}

fn mint(key_id: u32, req: &MintRequest, now: u64) -> Result<String, String> {
    keyring_with_active(key_id)?
        .mint(req, now)
        .map(|c| c.into_string())
        .map_err(|e| e.to_string())
}

pub fn cases() -> Result<Value, String> {
    let uuid = vec![
        0x6f, 0x2c, 0x1e, 0x8a, 0x4b, 0x3d, 0x4e, 0x1f, 0x9a, 0x7c, 0x55, 0x21, 0x0b, 0xee, 0x42,
        0x19,
    ];
    let opaque = |bytes: Vec<u8>| ReferrerId::opaque(bytes).map_err(|e| e.to_string());
    let mint_inputs: Vec<(&str, u32, MintRequest, u64)> = vec![
        (
            "small numeric referrer",
            2,
            request(ReferrerId::Numeric(42), Channel::Link, None, PROGRAM),
            NOW,
        ),
        (
            "million-user numeric referrer",
            2,
            request(
                ReferrerId::Numeric(1_000_000),
                Channel::Email,
                None,
                PROGRAM,
            ),
            NOW,
        ),
        (
            "u32::MAX referrer",
            2,
            request(
                ReferrerId::Numeric(u64::from(u32::MAX)),
                Channel::LinkedIn,
                None,
                PROGRAM,
            ),
            NOW,
        ),
        (
            "u64::MAX referrer",
            2,
            request(ReferrerId::Numeric(u64::MAX), Channel::X, None, u32::MAX),
            NOW,
        ),
        (
            "uuid referrer with campaign",
            2,
            request(opaque(uuid)?, Channel::WhatsApp, Some(2026), PROGRAM),
            NOW,
        ),
        (
            "string referrer",
            2,
            request(
                ReferrerId::from_text("usr_8f2kQ").map_err(|e| e.to_string())?,
                Channel::Sms,
                None,
                PROGRAM,
            ),
            NOW,
        ),
        (
            "32-byte string referrer",
            2,
            request(
                opaque(b"acct-0123456789abcdef0123456789a".to_vec())?,
                Channel::NativeShare,
                None,
                PROGRAM,
            ),
            NOW,
        ),
        (
            "minted by the rotated-out key",
            1,
            request(ReferrerId::Numeric(77), Channel::Qr, None, PROGRAM),
            NOW - 30 * 86_400,
        ),
        (
            "issued at the epoch",
            2,
            request(ReferrerId::Numeric(1), Channel::Link, None, PROGRAM),
            1_704_067_200,
        ),
    ];
    let ring = shared_keyring()?;
    let verifier = Verifier::new(ring.clone(), POLICY);
    let mut mint_cases = Vec::new();
    for (name, key_id, req, issued_at) in &mint_inputs {
        let code = mint(*key_id, req, *issued_at)?;
        let claims = referral_core::peek(&code)
            .map_err(|e| e.to_string())?
            .into_unverified();
        mint_cases.push(json!({
            "name": name,
            "key_id": key_id,
            "request": req,
            "now": issued_at,
            "code": code,
            "length": code.len(),
            "claims": claims,
        }));
    }

    let valid = mint(2, &mint_inputs[0].2, NOW)?;
    let mut tampered = valid.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).map_err(|e| e.to_string())?;
    let mut other_payload = valid.clone().into_bytes();
    other_payload[4] = if other_payload[4] == b'a' { b'b' } else { b'a' };
    let other_payload = String::from_utf8(other_payload).map_err(|e| e.to_string())?;
    let unknown_key = mint(9, &mint_inputs[0].2, NOW)?;
    let retired_key = mint(3, &mint_inputs[0].2, NOW)?;
    let wrong_program = mint(
        2,
        &request(ReferrerId::Numeric(42), Channel::Link, None, 8),
        NOW,
    )?;
    let future = mint(2, &mint_inputs[0].2, NOW + 301)?;
    let skewed_ok = mint(2, &mint_inputs[0].2, NOW + 300)?;
    let old = mint(2, &mint_inputs[0].2, NOW - 90 * 86_400)?;
    let nearly_old = mint(2, &mint_inputs[0].2, NOW - 90 * 86_400 + 1)?;
    let version_two = base62::encode(&[2, 0, 2, 7, 42, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    let reserved_flags = base62::encode(&[1, 0x40, 2, 7, 42, 1, 1, 2, 3, 4, 5, 6, 7, 8]);
    let unknown_channel = base62::encode(&[1, 0x0f, 2, 7, 42, 1, 1, 2, 3, 4, 5, 6, 7, 8]);
    let overlong_varint = base62::encode(&[1, 0, 0x82, 0x00, 7, 42, 1, 1, 2, 3, 4, 5, 6, 7, 8]);
    let short_tag = base62::encode(&[1, 0, 2, 7, 42, 1, 1, 2, 3, 4, 5, 6, 7]);
    let long_tag = base62::encode(&[1, 0, 2, 7, 42, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    let verify_inputs: Vec<(&str, String, u64)> = vec![
        ("valid", valid.clone(), NOW),
        ("valid, verified a day later", valid.clone(), NOW + 86_400),
        (
            "rotated-out key still verifies",
            mint_cases[7]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            NOW,
        ),
        (
            "uuid referrer",
            mint_cases[4]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            NOW,
        ),
        ("tampered tag", tampered, NOW),
        ("tampered payload", other_payload, NOW),
        ("unknown key", unknown_key, NOW),
        ("retired key", retired_key, NOW),
        ("wrong program", wrong_program, NOW),
        ("issued beyond the clock skew", future, NOW),
        ("issued at the edge of the clock skew", skewed_ok, NOW),
        ("expired at exactly max age", old, NOW),
        ("one second before expiry", nearly_old, NOW),
        ("unsupported version", version_two, NOW),
        ("reserved flag bits", reserved_flags, NOW),
        ("unknown channel", unknown_channel, NOW),
        ("overlong varint", overlong_varint, NOW),
        ("tag too short", short_tag, NOW),
        ("trailing bytes", long_tag, NOW),
        ("empty", String::new(), NOW),
        ("not base62", "abc-def".to_owned(), NOW),
        ("leading zero digit", format!("0{valid}"), NOW),
        ("url-encoded junk", "%3Cscript%3E".to_owned(), NOW),
    ];
    let mut verify_cases = Vec::new();
    let mut peek_cases = Vec::new();
    for (name, code, now) in verify_inputs {
        let outcome = match verifier.verify(&code, now) {
            Ok(claims) => json!({ "ok": claims.claims() }),
            Err(error) => json!({ "error": error.reason() }),
        };
        let peeked = match referral_core::peek(&code) {
            Ok(claims) => json!({ "ok": claims.unverified() }),
            Err(error) => json!({ "error": error.reason() }),
        };
        let mut case = json!({ "name": name, "code": code, "now": now });
        if let (Some(case), Some(outcome)) = (case.as_object_mut(), outcome.as_object()) {
            case.extend(outcome.clone());
        }
        verify_cases.push(case);
        let mut peek_case = json!({ "name": name, "code": code });
        if let (Some(case), Some(peeked)) = (peek_case.as_object_mut(), peeked.as_object()) {
            case.extend(peeked.clone());
        }
        peek_cases.push(peek_case);
    }

    let keys: Vec<Value> = ring
        .key_ids()
        .into_iter()
        .map(|(id, status)| json!({ "key_id": id, "secret_hex": hex(&secret(id)), "status": status }))
        .collect();
    Ok(json!({
        "keyring": keys,
        "unlisted_keys": [{ "key_id": 9, "secret_hex": hex(&secret(9)) }],
        "policy": POLICY,
        "mint": {
            "comment": "mint with a keyring whose only key is key_id (active) at `now`; the code must match byte for byte",
            "cases": mint_cases,
        },
        "verify": {
            "comment": "verify with `keyring` and `policy` at `now`: either ok (claims) or error (reason)",
            "cases": verify_cases,
        },
        "peek": {
            "comment": "peek without any key: either ok (unverified claims) or error (reason)",
            "cases": peek_cases,
        },
    }))
}

/// RFC 4231 test cases 1-4, 6 and 7, through core's own signing path.
/// (Case 5, truncated output, is checked in `core/tests/code_vectors.rs`.)
pub fn hmac_rfc4231() -> Value {
    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("1", vec![0x0b; 20], b"Hi There".to_vec()),
        ("2", b"Jefe".to_vec(), b"what do ya want for nothing?".to_vec()),
        ("3", vec![0xaa; 20], vec![0xdd; 50]),
        ("4", (1..=25u8).collect(), vec![0xcd; 50]),
        ("6", vec![0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec()),
        ("7", vec![0xaa; 131], b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec()),
    ];
    Value::Array(
        cases
            .into_iter()
            .map(|(name, key, data)| {
                json!({
                    "case": name,
                    "key_hex": hex(&key),
                    "data_hex": hex(&data),
                    "hmac_sha256_hex": hex(&hmac_sha256(&key, &data)),
                })
            })
            .collect(),
    )
}
