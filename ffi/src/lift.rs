//! Referral lift against the holdout: core's computation, with core's types
//! exposed as they are (remote records: no copies, no conversions).

use referral_core::lift as core_;

/// One user's outcome over the measured period.
pub type UserOutcome = core_::UserOutcome;
#[uniffi::remote(Record)]
pub struct UserOutcome {
    pub holdout: bool,
    pub asked: bool,
    pub shared: bool,
    pub referred_signups: u32,
    pub referred_paid: u32,
}

/// Sums over one group's users (a backend may keep them as counters).
pub type LiftGroupTally = core_::GroupTally;
#[uniffi::remote(Record)]
pub struct LiftGroupTally {
    pub users: u64,
    pub asked: u64,
    pub shared: u64,
    pub referrers: u64,
    pub signups: u64,
    pub signups_squared: u64,
    pub paid: u64,
    pub paid_squared: u64,
}

pub type LiftTallies = core_::LiftTallies;
#[uniffi::remote(Record)]
pub struct LiftTallies {
    pub treatment: LiftGroupTally,
    pub holdout: LiftGroupTally,
}

pub type LiftOptions = core_::LiftOptions;
#[uniffi::remote(Record)]
pub struct LiftOptions {
    pub holdout_basis_points: u32,
    pub min_relative_lift: f64,
}

pub type LiftInterval = core_::Interval;
#[uniffi::remote(Record)]
pub struct LiftInterval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

pub type LiftRelativeInterval = core_::RelativeInterval;
#[uniffi::remote(Record)]
pub struct LiftRelativeInterval {
    pub estimate: Option<f64>,
    pub low: f64,
    pub high: f64,
}

pub type LiftComparison = core_::Comparison;
#[uniffi::remote(Record)]
pub struct LiftComparison {
    pub absolute: LiftInterval,
    pub relative: Option<LiftRelativeInterval>,
}

pub type LiftGroupReport = core_::GroupReport;
#[uniffi::remote(Record)]
pub struct LiftGroupReport {
    pub tally: LiftGroupTally,
    pub referrer_rate: Option<LiftInterval>,
    pub signups_per_user: Option<LiftInterval>,
    pub paid_per_user: Option<LiftInterval>,
}

pub type LiftVerdict = core_::Verdict;
#[uniffi::remote(Enum)]
pub enum LiftVerdict {
    NoHoldout,
    NotEnoughData {
        more_holdout_users: Option<u64>,
        more_treatment_users: Option<u64>,
        detectable_lift: Option<f64>,
    },
    Lift,
    Harm,
    NoDetectableLift {
        detectable_lift: f64,
    },
}

pub type LiftReport = core_::LiftReport;
#[uniffi::remote(Record)]
pub struct LiftReport {
    pub treatment: LiftGroupReport,
    pub holdout: LiftGroupReport,
    pub referrer_rate: Option<LiftComparison>,
    pub signups_per_user: Option<LiftComparison>,
    pub paid_per_user: Option<LiftComparison>,
    pub verdict: LiftVerdict,
    pub summary: String,
}

/// Treatment against holdout: rates with 95 % intervals, the lift, and a
/// verdict in words.
#[uniffi::export]
pub fn lift_report(tallies: LiftTallies, options: LiftOptions) -> LiftReport {
    core_::lift(&tallies, &options)
}

/// Per-user outcomes summed into treatment and holdout tallies.
#[uniffi::export]
pub fn lift_tallies(outcomes: Vec<UserOutcome>) -> LiftTallies {
    core_::LiftTallies::from_outcomes(&outcomes)
}

/// The verdict's stable code (`lift`, `not_enough_data`, …).
#[uniffi::export]
pub fn lift_verdict_code(verdict: LiftVerdict) -> String {
    verdict.code().to_owned()
}
