//! Funnel metrics from an event log: impressions → shares → clicks →
//! signups → trials → activations → paid → rewards, with conversion rates
//! in basis points (integers: no floats in core), the referral rate, time to
//! first referral, and break-downs by channel, moment, program and referrer.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Impression,
    Share,
    Click,
    Signup,
    Trial,
    Activation,
    Paid,
    Reward,
}

impl Stage {
    /// The stage a widget event reports (`impression`; `share` and `copy`
    /// are both a share), or `None` for events outside the funnel
    /// (dismissals, opt-outs, …).
    pub fn of_widget_event(kind: &str) -> Option<Stage> {
        match kind {
            "impression" => Some(Stage::Impression),
            "share" | "copy" => Some(Stage::Share),
            _ => None,
        }
    }

    pub const ALL: [Stage; 8] = [
        Stage::Impression,
        Stage::Share,
        Stage::Click,
        Stage::Signup,
        Stage::Trial,
        Stage::Activation,
        Stage::Paid,
        Stage::Reward,
    ];
}

/// One funnel event. `referrer` is the referring account; the dimensions
/// are optional because not every stage knows them (an impression has a
/// moment but no channel yet).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunnelEvent {
    pub stage: Stage,
    pub at: u64,
    pub referrer: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub moment: Option<String>,
    #[serde(default)]
    pub program: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageCounts {
    pub counts: BTreeMap<Stage, u64>,
    /// Stage N+1 over stage N, in basis points (10000 = 100%); absent when
    /// stage N is zero.
    pub conversion_bp: BTreeMap<Stage, u32>,
}

impl StageCounts {
    fn finish(&mut self) {
        for pair in Stage::ALL.windows(2) {
            let from = self.counts.get(&pair[0]).copied().unwrap_or(0);
            let to = self.counts.get(&pair[1]).copied().unwrap_or(0);
            if from > 0 {
                self.conversion_bp.insert(pair[1], ratio_bp(to, from));
            }
        }
    }
}

fn ratio_bp(numerator: u64, denominator: u64) -> u32 {
    if denominator == 0 {
        return 0;
    }
    (u128::from(numerator) * 10_000 / u128::from(denominator)).min(u128::from(u32::MAX)) as u32
}

/// Customers known to the host (for the referral rate and time to first
/// referral): account and when they became a customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub account: String,
    pub since: u64,
    pub active: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunnelReport {
    pub total: StageCounts,
    pub by_channel: BTreeMap<String, StageCounts>,
    pub by_moment: BTreeMap<String, StageCounts>,
    pub by_program: BTreeMap<u32, StageCounts>,
    pub by_referrer: BTreeMap<String, StageCounts>,
    pub active_customers: u64,
    /// Active customers who referred (shared or brought a signup) at least once.
    pub referring_customers: u64,
    /// referring / active, in basis points.
    pub referral_rate_bp: u32,
    /// Seconds from becoming a customer to the first referred signup,
    /// rounded down to two significant digits (`delay_bucket`).
    pub time_to_first_referral_median_secs: Option<u64>,
    pub time_to_first_referral_p90_secs: Option<u64>,
}

/// The breakdown line for values the program does not know.
pub const OTHER: &str = "other";

/// The channel a widget event is counted under: a channel codes know, or
/// `other`. A browser can send any text; the breakdown stays as long as
/// the list of channels.
pub fn funnel_channel(value: &str) -> &str {
    if crate::Channel::parse(value).is_some() {
        value
    } else {
        OTHER
    }
}

/// The moment a widget event is counted under: one the nudge
/// configuration names, or `other`.
pub fn funnel_moment<'a>(value: &'a str, config: &crate::nudge::NudgeConfig) -> &'a str {
    if config.moments.iter().any(|m| m.name == value) {
        value
    } else {
        OTHER
    }
}

/// The funnel stages a rewards ledger holds: referrals that paid at least
/// once (`Paid`) and live referrer rewards (`Reward`: referrer-side
/// entries not reversed). A host that keeps counters adds the difference
/// a ledger event made (`after - before`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerStages {
    pub paid: u64,
    pub rewards: u64,
}

impl LedgerStages {
    pub fn of(ledger: &crate::rewards::Ledger) -> LedgerStages {
        use crate::rewards::Side;
        LedgerStages {
            paid: ledger.referrals.values().filter(|r| r.payments > 0).count() as u64,
            rewards: ledger
                .entries
                .iter()
                .filter(|e| {
                    e.side == Side::Referrer && e.reversal.is_none() && e.adjustment.is_none()
                })
                .count() as u64,
        }
    }
}

/// What a funnel report is made of, as counts: what `funnel` counts from
/// events, or what a host keeps as counters updated with each write (the
/// reference service does, so its report costs the same at any size).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunnelCounts {
    pub total: BTreeMap<Stage, u64>,
    pub by_channel: BTreeMap<String, BTreeMap<Stage, u64>>,
    pub by_moment: BTreeMap<String, BTreeMap<Stage, u64>>,
    pub by_program: BTreeMap<u32, BTreeMap<Stage, u64>>,
    pub by_referrer: BTreeMap<String, BTreeMap<Stage, u64>>,
    pub active_customers: u64,
    /// Active customers who shared or brought a signup at least once.
    pub referring_customers: u64,
    /// Seconds from becoming a customer to the first referred signup
    /// (`delay_bucket`), at the ranks `percentile_rank` gives for 50 and 90.
    pub time_to_first_referral_median_secs: Option<u64>,
    pub time_to_first_referral_p90_secs: Option<u64>,
}

/// The 0-based rank of the `percent` percentile among `len` sorted
/// values (nearest rank, rounded down), or `None` when there are none.
pub fn percentile_rank(len: u64, percent: u64) -> Option<u64> {
    (len > 0).then(|| (len - 1) * percent.min(100) / 100)
}

/// The bucket a time to first referral is counted in: the seconds rounded
/// down to two significant digits (86,399 s → 86,000 s), at most 10 % low.
/// A host keeps one counter per bucket — a few hundred rows at most — so
/// the median costs the same with ten or ten million referrers; `funnel`
/// reports the same buckets.
pub fn delay_bucket(secs: u64) -> u64 {
    let mut scale = 1;
    while secs / scale >= 100 {
        scale *= 10;
    }
    secs / scale * scale
}

/// The `percent` percentile of a histogram: `(bucket, count)` pairs in
/// ascending bucket order. `None` when it is empty.
pub fn histogram_percentile(histogram: &[(u64, u64)], percent: u64) -> Option<u64> {
    let total = histogram.iter().map(|(_, n)| n).sum();
    let rank = percentile_rank(total, percent)?;
    let mut seen = 0;
    for (bucket, count) in histogram {
        seen += count;
        if seen > rank {
            return Some(*bucket);
        }
    }
    None
}

fn stage_counts(counts: BTreeMap<Stage, u64>) -> StageCounts {
    let mut stages = StageCounts {
        counts,
        conversion_bp: BTreeMap::new(),
    };
    stages.finish();
    stages
}

fn stage_counts_by<K: Ord>(by: BTreeMap<K, BTreeMap<Stage, u64>>) -> BTreeMap<K, StageCounts> {
    by.into_iter().map(|(k, c)| (k, stage_counts(c))).collect()
}

impl FunnelCounts {
    /// The report: conversions between stages and the referral rate, in
    /// basis points.
    pub fn report(self) -> FunnelReport {
        FunnelReport {
            total: stage_counts(self.total),
            by_channel: stage_counts_by(self.by_channel),
            by_moment: stage_counts_by(self.by_moment),
            by_program: stage_counts_by(self.by_program),
            by_referrer: stage_counts_by(self.by_referrer),
            active_customers: self.active_customers,
            referring_customers: self.referring_customers,
            referral_rate_bp: ratio_bp(self.referring_customers, self.active_customers),
            time_to_first_referral_median_secs: self.time_to_first_referral_median_secs,
            time_to_first_referral_p90_secs: self.time_to_first_referral_p90_secs,
        }
    }
}

/// Computes the funnel over `events` (any order) for `customers`.
pub fn funnel(events: &[FunnelEvent], customers: &[Customer]) -> FunnelReport {
    let mut counts = FunnelCounts::default();
    let mut referring: BTreeSet<&str> = BTreeSet::new();
    let mut first_signup: BTreeMap<&str, u64> = BTreeMap::new();
    let add = |map: &mut BTreeMap<Stage, u64>, stage| *map.entry(stage).or_default() += 1;
    for event in events {
        add(&mut counts.total, event.stage);
        if let Some(channel) = &event.channel {
            add(
                counts.by_channel.entry(channel.clone()).or_default(),
                event.stage,
            );
        }
        if let Some(moment) = &event.moment {
            add(
                counts.by_moment.entry(moment.clone()).or_default(),
                event.stage,
            );
        }
        if let Some(program) = event.program {
            add(counts.by_program.entry(program).or_default(), event.stage);
        }
        add(
            counts
                .by_referrer
                .entry(event.referrer.clone())
                .or_default(),
            event.stage,
        );
        if matches!(event.stage, Stage::Share | Stage::Signup) {
            referring.insert(&event.referrer);
        }
        if event.stage == Stage::Signup {
            let first = first_signup.entry(&event.referrer).or_insert(event.at);
            *first = (*first).min(event.at);
        }
    }
    let active: Vec<&Customer> = customers.iter().filter(|c| c.active).collect();
    counts.active_customers = active.len() as u64;
    counts.referring_customers = active
        .iter()
        .filter(|c| referring.contains(c.account.as_str()))
        .count() as u64;
    let mut histogram: BTreeMap<u64, u64> = BTreeMap::new();
    for c in customers {
        if let Some(first) = first_signup.get(c.account.as_str()) {
            *histogram
                .entry(delay_bucket(first.saturating_sub(c.since)))
                .or_default() += 1;
        }
    }
    let histogram: Vec<(u64, u64)> = histogram.into_iter().collect();
    counts.time_to_first_referral_median_secs = histogram_percentile(&histogram, 50);
    counts.time_to_first_referral_p90_secs = histogram_percentile(&histogram, 90);
    counts.report()
}
