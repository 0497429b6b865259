//! The public error at the FFI edge: one variant per concern, each carrying
//! core's stable machine-readable `reason` and a human `detail`. Kotlin and
//! Swift see `ReferralException.Code(reason, detail)`, Python
//! `ReferralError.Code`.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum ReferralError {
    /// A code was refused (`malformed`, `bad_signature`, `expired`, …).
    #[error("{reason}: {detail}")]
    Code { reason: String, detail: String },
    /// A code could not be minted.
    #[error("{reason}: {detail}")]
    Mint { reason: String, detail: String },
    /// The keyring was refused (short secret, duplicate id, …).
    #[error("{reason}: {detail}")]
    Keyring { reason: String, detail: String },
    /// A share link or message could not be built.
    #[error("{reason}: {detail}")]
    Share { reason: String, detail: String },
    /// A configuration (templates, nudge rules, programs) was refused at load.
    #[error("{reason}: {detail}")]
    Config { reason: String, detail: String },
    /// The rewards ledger refused an event (`unknown_referral`,
    /// `not_payable`, `missing_acv`, …); the ledger is unchanged.
    #[error("{reason}: {detail}")]
    Ledger { reason: String, detail: String },
    /// An input from the host was not valid (bad id, bad state bytes, …).
    #[error("{reason}: {detail}")]
    InvalidInput { reason: String, detail: String },
    /// A user token was refused at verify (`malformed`, `bad_signature`,
    /// `expired`, `wrong_audience`, …) or could not be minted
    /// (`invalid_subject`, `invalid_audience`, `invalid_ttl`).
    #[error("{reason}: {detail}")]
    UserToken { reason: String, detail: String },
}

macro_rules! map_error {
    ($core:ty, $variant:ident) => {
        impl From<$core> for ReferralError {
            fn from(error: $core) -> Self {
                ReferralError::$variant {
                    reason: error.reason().to_owned(),
                    detail: error.to_string(),
                }
            }
        }
    };
}

map_error!(referral_core::CodeError, Code);
map_error!(referral_core::MintError, Mint);
map_error!(referral_core::KeyringError, Keyring);
map_error!(referral_core::ShareError, Share);
map_error!(referral_core::TemplateError, Config);
map_error!(referral_core::UserTokenError, UserToken);

impl ReferralError {
    pub(crate) fn invalid_input(reason: &str, message: impl Into<String>) -> Self {
        ReferralError::InvalidInput {
            reason: reason.to_owned(),
            detail: message.into(),
        }
    }
}
