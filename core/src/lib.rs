#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[cfg(feature = "signing")]
pub mod attribution;
pub mod base62;
pub mod billing;
pub mod code;
#[cfg(feature = "signing")]
mod crockford;
pub mod fraud;
pub mod funnel;
#[cfg(feature = "signing")]
pub mod keyring;
pub mod lift;
pub mod nudge;
pub mod rewards;
pub mod share;
pub mod template;
pub mod url;
#[cfg(feature = "signing")]
pub mod user_token;

pub use code::{
    peek, Channel, Claims, CodeError, MintError, ReferralCode, ReferrerId, UnverifiedClaims,
};
#[cfg(feature = "signing")]
pub use keyring::{
    KeyStatus, Keyring, KeyringError, MintRequest, VerifiedClaims, Verifier, VerifyPolicy,
};
pub use share::{
    referral_url, share_action, LinkOptions, ShareAction, ShareError, ShareMessage, Utm,
};
pub use template::{MessageVars, Template, TemplateError};
#[cfg(feature = "signing")]
pub use user_token::{UserTokenClaims, UserTokenError, UserTokenPolicy, UserTokenRequest};
