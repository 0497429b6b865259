//! User-token vectors, with the codes section's keys (key 1 rotated out and
//! verify-only, key 2 active, key 3 retired, key 9 unlisted): tokens minted
//! byte for byte, mint requests that must be refused, and tokens that must
//! verify or fail with a named reason.

use referral_core::{UserTokenPolicy, UserTokenRequest};
use serde_json::{json, Value};

use super::codes::{keyring_with_active, shared_keyring, NOW};
use super::{hex, unhex};

const AUDIENCE: &str = "https://referrals.acme.example";
const SKEW: u64 = 300;
const TTL: u64 = 900;

fn policy(audience: &str) -> UserTokenPolicy {
    UserTokenPolicy {
        audience: audience.to_owned(),
        max_clock_skew_secs: SKEW,
    }
}

fn request(subject: &str, audience: &str, ttl_secs: u64) -> UserTokenRequest {
    UserTokenRequest {
        subject: subject.to_owned(),
        audience: audience.to_owned(),
        ttl_secs,
    }
}

fn request_json(r: &UserTokenRequest) -> Value {
    json!({ "subject": r.subject, "audience": r.audience, "ttl_secs": r.ttl_secs })
}

/// Mints with a keyring whose only key is `key_id`, as the file tells
/// readers to.
fn mint(key_id: u32, req: &UserTokenRequest, now: u64) -> Result<String, String> {
    keyring_with_active(key_id)?
        .mint_user_token(req, now)
        .map_err(|e| format!("{}: {e}", e.reason()))
}

/// `ut1.<payload hex>.<tag hex>` split into its two hex parts.
fn parts(token: &str) -> Result<(&str, &str), String> {
    token
        .strip_prefix("ut1.")
        .and_then(|rest| rest.split_once('.'))
        .ok_or_else(|| format!("not a v1 user token: {token}"))
}

pub fn cases() -> Result<Value, String> {
    let user = request("user-42", AUDIENCE, TTL);

    // Minted byte for byte; `claims` is what the shared keyring verifies
    // the token to, at `now`, with the request's own audience.
    let mint_inputs: Vec<(&str, u32, UserTokenRequest, u64)> =
        vec![
        ("active key", 2, user.clone(), NOW),
        (
            "minted by the rotated-out key before the rotation",
            1,
            user.clone(),
            NOW - 3_600,
        ),
        (
            "uuid subject",
            2,
            request("6f2c1e8a-4b3d-4e1f-9a7c-55210bee4219", AUDIENCE, TTL),
            NOW,
        ),
        (
            "non-ASCII subject (lengths are UTF-8 bytes)",
            2,
            request("zoë@example.org", AUDIENCE, TTL),
            NOW,
        ),
        ("one-second lifetime", 2, request("user-42", AUDIENCE, 1), NOW),
        (
            "longest subject (128 bytes, 64 characters) and audience (64 bytes), one-day lifetime",
            2,
            request(
                &"é".repeat(64),
                &format!("https://{}", "a".repeat(56)),
                86_400,
            ),
            NOW,
        ),
    ];
    let ring = shared_keyring()?;
    let mut mint_cases = Vec::new();
    for (name, key_id, req, now) in &mint_inputs {
        let token = mint(*key_id, req, *now)?;
        let claims = ring
            .verify_user_token(&token, &policy(&req.audience), *now)
            .map_err(|e| format!("{name}: {}", e.reason()))?;
        mint_cases.push(json!({
            "name": name,
            "key_id": key_id,
            "request": request_json(req),
            "now": now,
            "token": token,
            "length": token.len(),
            "claims": claims,
        }));
    }

    let refusals: Vec<(&str, UserTokenRequest, &str)> = vec![
        (
            "empty subject",
            request("", AUDIENCE, TTL),
            "invalid_subject",
        ),
        (
            "control character in the subject",
            request("user\n42", AUDIENCE, TTL),
            "invalid_subject",
        ),
        (
            "subject of 130 bytes (65 characters)",
            request(&"é".repeat(65), AUDIENCE, TTL),
            "invalid_subject",
        ),
        (
            "empty audience",
            request("user-42", "", TTL),
            "invalid_audience",
        ),
        (
            "audience of 65 bytes",
            request("user-42", &format!("https://{}", "a".repeat(57)), TTL),
            "invalid_audience",
        ),
        (
            "control character in the audience",
            request("user-42", "https://referrals.acme.example\t", TTL),
            "invalid_audience",
        ),
        (
            "zero lifetime",
            request("user-42", AUDIENCE, 0),
            "invalid_ttl",
        ),
        (
            "lifetime over a day",
            request("user-42", AUDIENCE, 86_401),
            "invalid_ttl",
        ),
    ];
    let mut mint_errors = Vec::new();
    for (name, req, expected) in refusals {
        let reason = match ring.mint_user_token(&req, NOW) {
            Ok(token) => return Err(format!("{name}: minted {token}")),
            Err(e) => e.reason(),
        };
        if reason != expected {
            return Err(format!("{name}: refused with {reason}, meant {expected}"));
        }
        mint_errors.push(json!({
            "name": name,
            "request": request_json(&req),
            "now": NOW,
            "error": reason,
        }));
    }

    let valid = mint(2, &user, NOW)?;
    let (payload_hex, tag_hex) = parts(&valid)?;
    let payload = unhex(payload_hex).ok_or("payload hex")?;
    let tag = unhex(tag_hex).ok_or("tag hex")?;
    let token = |payload: &[u8], tag: &[u8]| format!("ut1.{}.{}", hex(payload), hex(tag));

    let mut flipped_tag = tag.clone();
    let last = flipped_tag.len() - 1;
    flipped_tag[last] ^= 1;
    // The subject is last in the payload: "user-42" becomes "user-43".
    let mut flipped_subject = payload.clone();
    let last = flipped_subject.len() - 1;
    flipped_subject[last] ^= 1;
    let admin = mint(2, &request("admin", AUDIENCE, TTL), NOW)?;
    let day_long = mint(2, &request("user-42", AUDIENCE, 86_400), NOW)?;
    let mut with_trailing_byte = payload.clone();
    with_trailing_byte.push(0);
    // Hand-built: key 2, issued at 10, expiring at 5.
    let backwards = [vec![2, 10, 5, 1, b'a', 1, b's'], vec![0; 32]];

    // (name, token, now, the reason it must fail with, or None for ok)
    let verify_inputs: Vec<(&str, String, u64, Option<&str>)> = vec![
        ("valid", valid.clone(), NOW + 60, None),
        (
            "one second before expiry",
            valid.clone(),
            NOW + TTL - 1,
            None,
        ),
        (
            "rotated-out key still verifies",
            mint(1, &user, NOW - 3_600)?,
            NOW - 3_000,
            None,
        ),
        (
            "issued at the edge of the clock skew",
            mint(2, &user, NOW + SKEW)?,
            NOW,
            None,
        ),
        (
            "expired at exactly expires_at",
            valid.clone(),
            NOW + TTL,
            Some("expired"),
        ),
        (
            "issued beyond the clock skew",
            mint(2, &user, NOW + SKEW + 1)?,
            NOW,
            Some("issued_in_future"),
        ),
        (
            "tampered tag",
            token(&payload, &flipped_tag),
            NOW,
            Some("bad_signature"),
        ),
        (
            "tampered payload (one bit of the subject)",
            token(&flipped_subject, &tag),
            NOW,
            Some("bad_signature"),
        ),
        (
            "another subject's payload under this tag",
            format!("ut1.{}.{tag_hex}", parts(&admin)?.0),
            NOW,
            Some("bad_signature"),
        ),
        (
            "a day-long token's payload under this tag",
            format!("ut1.{}.{tag_hex}", parts(&day_long)?.0),
            NOW,
            Some("bad_signature"),
        ),
        (
            "key not in the keyring",
            mint(9, &user, NOW)?,
            NOW,
            Some("unknown_key"),
        ),
        (
            "retired key",
            mint(3, &user, NOW)?,
            NOW,
            Some("retired_key"),
        ),
        (
            "minted for another audience",
            mint(
                2,
                &request("user-42", "https://elsewhere.example", TTL),
                NOW,
            )?,
            NOW,
            Some("wrong_audience"),
        ),
        (
            "another audience, expired: time is checked before audience",
            mint(
                2,
                &request("user-42", "https://elsewhere.example", TTL),
                NOW,
            )?,
            NOW + TTL,
            Some("expired"),
        ),
        (
            "unsupported version",
            format!("ut2.{payload_hex}.{tag_hex}"),
            NOW,
            Some("unsupported_version"),
        ),
        ("empty", String::new(), NOW, Some("malformed")),
        (
            "upper-case hex",
            valid.to_uppercase().replacen("UT1", "ut1", 1),
            NOW,
            Some("malformed"),
        ),
        (
            "no tag",
            format!("ut1.{payload_hex}"),
            NOW,
            Some("malformed"),
        ),
        (
            "tag one byte short",
            token(&payload, &tag[..31]),
            NOW,
            Some("malformed"),
        ),
        (
            "odd-length hex",
            format!("ut1.{payload_hex}0.{tag_hex}"),
            NOW,
            Some("malformed"),
        ),
        (
            "trailing payload byte",
            token(&with_trailing_byte, &tag),
            NOW,
            Some("malformed"),
        ),
        (
            "expiry not after issue",
            token(&backwards[0], &backwards[1]),
            NOW,
            Some("malformed"),
        ),
        (
            "too long",
            format!("ut1.{}.{tag_hex}", "61".repeat(400)),
            NOW,
            Some("malformed"),
        ),
        (
            "a referral code is not a user token",
            keyring_with_active(2)?
                .mint(
                    &referral_core::MintRequest {
                        program_id: 7,
                        referrer: referral_core::ReferrerId::Numeric(42),
                        channel: referral_core::Channel::Link,
                        campaign: None,
                    },
                    NOW,
                )
                .map_err(|e| e.to_string())?
                .into_string(),
            NOW,
            Some("malformed"),
        ),
    ];
    let mut verify_cases = Vec::new();
    for (name, token, now, expected) in verify_inputs {
        let result = ring.verify_user_token(&token, &policy(AUDIENCE), now);
        let outcome = match (&result, expected) {
            (Ok(claims), None) => json!({ "ok": claims }),
            (Err(e), Some(reason)) if e.reason() == reason => json!({ "error": reason }),
            _ => return Err(format!("{name}: got {result:?}, meant {expected:?}")),
        };
        let mut case = json!({ "name": name, "token": token, "now": now });
        if let (Some(case), Some(outcome)) = (case.as_object_mut(), outcome.as_object()) {
            case.extend(outcome.clone());
        }
        verify_cases.push(case);
    }

    Ok(json!({
        "comment": "user tokens, with the codes section's keys (`codes.keyring` and `codes.unlisted_keys`)",
        "policy": { "audience": AUDIENCE, "max_clock_skew_secs": SKEW },
        "mint": {
            "comment": "mint `request` with a keyring whose only key is key_id (active) at `now`: the token must match byte for byte; verified with `codes.keyring` at `now` and a policy with the request's audience and `policy.max_clock_skew_secs` it gives `claims`",
            "cases": mint_cases,
        },
        "mint_errors": {
            "comment": "mint `request` with `codes.keyring` at `now`: refused with `error` (reason)",
            "cases": mint_errors,
        },
        "verify": {
            "comment": "verify `token` with `codes.keyring` and `policy` at `now`: either ok (claims) or error (reason)",
            "cases": verify_cases,
        },
    }))
}
