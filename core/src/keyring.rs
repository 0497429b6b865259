//! Signing keys, minting and verification (feature `signing`).
//!
//! A [`Keyring`] holds several keys by id. Exactly one is active and mints;
//! keys replaced by a rotation stay `VerifyOnly` so codes already shared
//! keep verifying until they expire; `Retired` keys are refused.

use core::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::code::{self, Channel, Claims, CodeError, MintError, ReferralCode, ReferrerId, TAG_LEN};

type HmacSha256 = Hmac<Sha256>;

/// Shortest secret accepted: 256 bits, the HMAC-SHA256 output size.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Mints new codes and verifies.
    Active,
    /// Verifies codes minted before a rotation; never mints.
    VerifyOnly,
    /// Refused: every code signed with it fails with `retired_key`.
    Retired,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("secret for key {key_id} is {len} bytes; at least 32 are required")]
    SecretTooShort { key_id: u32, len: usize },
    #[error("key id {0} is already in the keyring")]
    DuplicateKeyId(u32),
    #[error("key id {0} is not in the keyring")]
    UnknownKey(u32),
    #[error("key {0} is retired and cannot be activated")]
    KeyRetired(u32),
    #[error("key {0} is active; rotate to another key before retiring it")]
    RetiringActiveKey(u32),
    #[error("a keyring needs exactly one active key, found {0}")]
    ActiveKeyCount(usize),
}

impl KeyringError {
    pub fn reason(&self) -> &'static str {
        match self {
            KeyringError::SecretTooShort { .. } => "secret_too_short",
            KeyringError::DuplicateKeyId(_) => "duplicate_key_id",
            KeyringError::UnknownKey(_) => "unknown_key",
            KeyringError::KeyRetired(_) => "key_retired",
            KeyringError::RetiringActiveKey(_) => "retiring_active_key",
            KeyringError::ActiveKeyCount(_) => "active_key_count",
        }
    }
}

#[derive(Clone)]
struct Key {
    id: u32,
    status: KeyStatus,
    /// HMAC state with the key already absorbed: cloning it skips the
    /// key schedule on every mint and verify.
    mac: HmacSha256,
}

/// Several signing keys by id. `Debug` prints ids and statuses only.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.keys.iter().map(|k| (k.id, k.status)))
            .finish()
    }
}

fn new_mac(key_id: u32, secret: &[u8]) -> Result<HmacSha256, KeyringError> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(KeyringError::SecretTooShort {
            key_id,
            len: secret.len(),
        });
    }
    // HMAC accepts keys of any length, so this cannot fail.
    HmacSha256::new_from_slice(secret).map_err(|_| KeyringError::SecretTooShort {
        key_id,
        len: secret.len(),
    })
}

impl Keyring {
    /// A keyring with one active key.
    pub fn new(active_key_id: u32, secret: &[u8]) -> Result<Keyring, KeyringError> {
        Ok(Keyring {
            keys: vec![Key {
                id: active_key_id,
                status: KeyStatus::Active,
                mac: new_mac(active_key_id, secret)?,
            }],
        })
    }

    /// A keyring from stored keys (e.g. loaded from a secret store at start):
    /// exactly one must be active, ids must be unique.
    pub fn from_keys<'a>(
        keys: impl IntoIterator<Item = (u32, &'a [u8], KeyStatus)>,
    ) -> Result<Keyring, KeyringError> {
        let mut loaded: Vec<Key> = Vec::new();
        for (id, secret, status) in keys {
            if loaded.iter().any(|k| k.id == id) {
                return Err(KeyringError::DuplicateKeyId(id));
            }
            loaded.push(Key {
                id,
                status,
                mac: new_mac(id, secret)?,
            });
        }
        let active = loaded
            .iter()
            .filter(|k| k.status == KeyStatus::Active)
            .count();
        if active != 1 {
            return Err(KeyringError::ActiveKeyCount(active));
        }
        Ok(Keyring { keys: loaded })
    }

    /// Adds a key that verifies but does not mint (e.g. loaded from config
    /// after a rotation), or a retired one kept for the record.
    pub fn add_key(
        &mut self,
        key_id: u32,
        secret: &[u8],
        status: KeyStatus,
    ) -> Result<(), KeyringError> {
        if self.keys.iter().any(|k| k.id == key_id) {
            return Err(KeyringError::DuplicateKeyId(key_id));
        }
        let mac = new_mac(key_id, secret)?;
        if status == KeyStatus::Active {
            self.demote_active();
        }
        self.keys.push(Key {
            id: key_id,
            status,
            mac,
        });
        Ok(())
    }

    /// Rotation: adds `key_id` as the active key; the previous active key
    /// becomes `VerifyOnly` so every code already shared still verifies.
    /// Retire the old key once the program's max age has passed.
    pub fn rotate(&mut self, key_id: u32, secret: &[u8]) -> Result<(), KeyringError> {
        self.add_key(key_id, secret, KeyStatus::Active)
    }

    /// Makes an existing verify-only key the active one again.
    pub fn activate(&mut self, key_id: u32) -> Result<(), KeyringError> {
        let status = self
            .status(key_id)
            .ok_or(KeyringError::UnknownKey(key_id))?;
        if status == KeyStatus::Retired {
            return Err(KeyringError::KeyRetired(key_id));
        }
        self.demote_active();
        self.set_status(key_id, KeyStatus::Active);
        Ok(())
    }

    /// Refuses every code signed with `key_id` from now on.
    pub fn retire(&mut self, key_id: u32) -> Result<(), KeyringError> {
        match self.status(key_id) {
            None => Err(KeyringError::UnknownKey(key_id)),
            Some(KeyStatus::Active) => Err(KeyringError::RetiringActiveKey(key_id)),
            Some(_) => {
                self.set_status(key_id, KeyStatus::Retired);
                Ok(())
            }
        }
    }

    pub fn status(&self, key_id: u32) -> Option<KeyStatus> {
        self.keys.iter().find(|k| k.id == key_id).map(|k| k.status)
    }

    pub fn active_key_id(&self) -> u32 {
        self.active().id
    }

    /// Every key id with its status, in insertion order.
    pub fn key_ids(&self) -> Vec<(u32, KeyStatus)> {
        self.keys.iter().map(|k| (k.id, k.status)).collect()
    }

    fn demote_active(&mut self) {
        for key in &mut self.keys {
            if key.status == KeyStatus::Active {
                key.status = KeyStatus::VerifyOnly;
            }
        }
    }

    fn set_status(&mut self, key_id: u32, status: KeyStatus) {
        if let Some(key) = self.keys.iter_mut().find(|k| k.id == key_id) {
            key.status = status;
        }
    }

    fn active(&self) -> &Key {
        // Invariant: constructed with an active key; `add_key` and `activate`
        // demote the old one only when promoting another; `retire` refuses
        // the active key. So exactly one key is active.
        self.keys
            .iter()
            .find(|k| k.status == KeyStatus::Active)
            .unwrap_or(&self.keys[0])
    }

    /// The active key's id and HMAC state (for the other signed formats).
    pub(crate) fn active_mac(&self) -> (u32, &HmacSha256) {
        let key = self.active();
        (key.id, &key.mac)
    }

    /// A key's status and HMAC state by id.
    pub(crate) fn key_mac(&self, key_id: u32) -> Option<(KeyStatus, &HmacSha256)> {
        self.keys
            .iter()
            .find(|k| k.id == key_id)
            .map(|k| (k.status, &k.mac))
    }

    /// Mints a code with the active key, issued at `now` (Unix seconds).
    pub fn mint(&self, request: &MintRequest, now: u64) -> Result<ReferralCode, MintError> {
        let key = self.active();
        let claims = Claims {
            key_id: key.id,
            program_id: request.program_id,
            referrer: request.referrer.clone(),
            channel: request.channel,
            campaign: request.campaign,
            issued_at: now,
        };
        let payload = code::encode_payload(&claims)?;
        let tag = sign(&key.mac, &payload);
        Ok(code::encode_code(&payload, &tag[..TAG_LEN]))
    }

    /// Checks format, key and signature only; no time or program policy.
    /// Most hosts want [`Verifier::verify`].
    pub fn verify_signature(&self, code: &str) -> Result<Claims, CodeError> {
        let parsed = code::parse(code)?;
        let key_id = parsed.claims.key_id;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == key_id)
            .ok_or(CodeError::UnknownKey(key_id))?;
        if key.status == KeyStatus::Retired {
            return Err(CodeError::RetiredKey(key_id));
        }
        let mut mac = key.mac.clone();
        mac.update(parsed.payload());
        // Constant-time comparison of the truncated tag.
        mac.verify_truncated_left(parsed.tag())
            .map_err(|_| CodeError::BadSignature)?;
        Ok(parsed.claims)
    }
}

/// Typed codes: short, case-insensitive codes a person can read out
/// (`7R2K-9QXM-A4`), for signups that never clicked a link. See
/// `docs/code-format.md` ("Typed codes") for the layout and its margin.
const TYPED_CODE_DOMAIN: &[u8] = b"referral-typed-code/v1";
/// 32 bits: one success in about 4.3 billion guesses per attempt.
pub const TYPED_CODE_TAG_LEN: usize = 4;

/// What a typed code says once verified.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TypedCodeClaims {
    pub key_id: u32,
    pub program_id: u32,
    pub referrer: u64,
}

impl Keyring {
    fn typed_tag(mac: &HmacSha256, program_id: u32, body: &[u8]) -> [u8; 32] {
        let mut message = Vec::with_capacity(TYPED_CODE_DOMAIN.len() + 4 + body.len());
        message.extend_from_slice(TYPED_CODE_DOMAIN);
        message.extend_from_slice(&program_id.to_be_bytes());
        message.extend_from_slice(body);
        sign(mac, &message)
    }

    /// The typed code for a numeric referrer in a program, signed with the
    /// active key. Deterministic: the same referrer always reads the same.
    pub fn typed_code(&self, program_id: u32, referrer: u64) -> String {
        let key = self.active();
        let mut bytes = Vec::with_capacity(16);
        code::put_varint(&mut bytes, u64::from(key.id));
        code::put_varint(&mut bytes, referrer);
        let tag = Keyring::typed_tag(&key.mac, program_id, &bytes);
        bytes.extend_from_slice(&tag[..TYPED_CODE_TAG_LEN]);
        crate::crockford::encode_grouped(&bytes)
    }

    /// Checks a typed code as a person typed it (any case, with or without
    /// dashes and spaces, `O`/`I`/`L` read as `0`/`1`/`1`).
    pub fn verify_typed_code(
        &self,
        text: &str,
        program_id: u32,
    ) -> Result<TypedCodeClaims, CodeError> {
        let malformed = |m| CodeError::Malformed(m);
        let bytes =
            crate::crockford::decode(text).ok_or(malformed(code::Malformation::NotBase62))?;
        let mut reader = code::Reader::new(&bytes);
        let key_id = reader.varint_u32()?;
        let referrer = reader.varint()?;
        let body_len = reader.position();
        if bytes.len() != body_len + TYPED_CODE_TAG_LEN {
            return Err(malformed(if bytes.len() < body_len + TYPED_CODE_TAG_LEN {
                code::Malformation::Truncated
            } else {
                code::Malformation::TrailingBytes
            }));
        }
        let key = self
            .keys
            .iter()
            .find(|k| k.id == key_id)
            .ok_or(CodeError::UnknownKey(key_id))?;
        if key.status == KeyStatus::Retired {
            return Err(CodeError::RetiredKey(key_id));
        }
        let mut mac = key.mac.clone();
        mac.update(TYPED_CODE_DOMAIN);
        mac.update(&program_id.to_be_bytes());
        mac.update(&bytes[..body_len]);
        mac.verify_truncated_left(&bytes[body_len..])
            .map_err(|_| CodeError::BadSignature)?;
        Ok(TypedCodeClaims {
            key_id,
            program_id,
            referrer,
        })
    }
}

fn sign(mac: &HmacSha256, payload: &[u8]) -> [u8; 32] {
    let mut mac = mac.clone();
    mac.update(payload);
    mac.finalize().into_bytes().into()
}

/// What to put in a new code; the key id and issued-at come from the
/// keyring and the clock.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MintRequest {
    pub program_id: u32,
    pub referrer: ReferrerId,
    pub channel: Channel,
    #[serde(default)]
    pub campaign: Option<u32>,
}

/// A program's rules for accepting codes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerifyPolicy {
    /// Codes for any other program fail with `wrong_program`.
    pub program_id: u32,
    /// Codes older than this (seconds since issued-at) fail with `expired`.
    pub max_age_secs: u64,
    /// How far in the future issued-at may be before `issued_in_future`.
    pub max_clock_skew_secs: u64,
}

impl VerifyPolicy {
    /// One year of validity and five minutes of clock skew.
    pub fn for_program(program_id: u32) -> VerifyPolicy {
        VerifyPolicy {
            program_id,
            max_age_secs: 365 * 86_400,
            max_clock_skew_secs: 300,
        }
    }
}

/// Claims whose signature, program and age were checked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VerifiedClaims(Claims);

impl VerifiedClaims {
    pub fn claims(&self) -> &Claims {
        &self.0
    }
    pub fn into_claims(self) -> Claims {
        self.0
    }
    /// When this code stops verifying under the policy it was checked with.
    pub fn expires_at(&self, policy: &VerifyPolicy) -> u64 {
        self.0.issued_at.saturating_add(policy.max_age_secs)
    }
}

/// A keyring plus a program's policy: `verify(code, now)`.
#[derive(Clone, Debug)]
pub struct Verifier {
    pub keyring: Keyring,
    pub policy: VerifyPolicy,
}

impl Verifier {
    pub fn new(keyring: Keyring, policy: VerifyPolicy) -> Verifier {
        Verifier { keyring, policy }
    }

    /// Verifies `code` at `now` (Unix seconds). Signature first, so nothing
    /// an attacker wrote is trusted before the tag checks out.
    pub fn verify(&self, code: &str, now: u64) -> Result<VerifiedClaims, CodeError> {
        let claims = self.keyring.verify_signature(code)?;
        if claims.program_id != self.policy.program_id {
            return Err(CodeError::WrongProgram {
                expected: self.policy.program_id,
                found: claims.program_id,
            });
        }
        if claims.issued_at > now.saturating_add(self.policy.max_clock_skew_secs) {
            return Err(CodeError::IssuedInFuture {
                issued_at: claims.issued_at,
                now,
            });
        }
        let expired_at = claims.issued_at.saturating_add(self.policy.max_age_secs);
        if now >= expired_at {
            return Err(CodeError::Expired {
                issued_at: claims.issued_at,
                expired_at,
            });
        }
        Ok(VerifiedClaims(claims))
    }

    /// Mints with the active key (the same keyring verifies it).
    pub fn mint(&self, request: &MintRequest, now: u64) -> Result<ReferralCode, MintError> {
        self.keyring.mint(request, now)
    }
}

/// Raw HMAC-SHA256 through the same path codes use; exposed so tests can
/// check it against RFC 4231 and benchmarks can measure the floor.
pub fn hmac_sha256(secret: &[u8], message: &[u8]) -> [u8; 32] {
    // Any key length is valid for HMAC.
    let mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    sign(&mac, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_780_000_000;

    fn request() -> MintRequest {
        MintRequest {
            program_id: 7,
            referrer: ReferrerId::Numeric(42),
            channel: Channel::Email,
            campaign: Some(3),
        }
    }

    #[test]
    fn debug_never_prints_a_secret() {
        let secret = b"super-secret-value-that-is-32-bytes!";
        let mut ring = Keyring::new(1, secret).unwrap();
        ring.rotate(2, b"another-secret-value-of-32-bytes-xx")
            .unwrap();
        let verifier = Verifier::new(ring.clone(), VerifyPolicy::for_program(7));
        for text in [
            format!("{ring:?}"),
            format!("{verifier:?}"),
            format!("{ring:#?}"),
        ] {
            assert!(!text.contains("super-secret"), "{text}");
            assert!(!text.contains("another-secret"), "{text}");
            assert!(!text.to_lowercase().contains(&hex_of(secret)), "{text}");
        }
        assert_eq!(format!("{ring:?}"), "{1: VerifyOnly, 2: Active}");
    }

    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(
            Keyring::new(1, &[0u8; 31]).unwrap_err(),
            KeyringError::SecretTooShort { key_id: 1, len: 31 }
        );
    }

    #[test]
    fn rotation_keeps_shared_codes_valid_until_retired() {
        let mut ring = Keyring::new(1, &[1u8; 32]).unwrap();
        let old_code = ring.mint(&request(), NOW).unwrap();
        ring.rotate(2, &[2u8; 32]).unwrap();
        assert_eq!(ring.active_key_id(), 2);
        assert_eq!(ring.status(1), Some(KeyStatus::VerifyOnly));
        let new_code = ring.mint(&request(), NOW).unwrap();
        assert_eq!(peek_key(new_code.as_str()), 2);
        let verifier = Verifier::new(ring.clone(), VerifyPolicy::for_program(7));
        assert!(verifier.verify(old_code.as_str(), NOW + 10).is_ok());
        assert!(verifier.verify(new_code.as_str(), NOW + 10).is_ok());

        assert_eq!(ring.retire(2), Err(KeyringError::RetiringActiveKey(2)));
        ring.retire(1).unwrap();
        let verifier = Verifier::new(ring.clone(), VerifyPolicy::for_program(7));
        assert_eq!(
            verifier.verify(old_code.as_str(), NOW + 10),
            Err(CodeError::RetiredKey(1))
        );
        assert_eq!(ring.activate(1), Err(KeyringError::KeyRetired(1)));
        assert_eq!(
            ring.rotate(2, &[9u8; 32]),
            Err(KeyringError::DuplicateKeyId(2))
        );
    }

    fn peek_key(code: &str) -> u32 {
        crate::code::peek(code).unwrap().unverified().key_id
    }

    #[test]
    fn from_keys_needs_exactly_one_active_key() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        assert_eq!(
            Keyring::from_keys([(1, &a[..], KeyStatus::VerifyOnly)]).unwrap_err(),
            KeyringError::ActiveKeyCount(0)
        );
        assert_eq!(
            Keyring::from_keys([
                (1, &a[..], KeyStatus::Active),
                (2, &b[..], KeyStatus::Active)
            ])
            .unwrap_err(),
            KeyringError::ActiveKeyCount(2)
        );
        assert_eq!(
            Keyring::from_keys([
                (1, &a[..], KeyStatus::Active),
                (1, &b[..], KeyStatus::Retired)
            ])
            .unwrap_err(),
            KeyringError::DuplicateKeyId(1)
        );
        let ring = Keyring::from_keys([
            (1, &a[..], KeyStatus::Retired),
            (2, &b[..], KeyStatus::Active),
        ])
        .unwrap();
        assert_eq!(
            ring.key_ids(),
            vec![(1, KeyStatus::Retired), (2, KeyStatus::Active)]
        );
    }

    #[test]
    fn same_key_id_with_another_secret_is_a_bad_signature() {
        let code = Keyring::new(1, &[1u8; 32])
            .unwrap()
            .mint(&request(), NOW)
            .unwrap();
        let other = Verifier::new(
            Keyring::new(1, &[2u8; 32]).unwrap(),
            VerifyPolicy::for_program(7),
        );
        assert_eq!(
            other.verify(code.as_str(), NOW),
            Err(CodeError::BadSignature)
        );
    }

    #[test]
    fn policy_edges() {
        let verifier = Verifier::new(
            Keyring::new(1, &[1u8; 32]).unwrap(),
            VerifyPolicy {
                program_id: 7,
                max_age_secs: 100,
                max_clock_skew_secs: 5,
            },
        );
        let code = verifier.mint(&request(), NOW).unwrap();
        assert!(verifier.verify(code.as_str(), NOW - 5).is_ok());
        assert_eq!(
            verifier.verify(code.as_str(), NOW - 6),
            Err(CodeError::IssuedInFuture {
                issued_at: NOW,
                now: NOW - 6
            })
        );
        assert!(verifier.verify(code.as_str(), NOW + 99).is_ok());
        assert_eq!(
            verifier.verify(code.as_str(), NOW + 100),
            Err(CodeError::Expired {
                issued_at: NOW,
                expired_at: NOW + 100
            })
        );
        let other_program = verifier
            .mint(
                &MintRequest {
                    program_id: 8,
                    ..request()
                },
                NOW,
            )
            .unwrap();
        assert_eq!(
            verifier.verify(other_program.as_str(), NOW),
            Err(CodeError::WrongProgram {
                expected: 7,
                found: 8
            })
        );
        assert_eq!(verifier.mint(&request(), 5), Err(MintError::BeforeEpoch(5)));
    }
}
