//! Attribution, fraud checks and typed codes.

use referral_core::attribution as core_;
use referral_core::fraud;

use crate::{Channel, ReferralError, ReferrerId, Verifier};

/// Core's capture method, exposed as it is (a remote enum).
pub type CaptureMethod = core_::CaptureMethod;
#[uniffi::remote(Enum)]
pub enum CaptureMethod {
    Link,
    TypedCode,
    DeepLink,
    InstallReferrer,
}

/// Core's touch rule, exposed as it is (a remote enum).
pub type Touch = core_::Touch;
#[uniffi::remote(Enum)]
pub enum Touch {
    LastTouch,
    FirstTouch,
}

pub type CapturedReferral = core_::CapturedReferral;
#[uniffi::remote(Record)]
pub struct CapturedReferral {
    pub code: String,
    pub captured_at: u64,
    pub method: CaptureMethod,
}

pub type Signup = core_::Signup;
#[uniffi::remote(Record)]
pub struct Signup {
    pub account_id: String,
    pub email: String,
    pub company_domain: Option<String>,
    pub at: u64,
    pub network_prefix_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReferrerInfo {
    pub referrer: ReferrerId,
    pub account_id: String,
    pub email_domain: String,
    pub network_prefix_hash: Option<String>,
    pub referred_by_account: Option<String>,
    pub rewards_this_month: u32,
}

pub type AttributionPolicy = core_::AttributionPolicy;
#[uniffi::remote(Record)]
pub struct AttributionPolicy {
    pub window_secs: u64,
    pub touch: Touch,
    pub allow_same_company_domain: bool,
    pub max_rewards_per_month: u32,
}

pub type SetAside = core_::SetAside;
#[uniffi::remote(Record)]
pub struct SetAside {
    pub code: String,
    pub reason: String,
}

/// Core's fraud signal, exposed as it is (a remote enum).
pub type FraudFlag = fraud::FraudFlag;
#[uniffi::remote(Enum)]
pub enum FraudFlag {
    SameCompanyDomain {
        domain: String,
    },
    DisposableEmail {
        domain: String,
    },
    DuplicatePerson {
        normalized_email: String,
        existing_account: String,
    },
    ReferralRing {
        other_account: String,
    },
    Velocity {
        rewards_this_month: u32,
        limit: u32,
    },
    SharedNetworkPrefix,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum AttributionOutcome {
    Attributed {
        referrer: ReferrerId,
        referrer_account: String,
        code: String,
        program_id: u32,
        channel: Option<Channel>,
        campaign: Option<u32>,
        method: CaptureMethod,
        touch: Touch,
        captured_at: u64,
        competing: u32,
        /// Fraud signals: a referral with flags goes to review.
        flags: Vec<FraudFlag>,
        review: bool,
        set_aside: Vec<SetAside>,
    },
    NotAttributed {
        /// `no_referral`, `no_valid_code`, `outside_window`,
        /// `unknown_referrer`, `self_referral`, `invalid_email`.
        reason: String,
        set_aside: Vec<SetAside>,
    },
}

impl From<core_::Attribution> for AttributionOutcome {
    fn from(a: core_::Attribution) -> Self {
        match a {
            core_::Attribution::Attributed(a) => AttributionOutcome::Attributed {
                referrer: a.referrer.into(),
                referrer_account: a.referrer_account,
                code: a.code,
                program_id: a.program_id,
                channel: a.channel,
                campaign: a.campaign,
                method: a.method,
                touch: a.touch,
                captured_at: a.captured_at,
                competing: a.competing,
                flags: a.flags,
                review: a.review,
                set_aside: a.set_aside,
            },
            core_::Attribution::NotAttributed {
                reason,
                set_aside: aside,
            } => AttributionOutcome::NotAttributed {
                reason: reason.code().to_owned(),
                set_aside: aside,
            },
        }
    }
}

pub type TypedCodeClaims = referral_core::keyring::TypedCodeClaims;
#[uniffi::remote(Record)]
pub struct TypedCodeClaims {
    pub key_id: u32,
    pub program_id: u32,
    pub referrer: u64,
}

#[uniffi::export]
impl Verifier {
    /// Does this signup count, and for whom? One call per signup.
    pub fn attribute(
        &self,
        policy: AttributionPolicy,
        captures: Vec<CapturedReferral>,
        signup: Signup,
        referrers: Vec<ReferrerInfo>,
        account_with_same_normalized_email: Option<String>,
    ) -> Result<AttributionOutcome, ReferralError> {
        let referrers = referrers
            .into_iter()
            .map(|r| {
                Ok(core_::ReferrerInfo {
                    referrer: r.referrer.try_into()?,
                    account_id: r.account_id,
                    email_domain: r.email_domain,
                    network_prefix_hash: r.network_prefix_hash,
                    referred_by_account: r.referred_by_account,
                    rewards_this_month: r.rewards_this_month,
                })
            })
            .collect::<Result<Vec<_>, ReferralError>>()?;
        let known = core_::KnownPeople {
            account_with_same_normalized_email,
        };
        Ok(core_::attribute(self.core(), &policy, &captures, &signup, &referrers, &known).into())
    }

    /// The short typed code (`041C-P5P7-ER`) for a numeric referrer.
    pub fn typed_code(&self, program_id: u32, referrer: u64) -> String {
        self.core().keyring.typed_code(program_id, referrer)
    }

    /// Verifies a typed code as a person typed it.
    pub fn verify_typed_code(
        &self,
        text: &str,
        program_id: u32,
    ) -> Result<TypedCodeClaims, ReferralError> {
        Ok(self.core().keyring.verify_typed_code(text, program_id)?)
    }
}

/// The default attribution policy: 90-day window, last touch.
#[uniffi::export]
pub fn default_attribution_policy() -> AttributionPolicy {
    AttributionPolicy::default()
}

/// Lower case, no `+tag`, no dots for Gmail: look this up for duplicates.
#[uniffi::export]
pub fn normalize_email(email: &str) -> Result<String, ReferralError> {
    fraud::normalize_email(email)
        .map_err(|e| ReferralError::invalid_input(e.reason(), e.to_string()))
}

/// True for a domain (or subdomain) on the shipped disposable list.
#[uniffi::export]
pub fn is_disposable_domain(domain: &str) -> bool {
    fraud::is_disposable_domain(domain)
}
