//! Referral lift: what asking at success moments does, measured against the
//! experiment's holdout (users the engine never asks; see
//! [`crate::nudge::in_holdout`]).
//!
//! Pure and deterministic. The input is per-group tallies ([`LiftTallies`]),
//! built from per-user outcomes ([`UserOutcome`]) or kept as running
//! counters by a backend (every field is a sum, so counters can be
//! incremented one event at a time: see [`GroupTally::add_referral`]).
//!
//! Methods, chosen to behave at small counts:
//! - a group's share of users who referred: Wilson's score interval;
//! - the difference of two shares: Newcombe's hybrid score interval
//!   (method 10 of Newcombe 1998), built from the two Wilson intervals;
//! - the ratio of two shares (relative lift + 1): the log interval with
//!   0.5 added to every count and total, which stays finite at zero counts;
//! - per-user means (referred signups, paid conversions): the normal
//!   interval with each group's own sample variance (Welch's, with z);
//! - users needed: the normal-approximation sample size for two proportions
//!   with the configured allocation, 95 % confidence and 80 % power.
//!
//! All intervals are 95 %.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::funnel::Stage;
use crate::nudge::{fnv1a64, in_holdout, variant_of, NudgeConfig};

/// The 97.5th percentile of the standard normal distribution.
pub const Z_95: f64 = 1.959_963_984_540_054;
/// The 80th percentile: 80 % power.
pub const Z_POWER_80: f64 = 0.841_621_233_572_914_3;

/// One user's outcome over the measured period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserOutcome {
    /// In the experiment's holdout (never asked).
    pub holdout: bool,
    /// Was asked at least once.
    pub asked: bool,
    /// Shared their link at least once.
    pub shared: bool,
    /// Signups attributed to this user.
    pub referred_signups: u32,
    /// Of those, accounts that became paying.
    pub referred_paid: u32,
}

/// Sums over one group's users. Every field only grows, one event at a
/// time, so a backend can keep it as counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupTally {
    pub users: u64,
    pub asked: u64,
    pub shared: u64,
    /// Users with at least one referred signup.
    pub referrers: u64,
    pub signups: u64,
    /// Σ signups² over users (for the per-user variance).
    pub signups_squared: u64,
    pub paid: u64,
    /// Σ paid² over users.
    pub paid_squared: u64,
}

impl GroupTally {
    /// Adds one user.
    pub fn add(&mut self, outcome: &UserOutcome) {
        let signups = u64::from(outcome.referred_signups);
        let paid = u64::from(outcome.referred_paid);
        // Saturating: sums of squares of u32 counts can pass u64 on absurd
        // input; a wrong variance must not wrap silently.
        self.users = self.users.saturating_add(1);
        self.asked = self.asked.saturating_add(u64::from(outcome.asked));
        self.shared = self.shared.saturating_add(u64::from(outcome.shared));
        self.referrers = self.referrers.saturating_add(u64::from(signups > 0));
        self.signups = self.signups.saturating_add(signups);
        self.signups_squared = self.signups_squared.saturating_add(signups * signups);
        self.paid = self.paid.saturating_add(paid);
        self.paid_squared = self.paid_squared.saturating_add(paid * paid);
    }

    /// The change to the tally when a user who had `before` referred
    /// signups gets one more: as counters, `referrers` grows on the first,
    /// and Σ signups² grows by 2·before + 1. The same holds for paid
    /// conversions with [`GroupTally::add_paid`].
    pub fn add_referral(&mut self, before: u32) {
        let before = u64::from(before);
        self.referrers += u64::from(before == 0);
        self.signups += 1;
        self.signups_squared += 2 * before + 1;
    }

    /// One more paid conversion for a user who had `before`.
    pub fn add_paid(&mut self, before: u32) {
        let before = u64::from(before);
        self.paid += 1;
        self.paid_squared += 2 * before + 1;
    }
}

/// Treatment (eligible to be asked) and holdout tallies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LiftTallies {
    pub treatment: GroupTally,
    pub holdout: GroupTally,
}

impl LiftTallies {
    pub fn add(&mut self, outcome: &UserOutcome) {
        if outcome.holdout {
            self.holdout.add(outcome);
        } else {
            self.treatment.add(outcome);
        }
    }

    pub fn from_outcomes<'a>(outcomes: impl IntoIterator<Item = &'a UserOutcome>) -> LiftTallies {
        let mut tallies = LiftTallies::default();
        for outcome in outcomes {
            tallies.add(outcome);
        }
        tallies
    }
}

/// What the verdict is about.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LiftOptions {
    /// The experiment's holdout share, in basis points (1,000 = 10 %): the
    /// allocation the sample size is computed for.
    pub holdout_basis_points: u32,
    /// The smallest relative lift worth detecting (0.2 = a fifth more
    /// referrers than the holdout).
    pub min_relative_lift: f64,
}

impl Default for LiftOptions {
    fn default() -> Self {
        LiftOptions {
            holdout_basis_points: 1_000,
            min_relative_lift: 0.2,
        }
    }
}

/// An estimate with its 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// One group, with its rates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupReport {
    #[serde(flatten)]
    pub tally: GroupTally,
    /// Share of users who referred at least once (Wilson). None without users.
    pub referrer_rate: Option<Interval>,
    /// Referred signups per user (normal interval). None under two users.
    pub signups_per_user: Option<Interval>,
    /// Paid conversions per user. None under two users.
    pub paid_per_user: Option<Interval>,
}

/// Treatment against holdout on one measure.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Treatment minus holdout.
    pub absolute: Interval,
    /// Treatment ÷ holdout − 1.
    pub relative: Option<RelativeInterval>,
}

/// A relative lift (0.25 = a quarter more). The estimate is none when the
/// holdout's value is zero; the interval may still be there.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelativeInterval {
    pub estimate: Option<f64>,
    pub low: f64,
    pub high: f64,
}

/// The plain-language answer, with a stable `code`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Verdict {
    /// The experiment puts nobody aside: nothing to compare with.
    NoHoldout,
    /// Too few users or referrals to tell. `more_holdout_users` and
    /// `more_treatment_users` are the users still needed to detect an
    /// absolute lift of `detectable_lift` in the share of users who refer
    /// (none while neither group has a referral to start from).
    NotEnoughData {
        more_holdout_users: Option<u64>,
        more_treatment_users: Option<u64>,
        detectable_lift: Option<f64>,
    },
    /// Asking brings more referrers: the interval of the difference is
    /// above zero.
    Lift,
    /// Asking brings fewer referrers: the interval is below zero.
    Harm,
    /// Enough users to detect `detectable_lift`, and no difference found.
    NoDetectableLift { detectable_lift: f64 },
}

impl Verdict {
    pub fn code(&self) -> &'static str {
        match self {
            Verdict::NoHoldout => "no_holdout",
            Verdict::NotEnoughData { .. } => "not_enough_data",
            Verdict::Lift => "lift",
            Verdict::Harm => "harm",
            Verdict::NoDetectableLift { .. } => "no_detectable_lift",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiftReport {
    pub treatment: GroupReport,
    pub holdout: GroupReport,
    /// The share of users who referred at least once: the primary measure.
    pub referrer_rate: Option<Comparison>,
    pub signups_per_user: Option<Comparison>,
    pub paid_per_user: Option<Comparison>,
    pub verdict: Verdict,
    /// The verdict in a sentence, for people.
    pub summary: String,
}

/// Wilson's score interval for `count` successes in `total` trials.
pub fn wilson(count: u64, total: u64) -> Option<Interval> {
    if total == 0 || count > total {
        return None;
    }
    let n = total as f64;
    let p = count as f64 / n;
    let z2 = Z_95 * Z_95;
    let denominator = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denominator;
    let half = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    // At 0 and at n the bounds are exactly 0 and 1 (the formula's float
    // rounding would leave 1e-17).
    Some(Interval {
        estimate: p,
        low: if count == 0 {
            0.0
        } else {
            (center - half).max(0.0)
        },
        high: if count == total {
            1.0
        } else {
            (center + half).min(1.0)
        },
    })
}

/// Newcombe's hybrid score interval for p₁ − p₂ (his method 10).
pub fn newcombe(count1: u64, total1: u64, count2: u64, total2: u64) -> Option<Interval> {
    let a = wilson(count1, total1)?;
    let b = wilson(count2, total2)?;
    let difference = a.estimate - b.estimate;
    Some(Interval {
        estimate: difference,
        low: difference - ((a.estimate - a.low).powi(2) + (b.high - b.estimate).powi(2)).sqrt(),
        high: difference + ((a.high - a.estimate).powi(2) + (b.estimate - b.low).powi(2)).sqrt(),
    })
}

/// p₁ ÷ p₂ − 1 with the adjusted log interval (0.5 added to each count and
/// total). The estimate is the unadjusted ratio − 1, none when p₂ is zero;
/// the interval is none only without users.
pub fn relative_lift(
    count1: u64,
    total1: u64,
    count2: u64,
    total2: u64,
) -> Option<RelativeInterval> {
    if total1 == 0 || total2 == 0 || count1 > total1 || count2 > total2 {
        return None;
    }
    let (x1, n1) = (count1 as f64 + 0.5, total1 as f64 + 0.5);
    let (x2, n2) = (count2 as f64 + 0.5, total2 as f64 + 0.5);
    let log_ratio = ((x1 / n1) / (x2 / n2)).ln();
    let spread = Z_95 * (1.0 / x1 - 1.0 / n1 + 1.0 / x2 - 1.0 / n2).sqrt();
    Some(RelativeInterval {
        estimate: (count2 > 0)
            .then(|| (count1 as f64 / total1 as f64) / (count2 as f64 / total2 as f64) - 1.0),
        low: (log_ratio - spread).exp() - 1.0,
        high: (log_ratio + spread).exp() - 1.0,
    })
}

/// Mean and sample variance (n − 1) of a count per user from its sums.
fn mean_and_variance(sum: u64, sum_squared: u64, users: u64) -> Option<(f64, f64)> {
    if users < 2 {
        return None;
    }
    let n = users as f64;
    let mean = sum as f64 / n;
    let variance = ((sum_squared as f64 - sum as f64 * mean) / (n - 1.0)).max(0.0);
    Some((mean, variance))
}

fn mean_interval(sum: u64, sum_squared: u64, users: u64) -> Option<Interval> {
    let (mean, variance) = mean_and_variance(sum, sum_squared, users)?;
    let half = Z_95 * (variance / users as f64).sqrt();
    Some(Interval {
        estimate: mean,
        low: (mean - half).max(0.0),
        high: mean + half,
    })
}

/// Treatment minus holdout of a per-user mean, each group with its own
/// variance (z, not t: the groups are large when it matters).
fn mean_comparison(treatment: (u64, u64, u64), holdout: (u64, u64, u64)) -> Option<Comparison> {
    let (mean_t, var_t) = mean_and_variance(treatment.0, treatment.1, treatment.2)?;
    let (mean_h, var_h) = mean_and_variance(holdout.0, holdout.1, holdout.2)?;
    let difference = mean_t - mean_h;
    let half = Z_95 * (var_t / treatment.2 as f64 + var_h / holdout.2 as f64).sqrt();
    let absolute = Interval {
        estimate: difference,
        low: difference - half,
        high: difference + half,
    };
    // Relative: the ratio of the means by the delta method on its log
    // (each mean's own uncertainty counts); none when either mean is 0.
    let relative = (mean_t > 0.0 && mean_h > 0.0).then(|| {
        let log_ratio = (mean_t / mean_h).ln();
        let spread = Z_95
            * (var_t / (treatment.2 as f64 * mean_t * mean_t)
                + var_h / (holdout.2 as f64 * mean_h * mean_h))
                .sqrt();
        RelativeInterval {
            estimate: Some(mean_t / mean_h - 1.0),
            low: (log_ratio - spread).exp() - 1.0,
            high: (log_ratio + spread).exp() - 1.0,
        }
    });
    Some(Comparison { absolute, relative })
}

/// Holdout users needed to detect an absolute rise `lift` over `baseline`
/// with `ratio` treatment users per holdout user, at 95 % confidence
/// (two-sided) and 80 % power: the normal approximation for two
/// proportions (Fleiss, without continuity correction).
pub fn holdout_users_needed(baseline: f64, lift: f64, ratio: f64) -> Option<f64> {
    let treated = baseline + lift;
    if !(baseline > 0.0 && baseline < 1.0 && lift > 0.0 && treated < 1.0 && ratio > 0.0) {
        return None;
    }
    let pooled = (baseline + ratio * treated) / (1.0 + ratio);
    let a = Z_95 * (pooled * (1.0 - pooled) * (1.0 + 1.0 / ratio)).sqrt();
    let b = Z_POWER_80 * (baseline * (1.0 - baseline) + treated * (1.0 - treated) / ratio).sqrt();
    Some(((a + b) / lift).powi(2))
}

fn group_report(tally: &GroupTally) -> GroupReport {
    GroupReport {
        tally: *tally,
        referrer_rate: wilson(tally.referrers, tally.users),
        signups_per_user: mean_interval(tally.signups, tally.signups_squared, tally.users),
        paid_per_user: mean_interval(tally.paid, tally.paid_squared, tally.users),
    }
}

fn percent(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

fn points(x: f64) -> String {
    format!("{} percentage points", number(x))
}

fn number(x: f64) -> String {
    format!("{:.1}", x * 100.0)
}

/// Treatment against holdout, with the verdict.
pub fn lift(tallies: &LiftTallies, options: &LiftOptions) -> LiftReport {
    let bp = options.holdout_basis_points;
    let ratio = (bp > 0 && bp < 10_000).then(|| f64::from(10_000 - bp) / f64::from(bp));
    lift_at_ratio(tallies, ratio, options.min_relative_lift)
}

/// `lift` with the allocation as treatment users per holdout user (none:
/// no holdout).
fn lift_at_ratio(tallies: &LiftTallies, ratio: Option<f64>, min_relative_lift: f64) -> LiftReport {
    let (t, h) = (&tallies.treatment, &tallies.holdout);
    let referrer_rate =
        newcombe(t.referrers, t.users, h.referrers, h.users).map(|absolute| Comparison {
            absolute,
            relative: relative_lift(t.referrers, t.users, h.referrers, h.users),
        });
    let signups_per_user = mean_comparison(
        (t.signups, t.signups_squared, t.users),
        (h.signups, h.signups_squared, h.users),
    );
    let paid_per_user = mean_comparison(
        (t.paid, t.paid_squared, t.users),
        (h.paid, h.paid_squared, h.users),
    );

    let (verdict, summary) = verdict(tallies, referrer_rate.as_ref(), ratio, min_relative_lift);
    LiftReport {
        treatment: group_report(t),
        holdout: group_report(h),
        referrer_rate,
        signups_per_user,
        paid_per_user,
        verdict,
        summary,
    }
}

fn verdict(
    tallies: &LiftTallies,
    difference: Option<&Comparison>,
    ratio: Option<f64>,
    min_relative_lift: f64,
) -> (Verdict, String) {
    let (t, h) = (&tallies.treatment, &tallies.holdout);
    let Some(ratio) = ratio else {
        return (
            Verdict::NoHoldout,
            "No holdout: the experiment asks everyone (or no one), so there is nothing to \
             compare with. Set a holdout to measure lift."
                .to_owned(),
        );
    };
    if let Some(d) = difference {
        if d.absolute.low > 0.0 {
            return (
                Verdict::Lift,
                format!(
                    "Asking works: {} of the users who can be asked referred someone, against \
                     {} in the holdout: {} more (95 % interval {} to {}).",
                    percent(t.referrers as f64 / t.users as f64),
                    percent(h.referrers as f64 / h.users as f64),
                    points(d.absolute.estimate),
                    number(d.absolute.low),
                    number(d.absolute.high),
                ),
            );
        }
        if d.absolute.high < 0.0 {
            return (
                Verdict::Harm,
                format!(
                    "Asking is doing harm: {} of the users who can be asked referred someone, \
                     against {} in the holdout: {} fewer (95 % interval {} to {}).",
                    percent(t.referrers as f64 / t.users as f64),
                    percent(h.referrers as f64 / h.users as f64),
                    points(-d.absolute.estimate),
                    number(-d.absolute.high),
                    number(-d.absolute.low),
                ),
            );
        }
    }
    // The baseline to detect a lift over: the holdout's rate, else both
    // groups' (the holdout may simply be too small to have a referrer yet).
    let baseline = if h.referrers > 0 {
        h.referrers as f64 / h.users as f64
    } else if t.users + h.users > 0 && t.referrers + h.referrers > 0 {
        (t.referrers + h.referrers) as f64 / (t.users + h.users) as f64
    } else {
        return (
            Verdict::NotEnoughData {
                more_holdout_users: None,
                more_treatment_users: None,
                detectable_lift: None,
            },
            "Not enough data yet: no one in either group has referred anyone.".to_owned(),
        );
    };
    // At very high base rates a relative lift would pass 100 %: then the
    // lift to detect is half the room left.
    let detectable = (baseline * min_relative_lift).min((1.0 - baseline) / 2.0);
    let Some(needed) = holdout_users_needed(baseline, detectable, ratio) else {
        return (
            Verdict::NotEnoughData {
                more_holdout_users: None,
                more_treatment_users: None,
                detectable_lift: None,
            },
            "Not enough data yet to size the experiment.".to_owned(),
        );
    };
    let needed_holdout = needed.ceil() as u64;
    let needed_treatment = (needed * ratio).ceil() as u64;
    if h.users < needed_holdout || t.users < needed_treatment {
        let more_holdout = needed_holdout.saturating_sub(h.users);
        let more_treatment = needed_treatment.saturating_sub(t.users);
        return (
            Verdict::NotEnoughData {
                more_holdout_users: Some(more_holdout),
                more_treatment_users: Some(more_treatment),
                detectable_lift: Some(detectable),
            },
            format!(
                "Not enough data yet: about {more_holdout} more users in the holdout and \
                 {more_treatment} more asked users are needed to detect a lift of {} (from {}).",
                points(detectable),
                percent(baseline),
            ),
        );
    }
    (
        Verdict::NoDetectableLift {
            detectable_lift: detectable,
        },
        format!(
            "No lift found: with enough users to detect a lift of {} (from {}), asked users \
             refer about as often as the holdout.",
            points(detectable),
            percent(baseline),
        ),
    )
}

/// What a per-user count measures, for backends that keep tallies as
/// counters: the funnel stage each comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Impressions of the ask.
    Asked,
    /// Shares of the link.
    Shared,
    /// Referred signups.
    Signups,
    /// Referred accounts that pay.
    Paid,
}

impl Measure {
    /// The measure a funnel stage counts, if any. (An impression is the
    /// launcher's, not an ask: asks come from widget events.)
    pub fn of_stage(stage: Stage) -> Option<Measure> {
        match stage {
            Stage::Share => Some(Measure::Shared),
            Stage::Signup => Some(Measure::Signups),
            Stage::Paid => Some(Measure::Paid),
            _ => None,
        }
    }

    /// The measure a widget event counts: `nudge_shown` is an ask; a share
    /// is what the funnel counts as one ([`Stage::of_widget_event`]).
    pub fn of_widget_event(kind: &str) -> Option<Measure> {
        match kind {
            "nudge_shown" => Some(Measure::Asked),
            _ => Stage::of_widget_event(kind).and_then(Measure::of_stage),
        }
    }

    /// How a group's tally changes when one user's count of this measure
    /// goes from `before` to `after` (down too: a reversed conversion), as
    /// `(field, delta)` pairs named as [`GroupTally`]'s fields serialise.
    pub fn tally_changes(self, before: u64, after: u64) -> Vec<(&'static str, i64)> {
        let signed = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
        let (b, a) = (signed(before), signed(after));
        let became = |b: i64, a: i64| i64::from(a > 0) - i64::from(b > 0);
        let square = |x: i64| x.saturating_mul(x);
        let changes = match self {
            Measure::Asked => vec![("asked", became(b, a))],
            Measure::Shared => vec![("shared", became(b, a))],
            Measure::Signups => vec![
                ("referrers", became(b, a)),
                ("signups", a - b),
                ("signups_squared", square(a) - square(b)),
            ],
            Measure::Paid => vec![("paid", a - b), ("paid_squared", square(a) - square(b))],
        };
        changes.into_iter().filter(|(_, d)| *d != 0).collect()
    }
}

pub const TREATMENT: &str = "treatment";
pub const HOLDOUT: &str = "holdout";
const VARIANT_PREFIX: &str = "variant:";

/// The groups a user's outcomes count in: `holdout`, or `treatment` and,
/// for every moment with variants, `variant:<moment>:<variant>` (the arm
/// the engine shows them). Without an experiment, `treatment` only.
pub fn groups_of(config: &NudgeConfig, user_id: &str) -> Vec<String> {
    if in_holdout(config, user_id) {
        return vec![HOLDOUT.to_owned()];
    }
    let mut groups = vec![TREATMENT.to_owned()];
    if config.experiment.is_some() {
        for moment in config.moments.iter().filter(|m| !m.variants.is_empty()) {
            groups.push(format!(
                "{VARIANT_PREFIX}{}:{}",
                moment.name,
                variant_of(config, moment, user_id)
            ));
        }
    }
    groups
}

/// A fingerprint of what decides the groups (the experiment's name and
/// holdout, the moments' variants): counters kept under another design
/// must be counted again.
pub fn design_fingerprint(config: &NudgeConfig) -> String {
    // Tagged parts: moving a variant from one moment to another changes
    // the fingerprint.
    let mut parts: Vec<String> = Vec::new();
    if let Some(e) = &config.experiment {
        parts.push(format!("experiment={}", e.name));
        parts.push(format!("holdout={}", e.holdout_basis_points));
        for m in config.moments.iter().filter(|m| !m.variants.is_empty()) {
            parts.push(format!("moment={}", m.name));
            parts.extend(m.variants.iter().map(|v| format!("variant={}", v.name)));
        }
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    format!("{:016x}", fnv1a64(&refs))
}

/// One variant of a moment against the holdout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantLift {
    pub moment: String,
    pub variant: String,
    pub report: LiftReport,
}

/// The experiment's lift: everyone who can be asked against the holdout,
/// then each moment's variants against it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentLift {
    /// The experiment's name, none without one.
    pub experiment: Option<String>,
    pub holdout_basis_points: u32,
    pub overall: LiftReport,
    pub variants: Vec<VariantLift>,
}

/// The report from tallies kept per group (keys as [`groups_of`] names
/// them); groups without a tally count as empty.
pub fn experiment_lift(
    config: &NudgeConfig,
    tallies: &BTreeMap<String, GroupTally>,
    min_relative_lift: f64,
) -> ExperimentLift {
    let get = |key: &str| tallies.get(key).copied().unwrap_or_default();
    let holdout = get(HOLDOUT);
    let bp = config
        .experiment
        .as_ref()
        .map_or(0, |e| e.holdout_basis_points);
    let ratio = (bp > 0 && bp < 10_000).then(|| f64::from(10_000 - bp) / f64::from(bp));
    let overall = lift_at_ratio(
        &LiftTallies {
            treatment: get(TREATMENT),
            holdout,
        },
        ratio,
        min_relative_lift,
    );
    let mut variants = Vec::new();
    if config.experiment.is_some() {
        for moment in config.moments.iter().filter(|m| !m.variants.is_empty()) {
            // Each arm gets an equal share of the users who can be asked.
            let arms = moment.variants.len() as f64 + 1.0;
            let names =
                core::iter::once("control").chain(moment.variants.iter().map(|v| v.name.as_str()));
            for variant in names {
                let key = format!("{VARIANT_PREFIX}{}:{variant}", moment.name);
                variants.push(VariantLift {
                    moment: moment.name.clone(),
                    variant: variant.to_owned(),
                    report: lift_at_ratio(
                        &LiftTallies {
                            treatment: get(&key),
                            holdout,
                        },
                        ratio.map(|r| r / arms),
                        min_relative_lift,
                    ),
                });
            }
        }
    }
    ExperimentLift {
        experiment: config.experiment.as_ref().map(|e| e.name.clone()),
        holdout_basis_points: bp,
        overall,
        variants,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn wilson_matches_newcombe_1998_table() {
        // Newcombe (1998), "Two-sided confidence intervals for the single
        // proportion", Table I, method 3 (score): 81/263 → 0.2553–0.3662.
        let w = wilson(81, 263).unwrap();
        assert!((w.low - 0.2553).abs() < 5e-5, "{w:?}");
        assert!((w.high - 0.3662).abs() < 5e-5, "{w:?}");
        // 0/20 → 0–0.1611.
        let w = wilson(0, 20).unwrap();
        assert!(close(w.low, 0.0) && (w.high - 0.1611).abs() < 5e-5, "{w:?}");
        assert_eq!(wilson(1, 0), None);
        assert_eq!(wilson(3, 2), None);
    }

    #[test]
    fn newcombe_matches_newcombe_1998_table() {
        // Newcombe (1998), "Interval estimation for the difference between
        // independent proportions", Table II, method 10:
        // 56/70 − 48/80 → 0.0524 to 0.3339; 9/10 − 3/10 → 0.1705 to 0.8090.
        let d = newcombe(56, 70, 48, 80).unwrap();
        assert!(
            (d.low - 0.0524).abs() < 5e-5 && (d.high - 0.3339).abs() < 5e-5,
            "{d:?}"
        );
        let d = newcombe(9, 10, 3, 10).unwrap();
        assert!(
            (d.low - 0.1705).abs() < 5e-5 && (d.high - 0.8090).abs() < 5e-5,
            "{d:?}"
        );
        // 0/10 − 0/20 → −0.1611 to 0.2775 (a zero count still has an interval).
        let d = newcombe(0, 10, 0, 20).unwrap();
        assert!(
            (d.low + 0.1611).abs() < 5e-5 && (d.high - 0.2775).abs() < 5e-5,
            "{d:?}"
        );
    }

    #[test]
    fn tallies_as_counters_equal_tallies_of_outcomes() {
        let outcomes = [
            UserOutcome {
                referred_signups: 3,
                referred_paid: 2,
                ..Default::default()
            },
            UserOutcome {
                referred_signups: 1,
                ..Default::default()
            },
            UserOutcome::default(),
        ];
        let direct = LiftTallies::from_outcomes(&outcomes);
        let mut counters = GroupTally::default();
        for outcome in &outcomes {
            counters.users += 1;
            for before in 0..outcome.referred_signups {
                counters.add_referral(before);
            }
            for before in 0..outcome.referred_paid {
                counters.add_paid(before);
            }
        }
        assert_eq!(counters, direct.treatment);
    }

    #[test]
    fn counter_changes_sum_to_the_tally_of_outcomes() {
        // Users whose signups go up one by one, one of them reversed back.
        let mut counters: BTreeMap<&str, i64> = BTreeMap::new();
        let mut add = |changes: Vec<(&'static str, i64)>| {
            for (field, delta) in changes {
                *counters.entry(field).or_default() += delta;
            }
        };
        for count in [3u64, 1, 0, 2] {
            for before in 0..count {
                add(Measure::Signups.tally_changes(before, before + 1));
                add(Measure::Asked.tally_changes(before, before + 1));
            }
        }
        add(Measure::Signups.tally_changes(2, 1));
        let outcomes = [3u32, 1, 0, 1].map(|n| UserOutcome {
            referred_signups: n,
            asked: n > 0,
            ..Default::default()
        });
        let expected = LiftTallies::from_outcomes(&outcomes).treatment;
        assert_eq!(
            counters.get("signups").copied(),
            Some(expected.signups as i64)
        );
        assert_eq!(
            counters.get("signups_squared").copied(),
            Some(expected.signups_squared as i64)
        );
        assert_eq!(
            counters.get("referrers").copied(),
            Some(expected.referrers as i64)
        );
        assert_eq!(counters.get("asked").copied(), Some(expected.asked as i64));
        assert_eq!(Measure::of_stage(Stage::Click), None);
        assert_eq!(Measure::of_stage(Stage::Impression), None);
        assert_eq!(
            Measure::of_widget_event("nudge_shown"),
            Some(Measure::Asked)
        );
        assert_eq!(Measure::of_widget_event("copy"), Some(Measure::Shared));
        assert_eq!(Measure::of_widget_event("impression"), None);
        assert!(Measure::Paid.tally_changes(4, 4).is_empty());
    }

    #[cfg(feature = "toml")]
    #[test]
    fn groups_follow_the_engine_assignment() {
        let config =
            NudgeConfig::from_toml(include_str!("../../examples/nudge/config.toml")).unwrap();
        let mut seen = BTreeMap::new();
        for i in 0..2_000 {
            let user = format!("user-{i}");
            let groups = groups_of(&config, &user);
            assert_eq!(groups[0] == HOLDOUT, in_holdout(&config, &user));
            for g in groups {
                *seen.entry(g).or_insert(0) += 1;
            }
        }
        // About 10 % held out; first_report's two arms split the rest.
        let holdout = seen[HOLDOUT];
        assert!((150..250).contains(&holdout), "{seen:?}");
        assert!(seen.contains_key("variant:first_report:control"));
        assert!(seen.contains_key("variant:first_report:short"));
        let mut tallies = BTreeMap::new();
        tallies.insert(
            HOLDOUT.to_owned(),
            GroupTally {
                users: 100,
                referrers: 5,
                ..Default::default()
            },
        );
        let report = experiment_lift(&config, &tallies, 0.2);
        assert_eq!(report.variants.len(), 2);
        assert_eq!(report.holdout_basis_points, 1_000);
        // The fingerprint changes with the design, not with messages.
        let mut renamed = config.clone();
        renamed.moments[0].message = crate::Template::parse("Hi").unwrap();
        assert_eq!(design_fingerprint(&renamed), design_fingerprint(&config));
        renamed.experiment.as_mut().unwrap().holdout_basis_points = 2_000;
        assert_ne!(design_fingerprint(&renamed), design_fingerprint(&config));
        // A variant moved to another moment is another design.
        let mut a = config.clone();
        let mut b = config.clone();
        let v = a.moments[0].variants[0].clone();
        a.moments[1].variants = vec![v.clone()];
        b.moments[0].variants.push(crate::nudge::config::Variant {
            name: a.moments[1].name.clone(),
            ..v
        });
        assert_ne!(design_fingerprint(&a), design_fingerprint(&b));
    }

    #[test]
    fn verdicts() {
        let options = LiftOptions::default();
        let group = |users, referrers| GroupTally {
            users,
            referrers,
            signups: referrers,
            signups_squared: referrers,
            ..Default::default()
        };
        let report = |t, h| {
            lift(
                &LiftTallies {
                    treatment: t,
                    holdout: h,
                },
                &options,
            )
        };
        assert_eq!(
            report(group(0, 0), group(0, 0)).verdict.code(),
            "not_enough_data"
        );
        let r = report(group(900, 90), group(100, 9));
        match r.verdict {
            Verdict::NotEnoughData {
                more_holdout_users: Some(n),
                more_treatment_users: Some(m),
                detectable_lift: Some(x),
            } => {
                assert!(n > 1_000 && m > 9 * 1_000, "{r:?}");
                assert!(close(x, 0.018));
            }
            _ => panic!("{r:?}"),
        }
        assert!(
            r.summary.starts_with("Not enough data yet: about"),
            "{}",
            r.summary
        );
        assert_eq!(
            report(group(9_000, 1_800), group(1_000, 100)).verdict,
            Verdict::Lift
        );
        assert_eq!(
            report(group(9_000, 450), group(1_000, 100)).verdict,
            Verdict::Harm
        );
        assert_eq!(
            report(group(90_000, 9_000), group(10_000, 1_000))
                .verdict
                .code(),
            "no_detectable_lift"
        );
        // High base rates still reach a verdict.
        let high = report(group(900, 890), group(100, 99));
        assert_ne!(high.summary, "Not enough data yet to size the experiment.");
        assert!(wilson(0, 7).unwrap().low == 0.0 && wilson(7, 7).unwrap().high == 1.0);
        // Saturating sums.
        let mut big = GroupTally::default();
        for _ in 0..3 {
            big.add(&UserOutcome {
                referred_signups: u32::MAX,
                ..Default::default()
            });
        }
        assert!(big.signups_squared >= u64::MAX / 2);
        let none = lift(
            &LiftTallies::default(),
            &LiftOptions {
                holdout_basis_points: 0,
                ..options
            },
        );
        assert_eq!(none.verdict, Verdict::NoHoldout);
        // A holdout without referrers: no relative estimate, an interval still.
        let r = report(group(900, 30), group(100, 0));
        let relative = r.referrer_rate.unwrap().relative.unwrap();
        assert_eq!(relative.estimate, None);
        assert!(
            relative.low > -1.0 && relative.high > relative.low,
            "{relative:?}"
        );
    }
}
