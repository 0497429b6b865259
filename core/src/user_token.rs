//! User tokens (feature `signing`): what a host's backend hands its
//! signed-in user's browser so the widget can call the referral service's
//! browser API as that user, and nobody else.
//!
//! A token is minted by the host's backend with the keyring it shares with
//! the service, for one **subject** (the host's own user id), one
//! **audience** (the service it is meant for) and a short lifetime. The
//! service verifies it without a database lookup. The layout and the
//! verification order are in `docs/adr/0002-user-tokens.md`.
//!
//! Text form: `ut1.<hex payload>.<hex tag>`, where the payload is
//! `varint key_id | varint issued_at | varint expires_at | u8 len | audience
//! | u8 len | subject` and the tag is the full HMAC-SHA256 over
//! `"referral-user-token/v1" | payload` with the key named by `key_id`.

use hmac::Mac;

use crate::code::{hex_bytes, put_varint, Reader};
use crate::keyring::{KeyStatus, Keyring};

const PREFIX: &str = "ut1.";
const DOMAIN: &[u8] = b"referral-user-token/v1";
/// Longest subject (the host's user id) and audience, in bytes.
pub const MAX_SUBJECT_LEN: usize = 128;
pub const MAX_AUDIENCE_LEN: usize = 64;
/// Longest lifetime a token may be minted with: one day. Tokens are meant
/// to be minted per page load, so a stolen one is worth little.
pub const MAX_TTL_SECS: u64 = 86_400;
/// Longest token text accepted before any decoding (bounds the work an
/// attacker can cause).
const MAX_TOKEN_LEN: usize =
    PREFIX.len() + 2 * (3 * 10 + 2 + MAX_AUDIENCE_LEN + MAX_SUBJECT_LEN) + 1 + 64;

/// What to put in a new token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserTokenRequest {
    /// The host's id for the signed-in user.
    pub subject: String,
    /// Who the token is for, e.g. the service's public URL or a program name.
    pub audience: String,
    /// Seconds the token is valid for, 1 ..= [`MAX_TTL_SECS`].
    pub ttl_secs: u64,
}

/// A verified token's claims.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserTokenClaims {
    pub key_id: u32,
    pub subject: String,
    pub audience: String,
    pub issued_at: u64,
    pub expires_at: u64,
}

/// How the service checks tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserTokenPolicy {
    /// The audience this service accepts.
    pub audience: String,
    /// How far in the future `issued_at` may be (clocks differ).
    pub max_clock_skew_secs: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UserTokenError {
    #[error("malformed user token")]
    Malformed,
    #[error("unsupported user token version")]
    UnsupportedVersion,
    #[error("user token signed with unknown key {0}")]
    UnknownKey(u32),
    #[error("user token signed with retired key {0}")]
    RetiredKey(u32),
    #[error("bad user token signature")]
    BadSignature,
    #[error("user token expired at {expired_at}")]
    Expired { expired_at: u64 },
    #[error("user token issued at {issued_at}, in the future of {now}")]
    IssuedInFuture { issued_at: u64, now: u64 },
    #[error("user token is for another audience")]
    WrongAudience,
    #[error("subject must be 1 to 128 bytes with no control characters")]
    InvalidSubject,
    #[error("audience must be 1 to 64 bytes with no control characters")]
    InvalidAudience,
    #[error("ttl must be 1 to 86400 seconds")]
    InvalidTtl,
}

impl UserTokenError {
    /// Stable reason code shared by every binding, HTTP and the vectors.
    pub fn reason(&self) -> &'static str {
        match self {
            UserTokenError::Malformed => "malformed",
            UserTokenError::UnsupportedVersion => "unsupported_version",
            UserTokenError::UnknownKey(_) => "unknown_key",
            UserTokenError::RetiredKey(_) => "retired_key",
            UserTokenError::BadSignature => "bad_signature",
            UserTokenError::Expired { .. } => "expired",
            UserTokenError::IssuedInFuture { .. } => "issued_in_future",
            UserTokenError::WrongAudience => "wrong_audience",
            UserTokenError::InvalidSubject => "invalid_subject",
            UserTokenError::InvalidAudience => "invalid_audience",
            UserTokenError::InvalidTtl => "invalid_ttl",
        }
    }
}

fn valid_text(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && !text.chars().any(char::is_control)
}

impl Keyring {
    /// Mints a user token with the active key, issued at `now`.
    pub fn mint_user_token(
        &self,
        request: &UserTokenRequest,
        now: u64,
    ) -> Result<String, UserTokenError> {
        if !valid_text(&request.subject, MAX_SUBJECT_LEN) {
            return Err(UserTokenError::InvalidSubject);
        }
        if !valid_text(&request.audience, MAX_AUDIENCE_LEN) {
            return Err(UserTokenError::InvalidAudience);
        }
        if request.ttl_secs == 0 || request.ttl_secs > MAX_TTL_SECS {
            return Err(UserTokenError::InvalidTtl);
        }
        let (key_id, mac) = self.active_mac();
        let mut payload = Vec::with_capacity(32 + request.subject.len() + request.audience.len());
        put_varint(&mut payload, u64::from(key_id));
        put_varint(&mut payload, now);
        put_varint(&mut payload, now.saturating_add(request.ttl_secs));
        for text in [&request.audience, &request.subject] {
            // Lengths are bounded above (<= 128), so they fit one byte.
            payload.push(text.len() as u8);
            payload.extend_from_slice(text.as_bytes());
        }
        let mut mac = mac.clone();
        mac.update(DOMAIN);
        mac.update(&payload);
        let tag = mac.finalize().into_bytes();
        let mut token = String::with_capacity(PREFIX.len() + 2 * payload.len() + 65);
        token.push_str(PREFIX);
        token.push_str(&hex_bytes::encode(&payload));
        token.push('.');
        token.push_str(&hex_bytes::encode(&tag));
        Ok(token)
    }

    /// Verifies a user token: format, key, signature (constant time), then
    /// time, then audience. Only a token that passes all of them names a
    /// subject.
    pub fn verify_user_token(
        &self,
        token: &str,
        policy: &UserTokenPolicy,
        now: u64,
    ) -> Result<UserTokenClaims, UserTokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(UserTokenError::Malformed);
        }
        let Some(rest) = token.strip_prefix(PREFIX) else {
            return Err(if token.starts_with("ut") && token.contains('.') {
                UserTokenError::UnsupportedVersion
            } else {
                UserTokenError::Malformed
            });
        };
        let (payload_hex, tag_hex) = rest.split_once('.').ok_or(UserTokenError::Malformed)?;
        let payload = decode_lower_hex(payload_hex).ok_or(UserTokenError::Malformed)?;
        let tag = decode_lower_hex(tag_hex).ok_or(UserTokenError::Malformed)?;
        if tag.len() != 32 {
            return Err(UserTokenError::Malformed);
        }
        let claims = parse_payload(&payload).ok_or(UserTokenError::Malformed)?;
        let mac = match self.key_mac(claims.key_id) {
            None => return Err(UserTokenError::UnknownKey(claims.key_id)),
            Some((KeyStatus::Retired, _)) => return Err(UserTokenError::RetiredKey(claims.key_id)),
            Some((_, mac)) => mac,
        };
        let mut mac = mac.clone();
        mac.update(DOMAIN);
        mac.update(&payload);
        mac.verify_slice(&tag)
            .map_err(|_| UserTokenError::BadSignature)?;
        if claims.issued_at > now.saturating_add(policy.max_clock_skew_secs) {
            return Err(UserTokenError::IssuedInFuture {
                issued_at: claims.issued_at,
                now,
            });
        }
        if now >= claims.expires_at {
            return Err(UserTokenError::Expired {
                expired_at: claims.expires_at,
            });
        }
        if claims.audience != policy.audience {
            return Err(UserTokenError::WrongAudience);
        }
        Ok(claims)
    }
}

/// Lower-case hex only: one spelling per token, so a token cannot be
/// re-spelled into a different string that verifies.
fn decode_lower_hex(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    hex_bytes::decode(text)
}

fn parse_payload(payload: &[u8]) -> Option<UserTokenClaims> {
    let mut reader = Reader::new(payload);
    let key_id = reader.varint_u32().ok()?;
    let issued_at = reader.varint().ok()?;
    let expires_at = reader.varint().ok()?;
    let mut texts = [String::new(), String::new()];
    for (text, max) in texts.iter_mut().zip([MAX_AUDIENCE_LEN, MAX_SUBJECT_LEN]) {
        let len = usize::from(reader.byte().ok()?);
        let value = core::str::from_utf8(reader.take(len).ok()?).ok()?;
        if !valid_text(value, max) {
            return None;
        }
        *text = value.to_owned();
    }
    if reader.position() != payload.len() || expires_at <= issued_at {
        return None;
    }
    let [audience, subject] = texts;
    Some(UserTokenClaims {
        key_id,
        subject,
        audience,
        issued_at,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_780_000_000;
    const SECRET: &[u8] = b"user-token-secret-of-at-least-32-bytes!!";

    fn request() -> UserTokenRequest {
        UserTokenRequest {
            subject: "user-42".into(),
            audience: "https://referrals.acme.example".into(),
            ttl_secs: 900,
        }
    }

    fn policy() -> UserTokenPolicy {
        UserTokenPolicy {
            audience: "https://referrals.acme.example".into(),
            max_clock_skew_secs: 60,
        }
    }

    #[test]
    fn round_trip_and_reasons() {
        let ring = Keyring::new(1, SECRET).unwrap();
        let token = ring.mint_user_token(&request(), NOW).unwrap();
        let claims = ring.verify_user_token(&token, &policy(), NOW + 10).unwrap();
        assert_eq!(claims.subject, "user-42");
        assert_eq!(claims.expires_at, NOW + 900);
        let reason = |t: &str, now| {
            ring.verify_user_token(t, &policy(), now)
                .unwrap_err()
                .reason()
        };
        assert_eq!(reason(&token, NOW + 900), "expired");
        assert_eq!(reason(&token, NOW - 61), "issued_in_future");
        let other = UserTokenPolicy {
            audience: "https://elsewhere.example".into(),
            ..policy()
        };
        assert_eq!(
            ring.verify_user_token(&token, &other, NOW)
                .unwrap_err()
                .reason(),
            "wrong_audience"
        );
        assert_eq!(reason("ut2.00.00", NOW), "unsupported_version");
        assert_eq!(reason(&token.to_uppercase(), NOW), "malformed");
        assert_eq!(reason("", NOW), "malformed");
        let foreign = Keyring::new(1, b"another-secret-that-is-32-bytes-long!!").unwrap();
        assert_eq!(
            foreign
                .verify_user_token(&token, &policy(), NOW)
                .unwrap_err()
                .reason(),
            "bad_signature"
        );
    }

    #[test]
    fn rotation_keeps_old_tokens_until_retired() {
        let mut ring = Keyring::new(1, SECRET).unwrap();
        let old = ring.mint_user_token(&request(), NOW).unwrap();
        ring.rotate(2, b"second-user-token-secret-32-bytes-long!")
            .unwrap();
        assert_eq!(
            ring.verify_user_token(&old, &policy(), NOW).unwrap().key_id,
            1
        );
        let new = ring.mint_user_token(&request(), NOW).unwrap();
        assert_eq!(
            ring.verify_user_token(&new, &policy(), NOW).unwrap().key_id,
            2
        );
        ring.retire(1).unwrap();
        assert_eq!(
            ring.verify_user_token(&old, &policy(), NOW)
                .unwrap_err()
                .reason(),
            "retired_key"
        );
    }

    #[test]
    fn mint_refuses_bad_requests() {
        let ring = Keyring::new(1, SECRET).unwrap();
        let mint = |r: UserTokenRequest| ring.mint_user_token(&r, NOW).unwrap_err().reason();
        assert_eq!(
            mint(UserTokenRequest {
                subject: String::new(),
                ..request()
            }),
            "invalid_subject"
        );
        assert_eq!(
            mint(UserTokenRequest {
                subject: "a\nb".into(),
                ..request()
            }),
            "invalid_subject"
        );
        assert_eq!(
            mint(UserTokenRequest {
                subject: "x".repeat(129),
                ..request()
            }),
            "invalid_subject"
        );
        assert_eq!(
            mint(UserTokenRequest {
                audience: String::new(),
                ..request()
            }),
            "invalid_audience"
        );
        assert_eq!(
            mint(UserTokenRequest {
                ttl_secs: 0,
                ..request()
            }),
            "invalid_ttl"
        );
        assert_eq!(
            mint(UserTokenRequest {
                ttl_secs: MAX_TTL_SECS + 1,
                ..request()
            }),
            "invalid_ttl"
        );
        let longest = UserTokenRequest {
            subject: "s".repeat(MAX_SUBJECT_LEN),
            audience: "a".repeat(MAX_AUDIENCE_LEN),
            ttl_secs: MAX_TTL_SECS,
        };
        let token = ring
            .mint_user_token(&longest, u64::MAX - MAX_TTL_SECS)
            .unwrap();
        assert!(token.len() <= MAX_TOKEN_LEN);
    }

    #[test]
    fn every_single_byte_change_is_refused() {
        let ring = Keyring::new(1, SECRET).unwrap();
        let token = ring.mint_user_token(&request(), NOW).unwrap();
        let bytes = token.as_bytes();
        for i in 0..bytes.len() {
            for replacement in [b'0', b'f', b'.', b'A', b'9'] {
                if bytes[i] == replacement {
                    continue;
                }
                let mut changed = bytes.to_vec();
                changed[i] = replacement;
                let changed = String::from_utf8(changed).unwrap();
                assert!(
                    ring.verify_user_token(&changed, &policy(), NOW).is_err(),
                    "{changed}"
                );
            }
        }
        for cut in 0..bytes.len() {
            assert!(ring
                .verify_user_token(&token[..cut], &policy(), NOW)
                .is_err());
        }
    }
}
