//! Attribution: does a signup count, and for whom?
//!
//! Inputs are what the host captured (codes with capture times and how they
//! were captured), the signup, and what the host knows of each referrer.
//! Codes are verified with the keyring; the window runs from both the signed
//! issued-at (the code's age, via the program's `VerifyPolicy`) and the
//! capture time — never from a cookie's lifetime. Account level: the
//! referrer is an account, and any user of the referred company converting
//! counts. Conflicts: last touch (default) or first touch.
//!
//! Hard rejections end in `NotAttributed { reason }`; fraud signals are
//! flags on an attributed referral that send it to review.

use serde::{Deserialize, Serialize};

use crate::code::{Channel, ReferrerId};
use crate::fraud::{self, FraudFlag};
use crate::keyring::Verifier;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    /// `?ref=` on a landing page.
    Link,
    /// A typed code (`7R2K-9QXM-A4`) entered at signup.
    TypedCode,
    /// A mobile deep link.
    DeepLink,
    /// Android's install referrer (or an equivalent store attribution).
    InstallReferrer,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedReferral {
    pub code: String,
    /// Unix seconds.
    pub captured_at: u64,
    pub method: CaptureMethod,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signup {
    pub account_id: String,
    pub email: String,
    /// The friend's company domain as the friend or the host stated it. It
    /// can only add a same-company flag: the domain of the email is always
    /// checked too, so typing another domain never removes one.
    #[serde(default)]
    pub company_domain: Option<String>,
    pub at: u64,
    /// A hash of the friend's network prefix (e.g. HMAC of the /24), made by
    /// the host. Core never sees an address.
    #[serde(default)]
    pub network_prefix_hash: Option<String>,
}

/// What the host knows about a referrer, looked up by the referrer id the
/// codes carry (the host can `peek` them to know whom to look up).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferrerInfo {
    pub referrer: ReferrerId,
    pub account_id: String,
    pub email_domain: String,
    #[serde(default)]
    pub network_prefix_hash: Option<String>,
    /// The account that referred this referrer, if any (ring detection).
    #[serde(default)]
    pub referred_by_account: Option<String>,
    /// Rewards this referrer earned this calendar month (velocity).
    #[serde(default)]
    pub rewards_this_month: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Touch {
    #[default]
    LastTouch,
    FirstTouch,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributionPolicy {
    /// Seconds from capture to signup; 90 days by default, 180 for
    /// enterprise programs.
    #[serde(default = "default_window")]
    pub window_secs: u64,
    #[serde(default)]
    pub touch: Touch,
    /// Employee programs refer colleagues' contacts from the same domain.
    #[serde(default)]
    pub allow_same_company_domain: bool,
    /// More rewards than this in a month flags the referral (0: no limit).
    #[serde(default)]
    pub max_rewards_per_month: u32,
}

fn default_window() -> u64 {
    90 * 86_400
}

impl Default for AttributionPolicy {
    fn default() -> Self {
        AttributionPolicy {
            window_secs: default_window(),
            touch: Touch::LastTouch,
            allow_same_company_domain: false,
            max_rewards_per_month: 0,
        }
    }
}

/// What the host knows that core cannot: is this person already a customer?
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownPeople {
    /// An existing account whose normalised email equals the friend's
    /// (the host looks `fraud::normalize_email(signup.email)` up).
    #[serde(default)]
    pub account_with_same_normalized_email: Option<String>,
}

/// Why one captured code was not used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAside {
    pub code: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Attribution {
    Attributed(Attributed),
    NotAttributed {
        reason: NotAttributedReason,
        /// Every captured code and why it was set aside.
        set_aside: Vec<SetAside>,
    },
}

impl Attribution {
    /// `attributed`, `attributed_for_review`, or the rejection's code.
    pub fn reason(&self) -> &'static str {
        match self {
            Attribution::Attributed(a) if a.review => "attributed_for_review",
            Attribution::Attributed(_) => "attributed",
            Attribution::NotAttributed { reason, .. } => reason.code(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attributed {
    pub referrer: ReferrerId,
    pub referrer_account: String,
    pub code: String,
    pub program_id: u32,
    /// `None` for a typed code, which carries no channel.
    pub channel: Option<Channel>,
    pub campaign: Option<u32>,
    pub method: CaptureMethod,
    pub touch: Touch,
    pub captured_at: u64,
    /// The other usable codes this one won against.
    pub competing: u32,
    pub flags: Vec<FraudFlag>,
    /// True when any flag is raised: hold the reward until a person looked.
    pub review: bool,
    pub set_aside: Vec<SetAside>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum NotAttributedReason {
    /// No code was captured for this visitor.
    NoReferral,
    /// Every captured code failed (see `set_aside`).
    NoValidCode,
    /// Valid codes, but all captured outside the window.
    OutsideWindow,
    /// The host knows none of the referrers.
    UnknownReferrer,
    /// The friend's account is the referrer's account.
    SelfReferral,
    /// The signup's email is not an address.
    InvalidEmail,
}

impl NotAttributedReason {
    pub fn code(&self) -> &'static str {
        match self {
            NotAttributedReason::NoReferral => "no_referral",
            NotAttributedReason::NoValidCode => "no_valid_code",
            NotAttributedReason::OutsideWindow => "outside_window",
            NotAttributedReason::UnknownReferrer => "unknown_referrer",
            NotAttributedReason::SelfReferral => "self_referral",
            NotAttributedReason::InvalidEmail => "invalid_email",
        }
    }
}

struct Candidate<'a> {
    capture: &'a CapturedReferral,
    referrer: ReferrerId,
    channel: Option<Channel>,
    campaign: Option<u32>,
    info: &'a ReferrerInfo,
}

/// Decides whether `signup` counts and for whom. Pure: the time is the
/// signup's; every code is verified at that time.
pub fn attribute(
    verifier: &Verifier,
    policy: &AttributionPolicy,
    captures: &[CapturedReferral],
    signup: &Signup,
    referrers: &[ReferrerInfo],
    known: &KnownPeople,
) -> Attribution {
    let mut set_aside = Vec::new();
    let not = |reason, set_aside| Attribution::NotAttributed { reason, set_aside };
    if captures.is_empty() {
        return not(NotAttributedReason::NoReferral, set_aside);
    }
    let Ok(email_domain) = fraud::email_domain(&signup.email) else {
        return not(NotAttributedReason::InvalidEmail, set_aside);
    };
    let stated_domain = signup
        .company_domain
        .as_ref()
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty());
    let program_id = verifier.policy.program_id;
    let mut candidates: Vec<Candidate> = Vec::new();
    let (mut valid, mut in_window, mut known_referrer) = (0, 0, 0);
    for capture in captures {
        let aside = |reason: &str| SetAside {
            code: capture.code.chars().take(128).collect(),
            reason: reason.to_owned(),
        };
        // A capture can't predate the code, nor come after the signup.
        let verified = if capture.method == CaptureMethod::TypedCode {
            verifier
                .keyring
                .verify_typed_code(&capture.code, program_id)
                .map(|t| (ReferrerId::Numeric(t.referrer), None, None, None))
        } else {
            verifier.verify(&capture.code, signup.at).map(|c| {
                let c = c.into_claims();
                (c.referrer, Some(c.channel), c.campaign, Some(c.issued_at))
            })
        };
        let (referrer, channel, campaign, issued_at) = match verified {
            Ok(v) => v,
            Err(error) => {
                set_aside.push(aside(error.reason()));
                continue;
            }
        };
        valid += 1;
        let skew = verifier.policy.max_clock_skew_secs;
        if capture.captured_at > signup.at.saturating_add(skew)
            || issued_at.is_some_and(|issued| capture.captured_at.saturating_add(skew) < issued)
        {
            set_aside.push(aside("capture_time_inconsistent"));
            continue;
        }
        if signup.at.saturating_sub(capture.captured_at) > policy.window_secs {
            set_aside.push(aside("outside_window"));
            continue;
        }
        in_window += 1;
        let Some(info) = referrers.iter().find(|r| r.referrer == referrer) else {
            set_aside.push(aside("unknown_referrer"));
            continue;
        };
        known_referrer += 1;
        candidates.push(Candidate {
            capture,
            referrer,
            channel,
            campaign,
            info,
        });
    }
    if valid == 0 {
        return not(NotAttributedReason::NoValidCode, set_aside);
    }
    if in_window == 0 {
        return not(NotAttributedReason::OutsideWindow, set_aside);
    }
    if known_referrer == 0 {
        return not(NotAttributedReason::UnknownReferrer, set_aside);
    }
    // Self-referrals cannot win; set them aside and pick among the rest.
    let (own, others): (Vec<Candidate>, Vec<Candidate>) = candidates
        .into_iter()
        .partition(|c| c.info.account_id == signup.account_id);
    for c in &own {
        set_aside.push(SetAside {
            code: c.capture.code.clone(),
            reason: "self_referral".to_owned(),
        });
    }
    // Stable choice: ties in capture time keep the earlier-listed capture
    // for first touch and the later-listed one for last touch.
    let winner = match policy.touch {
        Touch::LastTouch => others
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (c.capture.captured_at, *i)),
        Touch::FirstTouch => others
            .iter()
            .enumerate()
            .min_by_key(|(i, c)| (c.capture.captured_at, *i)),
    };
    let Some((_, winner)) = winner else {
        return not(NotAttributedReason::SelfReferral, set_aside);
    };

    let info = winner.info;
    let mut flags = Vec::new();
    let referrer_domain = info.email_domain.trim().to_ascii_lowercase();
    let same_company = [Some(&email_domain), stated_domain.as_ref()]
        .into_iter()
        .flatten()
        .find(|domain| **domain == referrer_domain && !fraud::is_free_provider(domain));
    if let (false, Some(domain)) = (policy.allow_same_company_domain, same_company) {
        flags.push(FraudFlag::SameCompanyDomain {
            domain: domain.clone(),
        });
    }
    if fraud::is_disposable_domain(&email_domain) {
        flags.push(FraudFlag::DisposableEmail {
            domain: email_domain,
        });
    }
    if let Some(existing) = &known.account_with_same_normalized_email {
        if *existing != signup.account_id {
            flags.push(FraudFlag::DuplicatePerson {
                normalized_email: fraud::normalize_email(&signup.email).unwrap_or_default(),
                existing_account: existing.clone(),
            });
        }
    }
    if info.referred_by_account.as_deref() == Some(signup.account_id.as_str()) {
        flags.push(FraudFlag::ReferralRing {
            other_account: signup.account_id.clone(),
        });
    }
    if policy.max_rewards_per_month > 0 && info.rewards_this_month >= policy.max_rewards_per_month {
        flags.push(FraudFlag::Velocity {
            rewards_this_month: info.rewards_this_month,
            limit: policy.max_rewards_per_month,
        });
    }
    if let (Some(a), Some(b)) = (&info.network_prefix_hash, &signup.network_prefix_hash) {
        if a == b {
            flags.push(FraudFlag::SharedNetworkPrefix);
        }
    }
    let competing = (others.len() - 1) as u32;
    Attribution::Attributed(Attributed {
        referrer: winner.referrer.clone(),
        referrer_account: info.account_id.clone(),
        code: winner.capture.code.clone(),
        program_id,
        channel: winner.channel,
        campaign: winner.campaign,
        method: winner.capture.method,
        touch: policy.touch,
        captured_at: winner.capture.captured_at,
        competing,
        review: !flags.is_empty(),
        flags,
        set_aside,
    })
}
