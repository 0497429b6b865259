//! The nudge engine: a config object, and one object per user holding that
//! user's state (stored by the host as bytes between sessions).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use referral_core::nudge as core_;

use crate::ReferralError;

impl From<core_::ConfigError> for ReferralError {
    fn from(e: core_::ConfigError) -> Self {
        ReferralError::Config {
            reason: e.reason().to_owned(),
            detail: e.to_string(),
        }
    }
}

impl From<core_::StateError> for ReferralError {
    fn from(e: core_::StateError) -> Self {
        ReferralError::InvalidInput {
            reason: e.reason().to_owned(),
            detail: e.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum PropertyValue {
    Bool { value: bool },
    Int { value: i64 },
    Float { value: f64 },
    Text { value: String },
}

impl From<PropertyValue> for core_::PropValue {
    fn from(v: PropertyValue) -> Self {
        match v {
            PropertyValue::Bool { value } => core_::PropValue::Bool(value),
            PropertyValue::Int { value } => core_::PropValue::Int(value),
            PropertyValue::Float { value } => core_::PropValue::Float(value),
            PropertyValue::Text { value } => core_::PropValue::Text(value),
        }
    }
}

/// What the user did with an ask: core's `Outcome`, exposed as it is (a
/// remote enum) under the bindings' name.
pub type NudgeOutcome = core_::Outcome;
#[uniffi::remote(Enum)]
pub enum NudgeOutcome {
    Shown,
    Dismissed,
    OptedOut,
    Shared,
    Referred,
}

/// A deferred ask's history (core's `Deferral`).
pub type NudgeDeferral = core_::Deferral;
#[uniffi::remote(Record)]
pub struct NudgeDeferral {
    pub since: u64,
    pub held_by: String,
    pub asked_on: String,
}

/// Ask, or stay quiet with a machine-readable `reason` and its details.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum NudgeDecision {
    Ask {
        moment: String,
        variant: String,
        message: String,
        event: String,
        occurrence: u32,
        /// Rules a cancel-flow moment skipped (`cooldown`, `cap_reached`, …).
        bypassed: Vec<String>,
        /// The locale tag of the translation shown, as the config writes it
        /// (`ar` for a person in `ar-EG`); none for the default message.
        #[uniffi(default = None)]
        locale: Option<String>,
        /// Set when the moment was held back by a passing rule and is
        /// asked now: since when, by what, and at which event. `event` and
        /// `occurrence` are then the held-back event's.
        #[uniffi(default = None)]
        deferred: Option<NudgeDeferral>,
    },
    Quiet {
        /// `no_matching_moment`, `opted_out`, `holdout`, `onboarding`,
        /// `not_eligible`, `recent_friction`, `recently_referred`,
        /// `cooldown`, `cap_reached`.
        reason: String,
        /// `not_eligible`: which rule.
        rule: Option<String>,
        /// `recent_friction`: which event, how long ago.
        friction_event: Option<String>,
        seconds_ago: Option<u64>,
        /// `cooldown`, `cap_reached`, `recently_referred`: quiet until.
        until: Option<u64>,
    },
}

impl From<core_::Decision> for NudgeDecision {
    fn from(d: core_::Decision) -> Self {
        match d {
            core_::Decision::Ask(ask) => NudgeDecision::Ask {
                moment: ask.moment,
                variant: ask.variant,
                message: ask.message,
                event: ask.why.event,
                occurrence: ask.why.occurrence,
                bypassed: ask.why.bypassed,
                locale: ask.locale,
                deferred: ask.why.deferred,
            },
            core_::Decision::Quiet { reason } => {
                let code = reason.code().to_owned();
                let (mut rule, mut friction_event, mut seconds_ago, mut until) =
                    (None, None, None, None);
                match reason {
                    core_::QuietReason::NotEligible { rule: r } => rule = Some(r),
                    core_::QuietReason::RecentFriction {
                        event,
                        seconds_ago: s,
                    } => {
                        friction_event = Some(event);
                        seconds_ago = Some(s);
                    }
                    core_::QuietReason::RecentlyReferred { until: u }
                    | core_::QuietReason::Cooldown { until: u }
                    | core_::QuietReason::CapReached { until: u } => until = Some(u),
                    _ => {}
                }
                NudgeDecision::Quiet {
                    reason: code,
                    rule,
                    friction_event,
                    seconds_ago,
                    until,
                }
            }
        }
    }
}

/// A loaded, validated nudge configuration.
#[derive(Debug, uniffi::Object)]
pub struct NudgeEngine {
    config: core_::NudgeConfig,
}

#[uniffi::export]
impl NudgeEngine {
    /// Parses and validates JSON; errors name the field (`Config` error).
    #[uniffi::constructor]
    pub fn from_json(text: &str) -> Result<Arc<Self>, ReferralError> {
        Ok(Arc::new(NudgeEngine {
            config: core_::NudgeConfig::from_json(text)?,
        }))
    }

    #[uniffi::constructor]
    pub fn from_toml(text: &str) -> Result<Arc<Self>, ReferralError> {
        Ok(Arc::new(NudgeEngine {
            config: core_::NudgeConfig::from_toml(text)?,
        }))
    }

    /// A new user's state.
    pub fn new_user(self: Arc<Self>, user_id: &str) -> Arc<NudgeUser> {
        Arc::new(NudgeUser {
            engine: self,
            state: Mutex::new(core_::NudgeState::new(user_id)),
        })
    }

    /// A user restored from bytes saved with `NudgeUser.to_bytes()`
    /// (older state versions are migrated).
    pub fn restore_user(self: Arc<Self>, bytes: Vec<u8>) -> Result<Arc<NudgeUser>, ReferralError> {
        Ok(Arc::new(NudgeUser {
            engine: self,
            state: Mutex::new(read_state(bytes)?),
        }))
    }

    /// True when the user is in the experiment's holdout (never asked).
    pub fn in_holdout(&self, user_id: &str) -> bool {
        core_::in_holdout(&self.config, user_id)
    }
}

/// A stored state (bytes from `NudgeUser.to_bytes()`, any version).
fn read_state(bytes: Vec<u8>) -> Result<core_::NudgeState, ReferralError> {
    let text = String::from_utf8(bytes)
        .map_err(|_| ReferralError::invalid_input("invalid_state", "state is not UTF-8"))?;
    Ok(core_::NudgeState::from_json(&text)?)
}

/// One user's nudge state and the engine that decides for them.
#[derive(Debug, uniffi::Object)]
pub struct NudgeUser {
    engine: Arc<NudgeEngine>,
    state: Mutex<core_::NudgeState>,
}

impl NudgeUser {
    fn with_state<T>(&self, f: impl FnOnce(&mut core_::NudgeState) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-call; the
        // state itself is plain data, so keep using it.
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

#[uniffi::export]
impl NudgeUser {
    /// Should we ask now? Records the event (and any ask) in the state.
    /// `locale` (`"de"`, `"ar-EG"`; optional) picks the message's
    /// translation: the exact tag, then its language, else the default.
    #[uniffi::method(default(locale = None))]
    pub fn evaluate(
        &self,
        event: &str,
        properties: HashMap<String, PropertyValue>,
        now: u64,
        locale: Option<String>,
    ) -> NudgeDecision {
        let mut pairs: Vec<(String, core_::PropValue)> =
            properties.into_iter().map(|(k, v)| (k, v.into())).collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let event = core_::Event {
            name: event.to_owned(),
            properties: pairs,
            locale,
        };
        self.with_state(|state| core_::evaluate(&self.engine.config, state, &event, now).into())
    }

    /// Records what the user did with an ask (or that they referred someone).
    pub fn record(&self, outcome: NudgeOutcome, now: u64) {
        self.with_state(|state| core_::record(state, outcome, now))
    }

    /// The state as bytes (JSON) to store anywhere; `restore_user` reads it.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.with_state(|state| state.to_json().into_bytes())
    }

    /// Merges another stored copy of this person's state (bytes from
    /// `to_bytes()` on another device, or the copy the host's backend keeps)
    /// into this one, by core's rule: an opt-out or a referral on either copy
    /// holds, occurrences are not counted twice, asks and friction are
    /// combined. Copies of another user, or unreadable bytes, fail with
    /// `InvalidInput` (`invalid_state`, `future_state_version`) and leave
    /// this state unchanged.
    pub fn merge(&self, other: Vec<u8>) -> Result<(), ReferralError> {
        let other = read_state(other)?;
        self.with_state(|state| {
            *state = core_::merge_states(state, &other)?;
            Ok(())
        })
    }

    pub fn is_opted_out(&self) -> bool {
        self.with_state(|state| state.is_opted_out())
    }

    /// Sets what the host knows of the user (name and link fill messages).
    pub fn set_profile(&self, profile: NudgeProfile) {
        self.with_state(|state| {
            state.profile = core_::Profile {
                signed_up_at: profile.signed_up_at,
                onboarding_completed_at: profile.onboarding_completed_at,
                plan: profile.plan,
                role: profile.role,
                active_customer: profile.active_customer,
                display_name: profile.display_name,
                share_link: profile.share_link,
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct NudgeProfile {
    pub signed_up_at: Option<u64>,
    pub onboarding_completed_at: Option<u64>,
    pub plan: Option<String>,
    pub role: Option<String>,
    pub active_customer: Option<bool>,
    pub display_name: String,
    pub share_link: String,
}
