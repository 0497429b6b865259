//! The success-moment nudge engine: decides **when** to ask a user to refer.
//!
//! `evaluate(config, state, event, now)` is pure and deterministic: the same
//! config, state, event and time give the same decision and the same new
//! state on every platform. It records the event into the state (occurrence
//! counts, friction, profile facts) and, when it decides to ask, records the
//! ask (so a second call cannot ask again inside the cooldown). The host
//! records what the user then did with [`record`].
//!
//! Checks, in order, for an event that matches a success moment:
//! opted out → holdout → onboarding (never skipped) → eligibility → recent friction →
//! quiet after a referral → cooldown → rolling cap → ask. A cancel-flow
//! moment may skip some of them (see [`config::Offboarding`]).
//!
//! Deferred moments: a moment with `defer_within` that is held back by a
//! passing rule (onboarding, friction, the quiet after a referral, a
//! cooldown) is kept as the state's one [`Pending`] ask and goes through
//! the same checks at every later event until it is asked or its window
//! closes; opt-out, holdout, eligibility and the cap still apply. When both
//! a pending ask and the event's own moment are there, the higher priority
//! is tried (ties: the event's own). The ask's [`Why`] names the event that
//! was held back and [`Deferral`] says by what, since when.

pub mod config;
pub mod duration;
pub mod event;
pub mod state;

use serde::{Deserialize, Serialize};

pub use config::{ConfigError, Messages, Moment, NudgeConfig, Operator, Predicate, PredicateValue};
pub use duration::Span;
pub use event::{Event, PropValue};
pub use state::{
    merge_states, EventCounts, FrictionMark, NudgeState, Pending, Profile, StateError,
};

use crate::template::MessageVars;
use config::Eligibility;

const THIRTY_DAYS: u64 = 30 * 86_400;

/// A decision: ask now, or stay quiet and say why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Ask(Ask),
    Quiet { reason: QuietReason },
}

impl Decision {
    pub fn is_ask(&self) -> bool {
        matches!(self, Decision::Ask(_))
    }

    /// `ask`, or the quiet reason's stable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Decision::Ask(_) => "ask",
            Decision::Quiet { reason } => reason.code(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ask {
    pub moment: String,
    /// `control` or an experiment variant's name.
    pub variant: String,
    /// The moment's (or variant's) message, rendered: its translation for
    /// the event's locale if it has one, else the default `message`.
    pub message: String,
    /// The locale tag of the translation used, as the config writes it
    /// (`ar` for an event in `ar-EG`); none for the default `message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Why now: which event, which occurrence, and whether a cancel-flow
    /// moment skipped a rule that would otherwise have waited.
    pub why: Why,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Why {
    /// The event that matched the moment (for a deferred ask, the earlier
    /// event that was held back), and its occurrence.
    pub event: String,
    pub occurrence: u32,
    pub priority: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bypassed: Vec<String>,
    /// Set when the moment was held back and is asked now (its
    /// `defer_within`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferred: Option<Deferral>,
}

/// A deferred ask's history: when the moment matched, which rule held it
/// back, and the event at which it is asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferral {
    pub since: u64,
    pub held_by: String,
    pub asked_on: String,
}

/// Why no ask. `code()` is the stable machine-readable form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum QuietReason {
    /// The event matches no success moment.
    NoMatchingMoment,
    /// The user said "don't ask again".
    OptedOut,
    /// The user is in the experiment's holdout: never asked.
    Holdout,
    /// Onboarding is not finished.
    Onboarding,
    /// An eligibility rule failed; `rule` names it.
    NotEligible { rule: String },
    /// Friction happened `seconds_ago`: `event`.
    RecentFriction { event: String, seconds_ago: u64 },
    /// The user referred someone recently; quiet until `until`.
    RecentlyReferred { until: u64 },
    /// An ask was shown or dismissed recently; quiet until `until`.
    Cooldown { until: u64 },
    /// `max_asks_per_30_days` reached; the oldest ask leaves the window at `until`.
    CapReached { until: u64 },
}

impl QuietReason {
    pub fn code(&self) -> &'static str {
        match self {
            QuietReason::NoMatchingMoment => "no_matching_moment",
            QuietReason::OptedOut => "opted_out",
            QuietReason::Holdout => "holdout",
            QuietReason::Onboarding => "onboarding",
            QuietReason::NotEligible { .. } => "not_eligible",
            QuietReason::RecentFriction { .. } => "recent_friction",
            QuietReason::RecentlyReferred { .. } => "recently_referred",
            QuietReason::Cooldown { .. } => "cooldown",
            QuietReason::CapReached { .. } => "cap_reached",
        }
    }
}

/// What the user did with an ask (or the product learned), for [`record`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The ask was actually displayed (if later than the decision).
    Shown,
    /// "Not now": the longer cooldown starts.
    Dismissed,
    /// "Don't ask again": permanent.
    OptedOut,
    /// The user shared their link.
    Shared,
    /// Someone the user referred signed up: the quiet period starts.
    Referred,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Shown,
        Outcome::Dismissed,
        Outcome::OptedOut,
        Outcome::Shared,
        Outcome::Referred,
    ];

    /// The wire name, as in JSON (`opted_out`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Shown => "shown",
            Outcome::Dismissed => "dismissed",
            Outcome::OptedOut => "opted_out",
            Outcome::Shared => "shared",
            Outcome::Referred => "referred",
        }
    }

    /// For bindings that take the name as a string.
    pub fn parse(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == name)
    }
}

/// FNV-1a 64: tiny, stable across platforms and versions (unlike std's
/// `DefaultHasher`), good enough to spread users over buckets.
pub fn fnv1a64(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            // A NUL byte between parts: ("ab","c") and ("a","bc") differ.
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        for byte in part.as_bytes() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The user's bucket (0..10,000) in `experiment`.
pub fn bucket(experiment: &str, user_id: &str) -> u32 {
    (fnv1a64(&[experiment, user_id]) % 10_000) as u32
}

/// True when the user is in the experiment's holdout.
pub fn in_holdout(config: &NudgeConfig, user_id: &str) -> bool {
    config
        .experiment
        .as_ref()
        .is_some_and(|e| bucket(&e.name, user_id) < e.holdout_basis_points)
}

fn learn_profile(eligibility: &Eligibility, state: &mut NudgeState, event: &Event, now: u64) {
    if state.first_seen.is_none() {
        state.first_seen = Some(now);
    }
    if eligibility.signup_event.as_deref() == Some(event.name.as_str())
        && state.profile.signed_up_at.is_none()
    {
        state.profile.signed_up_at = Some(now);
    }
    if eligibility.onboarding_completed_event.as_deref() == Some(event.name.as_str())
        && state.profile.onboarding_completed_at.is_none()
    {
        state.profile.onboarding_completed_at = Some(now);
    }
    if let Some(plan) = event.property("plan").and_then(PropValue::as_text) {
        state.profile.plan = Some(state::cut(plan));
    }
    if let Some(role) = event.property("role").and_then(PropValue::as_text) {
        state.profile.role = Some(state::cut(role));
    }
    if let Some(PropValue::Bool(active)) = event.property("active_customer") {
        state.profile.active_customer = Some(*active);
    }
}

fn predicate_holds(predicate: &Predicate, event: &Event) -> bool {
    let Some(actual) = event.property(&predicate.property) else {
        return false;
    };
    match (&predicate.op, &predicate.value) {
        (Operator::Equals, PredicateValue::One(expected)) => actual.same_as(expected),
        (Operator::AtLeast, PredicateValue::One(bound)) => {
            matches!((actual.as_number(), bound.as_number()), (Some(a), Some(b)) if a >= b)
        }
        (Operator::AtMost, PredicateValue::One(bound)) => {
            matches!((actual.as_number(), bound.as_number()), (Some(a), Some(b)) if a <= b)
        }
        (Operator::OneOf, PredicateValue::Many(values)) => values.iter().any(|v| actual.same_as(v)),
        // `validate` refuses the other shapes at load.
        _ => false,
    }
}

/// The rule that makes the user ineligible, if any.
fn ineligible(eligibility: &Eligibility, state: &NudgeState, now: u64) -> Option<QuietReason> {
    let not = |rule: &str| {
        Some(QuietReason::NotEligible {
            rule: rule.to_owned(),
        })
    };
    let since = state
        .profile
        .signed_up_at
        .or(state.first_seen)
        .unwrap_or(now);
    if now.saturating_sub(since) < eligibility.min_account_age.secs() {
        return not("min_account_age");
    }
    let in_set = |set: &[String], value: &Option<String>| {
        set.is_empty() || value.as_ref().is_some_and(|v| set.iter().any(|s| s == v))
    };
    if !in_set(&eligibility.plans, &state.profile.plan) {
        return not("plan");
    }
    if !in_set(&eligibility.roles, &state.profile.role) {
        return not("role");
    }
    if eligibility.require_active_customer && state.profile.active_customer != Some(true) {
        return not("active_customer");
    }
    None
}

/// Decides whether to ask now, recording the event (and an ask) in `state`.
pub fn evaluate(config: &NudgeConfig, state: &mut NudgeState, event: &Event, now: u64) -> Decision {
    learn_profile(&config.eligibility, state, event, now);
    let suppression = &config.suppression;
    if suppression.friction_events.contains(&event.name) {
        if state.friction.len() >= state::FRICTION_RING {
            state.friction.remove(0);
        }
        state.friction.push(FrictionMark {
            event: state::cut(&event.name),
            at: now,
        });
    }

    // Count this occurrence for every moment event (bounded by the config).
    let occurrence = if config.moments.iter().any(|m| m.event == event.name) {
        match state.counts.get_mut(&event.name) {
            Some(count) => {
                *count = count.saturating_add(1);
                *count
            }
            // Stored under the cut name (allocated only here); a name longer
            // than the cut finds its entry there.
            None => {
                let key = state::cut(&event.name);
                let count = state.counts.get(&key).unwrap_or(0).saturating_add(1);
                state.counts.insert(key, count);
                count
            }
        }
    } else {
        0
    };
    // A pending ask past its window, or whose moment no longer defers, is
    // dropped.
    if state.pending.as_ref().is_some_and(|p| {
        now > p.until
            || !config
                .moments
                .iter()
                .any(|m| m.name == p.moment && m.defer_within.is_some())
    }) {
        state.pending = None;
    }

    let matched = config
        .moments
        .iter()
        .filter(|m| m.event == event.name)
        .filter(|m| m.occurrence.is_none_or(|n| n == occurrence))
        .filter(|m| m.when.iter().all(|p| predicate_holds(p, event)))
        .fold(None::<&Moment>, |best, m| match best {
            Some(b) if b.priority >= m.priority => Some(b),
            _ => Some(m),
        });
    // The pending ask competes with this event's moment by priority (ties:
    // the fresh one).
    let waiting = state
        .pending
        .as_ref()
        .and_then(|p| Some((config.moments.iter().find(|m| m.name == p.moment)?, p)));
    // Both are tried, the higher priority first (ties: the fresh one): a
    // cancel-flow moment may still ask where the waiting one cannot.
    let waiting = waiting.map(|(m, p)| (m, Some(p.clone())));
    let fresh = matched.map(|m| (m, None));
    let held_priority = waiting.as_ref().map(|(m, _)| m.priority);
    let candidates: Vec<(&Moment, Option<Pending>)> = match (fresh, waiting) {
        (Some(f), Some(w)) if w.0.priority > f.0.priority => vec![w, f],
        (Some(f), Some(w)) => vec![f, w],
        (f, w) => f.into_iter().chain(w).collect(),
    };
    let mut reasons = Vec::with_capacity(candidates.len());
    for (moment, pending) in &candidates {
        match gate(config, state, moment, now) {
            Ok(bypassed) => {
                let why = match pending {
                    Some(p) => Why {
                        event: p.event.clone(),
                        occurrence: p.occurrence,
                        priority: moment.priority,
                        bypassed,
                        deferred: Some(Deferral {
                            since: p.at,
                            held_by: p.held_by.clone(),
                            asked_on: event.name.clone(),
                        }),
                    },
                    None => Why {
                        event: event.name.clone(),
                        occurrence,
                        priority: moment.priority,
                        bypassed,
                        deferred: None,
                    },
                };
                state.pending = None;
                return ask(config, state, event, moment, why, now);
            }
            Err(reason) => reasons.push(reason),
        }
    }
    let Some(first) = reasons.first().cloned() else {
        return Decision::Quiet {
            reason: QuietReason::NoMatchingMoment,
        };
    };
    if reasons
        .iter()
        .any(|r| matches!(r, QuietReason::OptedOut | QuietReason::Holdout))
    {
        state.pending = None;
    } else if let Some((moment, reason)) = candidates
        .iter()
        .zip(&reasons)
        .find(|((_, pending), _)| pending.is_none())
        .map(|((moment, _), reason)| (*moment, reason))
    {
        // A passing rule held the fresh moment back: if it may wait, it
        // waits (replacing a waiting ask of no higher priority), unless an
        // ask was made at this very time (the waiting ask is always newer
        // than every ask: merges rely on it). Eligibility and the cap are
        // not waited out.
        let passing = matches!(
            reason,
            QuietReason::Onboarding
                | QuietReason::RecentFriction { .. }
                | QuietReason::RecentlyReferred { .. }
                | QuietReason::Cooldown { .. }
        );
        if let (true, Some(span)) = (passing, moment.defer_within) {
            if held_priority.is_none_or(|p| p <= moment.priority)
                && state.asks.iter().all(|&t| t < now)
            {
                state.pending = Some(Pending {
                    at: now,
                    until: now.saturating_add(span.secs()),
                    moment: moment.name.clone(),
                    event: state::cut(&event.name),
                    occurrence,
                    held_by: reason.code().to_owned(),
                });
            }
        }
    }
    Decision::Quiet { reason: first }
}

/// The rules between a matching moment and an ask, in order. `Ok` with the
/// rules a cancel-flow moment skipped, or the first rule that says wait.
fn gate(
    config: &NudgeConfig,
    state: &mut NudgeState,
    moment: &Moment,
    now: u64,
) -> Result<Vec<String>, QuietReason> {
    let suppression = &config.suppression;
    if state.is_opted_out() {
        return Err(QuietReason::OptedOut);
    }
    if in_holdout(config, &state.user_id) {
        return Err(QuietReason::Holdout);
    }
    let offboarding = moment.offboarding.then_some(&config.offboarding);
    let mut bypassed = Vec::new();
    let mut skip = |allowed: bool, rule: &str| {
        if allowed {
            bypassed.push(rule.to_owned());
        }
        allowed
    };

    // Onboarding is never skipped, not even by a cancel flow.
    if config.eligibility.onboarding_completed_event.is_some()
        && state.profile.onboarding_completed_at.is_none()
    {
        return Err(QuietReason::Onboarding);
    }
    if let Some(reason) = ineligible(&config.eligibility, state, now) {
        if !skip(
            offboarding.is_some_and(|o| o.bypass_eligibility),
            reason.code(),
        ) {
            return Err(reason);
        }
    }
    if let Some(mark) = state
        .friction
        .last()
        .filter(|mark| now.saturating_sub(mark.at) < suppression.friction_window.secs())
    {
        if !skip(
            offboarding.is_some_and(|o| o.bypass_friction),
            "recent_friction",
        ) {
            return Err(QuietReason::RecentFriction {
                event: mark.event.clone(),
                seconds_ago: now.saturating_sub(mark.at),
            });
        }
    }
    if let Some(referred) = state.last_referred {
        let until = referred.saturating_add(suppression.quiet_after_referred.secs());
        if now < until
            && !skip(
                offboarding.is_some_and(|o| o.bypass_cooldown),
                "recently_referred",
            )
        {
            return Err(QuietReason::RecentlyReferred { until });
        }
    }
    let cooldown_until = [
        state
            .last_shown
            .map(|t| t.saturating_add(suppression.cooldown_after_shown.secs())),
        state
            .last_dismissed
            .map(|t| t.saturating_add(suppression.cooldown_after_dismissed.secs())),
    ]
    .into_iter()
    .flatten()
    .max();
    if let Some(until) = cooldown_until.filter(|until| now < *until) {
        if !skip(offboarding.is_some_and(|o| o.bypass_cooldown), "cooldown") {
            return Err(QuietReason::Cooldown { until });
        }
    }
    state.asks.retain(|t| now.saturating_sub(*t) < THIRTY_DAYS);
    if state.asks.len() >= suppression.max_asks_per_30_days as usize {
        let until = state
            .asks
            .first()
            .map_or(now, |t| t.saturating_add(THIRTY_DAYS));
        if !skip(offboarding.is_some_and(|o| o.bypass_cap), "cap_reached") {
            return Err(QuietReason::CapReached { until });
        }
    }
    Ok(bypassed)
}

/// The variant of `moment` a user sees: `control` or one of its variants,
/// by a stable hash of the experiment, the moment and the user. Without an
/// experiment or variants, `control`.
pub fn variant_of<'a>(config: &'a NudgeConfig, moment: &'a Moment, user_id: &str) -> &'a str {
    pick_arm(config, moment, user_id).0
}

fn pick_arm<'a>(
    config: &'a NudgeConfig,
    moment: &'a Moment,
    user_id: &str,
) -> (&'a str, &'a crate::template::Template, &'a Messages) {
    match (&config.experiment, moment.variants.is_empty()) {
        (Some(experiment), false) => {
            let arms = moment.variants.len() as u64 + 1;
            let pick = fnv1a64(&[&experiment.name, &moment.name, user_id]) % arms;
            match pick
                .checked_sub(1)
                .and_then(|i| moment.variants.get(i as usize))
            {
                Some(v) => (&v.name, &v.message, &v.messages),
                None => ("control", &moment.message, &moment.messages),
            }
        }
        _ => ("control", &moment.message, &moment.messages),
    }
}

fn ask(
    config: &NudgeConfig,
    state: &mut NudgeState,
    event: &Event,
    moment: &Moment,
    why: Why,
    now: u64,
) -> Decision {
    let (variant, default, messages) = pick_arm(config, moment, &state.user_id);
    let variant = variant.to_owned();
    // The chosen arm's translation for the event's locale (exact tag, then
    // its primary language), else its default message.
    let (locale, template) = match event.locale.as_deref().and_then(|l| messages.pick(l)) {
        Some((tag, template)) => (Some(tag.to_owned()), template),
        None => (None, default),
    };
    let message = template.render(&MessageVars {
        referrer_name: state.profile.display_name.clone(),
        product: config.product.clone(),
        reward: config.reward.clone(),
        link: state.profile.share_link.clone(),
    });

    // The ask is recorded now, so the cooldown holds even if the host never
    // reports `Shown`. The ring keeps at most the cap's size.
    state.last_shown = Some(now);
    state.asks.push(now);
    let keep = state
        .asks
        .len()
        .saturating_sub(config::MAX_ASKS_CAP as usize);
    state.asks.drain(..keep);
    state.total_asks = state.total_asks.saturating_add(1);
    Decision::Ask(Ask {
        moment: moment.name.clone(),
        variant,
        message,
        locale,
        why,
    })
}

/// Records what happened after an ask (or a referral signup) at `now`.
pub fn record(state: &mut NudgeState, outcome: Outcome, now: u64) {
    match outcome {
        Outcome::Shown => {
            state.last_shown = Some(state.last_shown.map_or(now, |t| t.max(now)));
        }
        Outcome::Dismissed => state.last_dismissed = Some(now),
        Outcome::OptedOut => {
            if state.opted_out_at.is_none() {
                state.opted_out_at = Some(now);
            }
        }
        Outcome::Shared => {
            state.last_shared = Some(now);
            state.total_shares = state.total_shares.saturating_add(1);
        }
        Outcome::Referred => {
            state.last_referred = Some(now);
            state.total_referred = state.total_referred.saturating_add(1);
        }
    }
}
