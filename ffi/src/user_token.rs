//! User tokens: what a host's backend hands its signed-in user's browser so
//! the widget can call the referral service as that user. Minted and
//! verified with the verifier's keyring; the rules live in core.

use referral_core as core_;

use crate::{ReferralError, Verifier};

/// What to put in a new user token.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UserTokenRequest {
    /// The host's id for the signed-in user (1 to 128 UTF-8 bytes).
    pub subject: String,
    /// Who the token is for, e.g. the service's public URL (1 to 64 bytes).
    pub audience: String,
    /// Seconds the token is valid for, 1 to 86400.
    pub ttl_secs: u64,
}

impl From<UserTokenRequest> for core_::UserTokenRequest {
    fn from(r: UserTokenRequest) -> Self {
        core_::UserTokenRequest {
            subject: r.subject,
            audience: r.audience,
            ttl_secs: r.ttl_secs,
        }
    }
}

/// How the service checks user tokens.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UserTokenPolicy {
    /// The audience this service accepts.
    pub audience: String,
    /// How far in the future `issued_at` may be (clocks differ).
    pub max_clock_skew_secs: u64,
}

impl From<UserTokenPolicy> for core_::UserTokenPolicy {
    fn from(p: UserTokenPolicy) -> Self {
        core_::UserTokenPolicy {
            audience: p.audience,
            max_clock_skew_secs: p.max_clock_skew_secs,
        }
    }
}

/// A verified user token's claims.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UserTokenClaims {
    pub key_id: u32,
    pub subject: String,
    pub audience: String,
    /// Unix seconds.
    pub issued_at: u64,
    /// Unix seconds; the token is refused from this second on.
    pub expires_at: u64,
}

impl From<core_::UserTokenClaims> for UserTokenClaims {
    fn from(c: core_::UserTokenClaims) -> Self {
        UserTokenClaims {
            key_id: c.key_id,
            subject: c.subject,
            audience: c.audience,
            issued_at: c.issued_at,
            expires_at: c.expires_at,
        }
    }
}

#[uniffi::export]
impl Verifier {
    /// Mints a user token with the active key, issued at `now` (Unix
    /// seconds). Refusals are `ReferralError.UserToken` (`invalid_subject`,
    /// `invalid_audience`, `invalid_ttl`).
    pub fn mint_user_token(
        &self,
        request: UserTokenRequest,
        now: u64,
    ) -> Result<String, ReferralError> {
        Ok(self.core().keyring.mint_user_token(&request.into(), now)?)
    }

    /// Verifies a user token at `now` against `policy`; the error's
    /// `reason` says why it failed (`bad_signature`, `expired`,
    /// `wrong_audience`, …).
    pub fn verify_user_token(
        &self,
        token: &str,
        policy: UserTokenPolicy,
        now: u64,
    ) -> Result<UserTokenClaims, ReferralError> {
        Ok(self
            .core()
            .keyring
            .verify_user_token(token, &policy.into(), now)?
            .into())
    }
}
