//! Codes: keyring, mint, verify, peek.

use std::sync::Arc;

use referral_core as core_;

use crate::ReferralError;

/// Core's channel, exposed as it is (a remote enum: no copy, no conversion).
pub type Channel = core_::Channel;
#[uniffi::remote(Enum)]
pub enum Channel {
    Link,
    Email,
    LinkedIn,
    X,
    WhatsApp,
    Sms,
    NativeShare,
    Qr,
}

/// The stable lower-case name (`"linkedin"`, `"native_share"`, …) used in the
/// vectors, UTM parameters and events.
#[uniffi::export]
pub fn channel_name(channel: Channel) -> String {
    channel.as_str().to_owned()
}

/// Parses a stable channel name; `None` for an unknown one.
#[uniffi::export]
pub fn channel_from_name(name: String) -> Option<Channel> {
    Channel::parse(&name)
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ReferrerId {
    Numeric {
        id: u64,
    },
    /// 1 to 32 bytes: a UUID's 16 bytes or a short string id's UTF-8.
    Opaque {
        bytes: Vec<u8>,
    },
}

impl From<core_::ReferrerId> for ReferrerId {
    fn from(r: core_::ReferrerId) -> Self {
        match r {
            core_::ReferrerId::Numeric(id) => ReferrerId::Numeric { id },
            core_::ReferrerId::Opaque(bytes) => ReferrerId::Opaque { bytes },
        }
    }
}

impl TryFrom<ReferrerId> for core_::ReferrerId {
    type Error = ReferralError;
    fn try_from(r: ReferrerId) -> Result<Self, ReferralError> {
        match r {
            ReferrerId::Numeric { id } => Ok(core_::ReferrerId::Numeric(id)),
            ReferrerId::Opaque { bytes } => Ok(core_::ReferrerId::opaque(bytes)?),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Claims {
    pub key_id: u32,
    pub program_id: u32,
    pub referrer: ReferrerId,
    pub channel: Channel,
    pub campaign: Option<u32>,
    /// Unix seconds.
    pub issued_at: u64,
}

impl From<core_::Claims> for Claims {
    fn from(c: core_::Claims) -> Self {
        Claims {
            key_id: c.key_id,
            program_id: c.program_id,
            referrer: c.referrer.into(),
            channel: c.channel,
            campaign: c.campaign,
            issued_at: c.issued_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MintRequest {
    pub program_id: u32,
    pub referrer: ReferrerId,
    pub channel: Channel,
    pub campaign: Option<u32>,
}

impl TryFrom<MintRequest> for core_::MintRequest {
    type Error = ReferralError;
    fn try_from(r: MintRequest) -> Result<Self, ReferralError> {
        Ok(core_::MintRequest {
            program_id: r.program_id,
            referrer: r.referrer.try_into()?,
            channel: r.channel,
            campaign: r.campaign,
        })
    }
}

/// Core's key status, exposed as it is (a remote enum).
pub type KeyStatus = core_::KeyStatus;
#[uniffi::remote(Enum)]
pub enum KeyStatus {
    Active,
    VerifyOnly,
    Retired,
}

/// One signing key. Build these from your secret store; never ship them to
/// a browser or a mobile app.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct KeyEntry {
    pub key_id: u32,
    pub secret: Vec<u8>,
    pub status: KeyStatus,
}

// Debug without the secret, should a host log a KeyEntry.
impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("key_id", &self.key_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

pub type VerifyPolicy = core_::VerifyPolicy;
#[uniffi::remote(Record)]
pub struct VerifyPolicy {
    pub program_id: u32,
    pub max_age_secs: u64,
    pub max_clock_skew_secs: u64,
}

/// A keyring plus a program's policy: mints and verifies codes.
#[derive(Debug, uniffi::Object)]
pub struct Verifier {
    inner: core_::Verifier,
}

#[uniffi::export]
impl Verifier {
    /// Exactly one key must be `Active`; secrets are at least 32 bytes.
    #[uniffi::constructor]
    pub fn new(keys: Vec<KeyEntry>, policy: VerifyPolicy) -> Result<Arc<Self>, ReferralError> {
        let keyring = core_::Keyring::from_keys(
            keys.iter()
                .map(|k| (k.key_id, k.secret.as_slice(), k.status)),
        )?;
        Ok(Arc::new(Verifier {
            inner: core_::Verifier::new(keyring, policy),
        }))
    }

    /// Mints a code with the active key, issued at `now` (Unix seconds).
    pub fn mint(&self, request: MintRequest, now: u64) -> Result<String, ReferralError> {
        Ok(self.inner.mint(&request.try_into()?, now)?.into_string())
    }

    /// Verifies `code` at `now`; the error's `reason` says why it failed.
    pub fn verify(&self, code: &str, now: u64) -> Result<Claims, ReferralError> {
        Ok(self.inner.verify(code, now)?.into_claims().into())
    }

    pub fn active_key_id(&self) -> u32 {
        self.inner.keyring.active_key_id()
    }
}

impl Verifier {
    pub(crate) fn core(&self) -> &core_::Verifier {
        &self.inner
    }
}

/// Reads a code's claims without a key. **Unverified**: for display only.
#[uniffi::export]
pub fn peek_unverified(code: &str) -> Result<Claims, ReferralError> {
    Ok(core_::peek(code)?.into_unverified().into())
}

/// HMAC-SHA256 through core's signing path (for RFC 4231 checks).
#[uniffi::export]
pub fn hmac_sha256(key: Vec<u8>, message: Vec<u8>) -> Vec<u8> {
    core_::keyring::hmac_sha256(&key, &message).to_vec()
}
