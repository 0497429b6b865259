//! User tokens: what a host's backend hands its signed-in user's browser so
//! the widget can call the referral service as that user. Minted and
//! verified with the verifier's keyring; the rules live in core.

use referral_core as core_;

use crate::{ReferralError, Verifier};

pub type UserTokenRequest = core_::UserTokenRequest;
/// What to put in a new user token.
#[uniffi::remote(Record)]
pub struct UserTokenRequest {
    /// The host's id for the signed-in user (1 to 128 UTF-8 bytes).
    pub subject: String,
    /// Who the token is for, e.g. the service's public URL (1 to 64 bytes).
    pub audience: String,
    /// Seconds the token is valid for, 1 to 86400.
    pub ttl_secs: u64,
}

pub type UserTokenPolicy = core_::UserTokenPolicy;
/// How the service checks user tokens.
#[uniffi::remote(Record)]
pub struct UserTokenPolicy {
    /// The audience this service accepts.
    pub audience: String,
    /// How far in the future `issued_at` may be (clocks differ).
    pub max_clock_skew_secs: u64,
}

pub type UserTokenClaims = core_::UserTokenClaims;
/// A verified user token's claims.
#[uniffi::remote(Record)]
pub struct UserTokenClaims {
    pub key_id: u32,
    pub subject: String,
    pub audience: String,
    /// Unix seconds.
    pub issued_at: u64,
    /// Unix seconds; the token is refused from this second on.
    pub expires_at: u64,
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
        Ok(self.core().keyring.mint_user_token(&request, now)?)
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
        Ok(self.core().keyring.verify_user_token(token, &policy, now)?)
    }
}
