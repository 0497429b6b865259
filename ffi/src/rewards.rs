//! Reward programs, the rewards ledger and funnel metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use referral_core::funnel;
use referral_core::rewards as core_;

use crate::ReferralError;

impl From<core_::ProgramError> for ReferralError {
    fn from(e: core_::ProgramError) -> Self {
        ReferralError::Config {
            reason: e.reason().to_owned(),
            detail: e.to_string(),
        }
    }
}

impl From<core_::LedgerError> for ReferralError {
    fn from(e: core_::LedgerError) -> Self {
        ReferralError::Ledger {
            reason: e.reason().to_owned(),
            detail: e.to_string(),
        }
    }
}

/// Core's amount of money, exposed as it is (a remote record).
pub type Money = core_::Money;
#[uniffi::remote(Record)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

/// Core's program kind, exposed as it is (a remote enum).
pub type ProgramKind = core_::ProgramKind;
#[uniffi::remote(Enum)]
pub enum ProgramKind {
    Customer,
    Partner,
    Employee,
}

/// Core's qualifying event (a remote enum).
pub type QualifyingEvent = core_::QualifyingEvent;
#[uniffi::remote(Enum)]
pub enum QualifyingEvent {
    Signup,
    TrialStarted,
    Activation,
    FirstPayment,
    ContractSigned,
}

/// Core's cap period (a remote enum).
pub type Period = core_::Period;
#[uniffi::remote(Enum)]
pub enum Period {
    Month,
    Year,
    Lifetime,
}

/// Core's reversal reason (a remote enum).
pub type ReversalReason = core_::ReversalReason;
#[uniffi::remote(Enum)]
pub enum ReversalReason {
    Refund,
    Chargeback,
    Churn,
    FraudConfirmed,
}

/// Core's ledger entry status (a remote enum).
pub type EntryStatus = core_::EntryStatus;
#[uniffi::remote(Enum)]
pub enum EntryStatus {
    Pending,
    Held,
    Payable,
    Paid,
    Reversed,
}

/// Core's reward side (a remote enum).
pub type Side = core_::Side;
#[uniffi::remote(Enum)]
pub enum Side {
    Referrer,
    Friend,
}

/// Core's funnel stage (a remote enum).
pub type Stage = funnel::Stage;
#[uniffi::remote(Enum)]
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

/// Core's reward rule (a remote enum).
pub type RewardRule = core_::RewardRule;
#[uniffi::remote(Enum)]
pub enum RewardRule {
    AccountCredit {
        amount: Money,
    },
    FreeMonths {
        months: u32,
    },
    FeatureUnlock {
        feature: String,
    },
    TierUpgrade {
        tier: String,
        months: u32,
    },
    Fixed {
        amount: Money,
    },
    PercentOfAcv {
        basis_points: u32,
        min: Option<Money>,
        max: Option<Money>,
    },
    RevenueShare {
        basis_points: u32,
        months: Option<u32>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Tier {
    pub from_count: u32,
    pub reward: RewardRule,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Cap {
    pub period: Period,
    pub max_rewards: Option<u32>,
    pub max_amount: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Program {
    pub id: u32,
    pub kind: ProgramKind,
    pub qualifying_event: QualifyingEvent,
    pub referrer_reward: RewardRule,
    pub friend_reward: Option<RewardRule>,
    pub tiers: Vec<Tier>,
    pub cap: Option<Cap>,
    pub hold_days: u32,
    pub clawback_days: u32,
    /// The currency the host bills in (ISO 4217, e.g. `"USD"`). When set,
    /// the ledger refuses a payment whose amount or ACV is in another
    /// currency (`currency_mismatch`). Defaults to none (any currency).
    #[uniffi(default = None)]
    pub currency: Option<String>,
}

impl From<Program> for core_::Program {
    fn from(p: Program) -> Self {
        core_::Program {
            id: p.id,
            kind: p.kind,
            qualifying_event: p.qualifying_event,
            referrer_reward: p.referrer_reward,
            friend_reward: p.friend_reward,
            tiers: p
                .tiers
                .into_iter()
                .map(|t| core_::Tier {
                    from_count: t.from_count,
                    reward: t.reward,
                })
                .collect(),
            cap: p.cap.map(|c| core_::Cap {
                period: c.period,
                max_rewards: c.max_rewards,
                max_amount: c.max_amount,
            }),
            hold_days: p.hold_days,
            clawback_days: p.clawback_days,
            currency: p.currency,
        }
    }
}

/// Core's ledger event (a remote enum).
pub type LedgerEvent = core_::LedgerEvent;
#[uniffi::remote(Enum)]
pub enum LedgerEvent {
    Attributed {
        event_id: String,
        referral_id: String,
        referrer_account: String,
        friend_account: String,
        review: bool,
        at: u64,
    },
    Qualified {
        event_id: String,
        referral_id: String,
        event: QualifyingEvent,
        at: u64,
        acv: Option<Money>,
    },
    Payment {
        event_id: String,
        referral_id: String,
        at: u64,
        amount: Money,
        acv: Option<Money>,
    },
    Approved {
        event_id: String,
        referral_id: String,
        at: u64,
    },
    Reversal {
        event_id: String,
        referral_id: String,
        at: u64,
        reason: ReversalReason,
    },
    Adjustment {
        event_id: String,
        referral_id: String,
        side: Side,
        amount: Money,
        reason: String,
        at: u64,
    },
    Paid {
        event_id: String,
        entry_id: String,
        at: u64,
    },
}

/// What one event did: `outcome` is core's stable code (`rewarded`,
/// `duplicate`, `cap_reached`, `reversed`, `outside_clawback`, …).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AppliedOutcome {
    pub outcome: String,
    pub entries: Vec<String>,
    pub detail: Option<String>,
}

impl From<core_::Applied> for AppliedOutcome {
    fn from(a: core_::Applied) -> Self {
        let outcome = a.code().to_owned();
        let (entries, detail) = match a {
            core_::Applied::Rewarded { entries }
            | core_::Applied::CapReached { entries }
            | core_::Applied::Reversed { entries } => (entries, None),
            core_::Applied::Paid { entry } => (vec![entry], None),
            core_::Applied::NotQualifying { detail } => (Vec::new(), Some(detail)),
            _ => (Vec::new(), None),
        };
        AppliedOutcome {
            outcome,
            entries,
            detail,
        }
    }
}

/// Core's reward value (a remote enum).
pub type RewardValue = core_::RewardValue;
#[uniffi::remote(Enum)]
pub enum RewardValue {
    Money { amount: Money, cash: bool },
    FreeMonths { months: u32 },
    FeatureUnlock { feature: String },
    TierUpgrade { tier: String, months: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LedgerEntry {
    pub id: String,
    pub referral_id: String,
    pub beneficiary: String,
    pub side: Side,
    pub value: RewardValue,
    pub status: EntryStatus,
    pub created_at: u64,
    pub hold_until: u64,
    pub paid_at: Option<u64>,
    pub reversal_reason: Option<ReversalReason>,
    /// A manual adjustment's reason (not a reward).
    #[uniffi(default = None)]
    pub adjustment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MoneyLine {
    pub status: EntryStatus,
    pub currency: String,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EntitlementLine {
    pub status: EntryStatus,
    pub value: RewardValue,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BeneficiaryBalance {
    pub beneficiary: String,
    pub money: Vec<MoneyLine>,
    pub clawback_due: Vec<Money>,
    pub entitlements: Vec<EntitlementLine>,
}

/// One program's ledger, kept per referrer (core's `ProgramLedger`): an
/// event costs a look-up plus that one referrer's work. Store it with
/// `to_bytes`, reload with `restore`.
#[derive(Debug, uniffi::Object)]
pub struct RewardsLedger {
    program: core_::Program,
    ledger: Mutex<core_::ProgramLedger>,
}

impl RewardsLedger {
    fn with<T>(&self, f: impl FnOnce(&mut core_::ProgramLedger) -> T) -> T {
        let mut guard = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

#[uniffi::export]
impl RewardsLedger {
    /// An empty ledger for a validated program (`Config` error otherwise).
    #[uniffi::constructor]
    pub fn new(program: Program) -> Result<Arc<Self>, ReferralError> {
        let program: core_::Program = program.into();
        program.validate()?;
        Ok(Arc::new(RewardsLedger {
            program,
            ledger: Mutex::new(core_::ProgramLedger::new()),
        }))
    }

    /// A ledger from `to_bytes`, or from the single-ledger bytes earlier
    /// versions stored (`InvalidInput` `invalid_ledger` otherwise).
    #[uniffi::constructor]
    pub fn restore(program: Program, bytes: Vec<u8>) -> Result<Arc<Self>, ReferralError> {
        let program: core_::Program = program.into();
        program.validate()?;
        let ledger = core_::ProgramLedger::from_json(&bytes)
            .map_err(|e| ReferralError::invalid_input("invalid_ledger", e.to_string()))?;
        Ok(Arc::new(RewardsLedger {
            program,
            ledger: Mutex::new(ledger),
        }))
    }

    /// Applies one event; the same event id twice is `duplicate`.
    pub fn apply(&self, event: LedgerEvent) -> Result<AppliedOutcome, ReferralError> {
        Ok(self.with(|l| l.apply(&self.program, &event))?.into())
    }

    /// Every entry with its status at `now`: referrer by referrer (sorted
    /// by account), each referrer's in the order they were created.
    pub fn entries(&self, now: u64) -> Vec<LedgerEntry> {
        self.with(|l| {
            l.entries(now)
                .map(|(e, status)| LedgerEntry {
                    id: e.id.clone(),
                    referral_id: e.referral_id.clone(),
                    beneficiary: e.beneficiary.clone(),
                    side: e.side,
                    value: e.value.clone(),
                    status,
                    created_at: e.created_at,
                    hold_until: e.hold_until,
                    paid_at: e.paid_at,
                    reversal_reason: e.reversal.as_ref().map(|r| r.reason),
                    adjustment: e.adjustment.clone(),
                })
                .collect()
        })
    }

    /// The referrer's rewards that count towards the velocity limit (its
    /// own non-recurring, unreversed rewards created in the UTC calendar
    /// month of `now`): `ReferrerInfo.rewards_this_month` for attribution.
    pub fn rewards_this_month(&self, referrer: String, now: u64) -> u32 {
        self.with(|l| l.rewards_this_month(&referrer, now))
    }

    pub fn balances(&self, now: u64) -> Vec<BeneficiaryBalance> {
        self.with(|l| {
            l.balances(now)
                .into_iter()
                .map(|(beneficiary, b)| BeneficiaryBalance {
                    beneficiary,
                    money: b
                        .money
                        .into_iter()
                        .map(|m| MoneyLine {
                            status: m.status,
                            currency: m.currency,
                            amount_minor: m.amount_minor,
                        })
                        .collect(),
                    clawback_due: b.clawback_due,
                    entitlements: b
                        .entitlements
                        .into_iter()
                        .map(|e| EntitlementLine {
                            status: e.status,
                            value: e.value,
                        })
                        .collect(),
                })
                .collect()
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.with(|l| serde_json::to_vec(l).unwrap_or_default())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FunnelEvent {
    pub stage: Stage,
    pub at: u64,
    pub referrer: String,
    pub channel: Option<String>,
    pub moment: Option<String>,
    pub program: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Customer {
    pub account: String,
    pub since: u64,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StageLine {
    pub stage: Stage,
    pub count: u64,
    /// From the previous stage, in basis points; `None` when it was zero.
    pub conversion_bp: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FunnelReport {
    pub total: Vec<StageLine>,
    pub by_channel: HashMap<String, Vec<StageLine>>,
    pub by_moment: HashMap<String, Vec<StageLine>>,
    pub by_program: HashMap<u32, Vec<StageLine>>,
    pub by_referrer: HashMap<String, Vec<StageLine>>,
    pub active_customers: u64,
    pub referring_customers: u64,
    pub referral_rate_bp: u32,
    pub time_to_first_referral_median_secs: Option<u64>,
    pub time_to_first_referral_p90_secs: Option<u64>,
}

fn lines(counts: &funnel::StageCounts) -> Vec<StageLine> {
    funnel::Stage::ALL
        .iter()
        .map(|stage| StageLine {
            stage: *stage,
            count: counts.counts.get(stage).copied().unwrap_or(0),
            conversion_bp: counts.conversion_bp.get(stage).copied(),
        })
        .collect()
}

/// The funnel stage a widget event reports (`impression`; `share` and
/// `copy` are a share), or `None` for events outside the funnel.
#[uniffi::export]
pub fn funnel_stage_of_widget_event(kind: String) -> Option<Stage> {
    funnel::Stage::of_widget_event(&kind)
}

/// The funnel, conversion rates, referral rate and time to first referral.
#[uniffi::export]
pub fn funnel(events: Vec<FunnelEvent>, customers: Vec<Customer>) -> FunnelReport {
    let events: Vec<funnel::FunnelEvent> = events
        .into_iter()
        .map(|e| funnel::FunnelEvent {
            stage: e.stage,
            at: e.at,
            referrer: e.referrer,
            channel: e.channel,
            moment: e.moment,
            program: e.program,
        })
        .collect();
    let customers: Vec<funnel::Customer> = customers
        .into_iter()
        .map(|c| funnel::Customer {
            account: c.account,
            since: c.since,
            active: c.active,
        })
        .collect();
    let r = funnel::funnel(&events, &customers);
    FunnelReport {
        total: lines(&r.total),
        by_channel: r
            .by_channel
            .iter()
            .map(|(k, v)| (k.clone(), lines(v)))
            .collect(),
        by_moment: r
            .by_moment
            .iter()
            .map(|(k, v)| (k.clone(), lines(v)))
            .collect(),
        by_program: r.by_program.iter().map(|(k, v)| (*k, lines(v))).collect(),
        by_referrer: r
            .by_referrer
            .iter()
            .map(|(k, v)| (k.clone(), lines(v)))
            .collect(),
        active_customers: r.active_customers,
        referring_customers: r.referring_customers,
        referral_rate_bp: r.referral_rate_bp,
        time_to_first_referral_median_secs: r.time_to_first_referral_median_secs,
        time_to_first_referral_p90_secs: r.time_to_first_referral_p90_secs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        serde_json::from_str(include_str!("../../tests/vectors/vectors.json")).unwrap()
    }

    fn vector_ledger(v: &Value) -> RewardsLedger {
        let rewards = &v["rewards"];
        RewardsLedger {
            program: serde_json::from_value(rewards["program"].clone()).unwrap(),
            ledger: Mutex::new(
                core_::ProgramLedger::from_json(rewards["single_ledger"].to_string().as_bytes())
                    .unwrap(),
            ),
        }
    }

    #[test]
    fn restores_the_single_ledger_format_and_its_own_bytes() {
        let v = vectors();
        let rewards = &v["rewards"];
        let single: core_::Ledger =
            serde_json::from_value(rewards["single_ledger"].clone()).unwrap();
        let ledger = vector_ledger(&v);
        assert_eq!(
            ledger.with(|l| l.clone()),
            core_::ProgramLedger::from_ledger(single)
        );
        let again = core_::ProgramLedger::from_json(&ledger.to_bytes()).unwrap();
        assert_eq!(again, ledger.with(|l| l.clone()));
        for bad in [&b"not json"[..], b"{}", b"[]", b"{\"referrers\":1}"] {
            assert!(core_::ProgramLedger::from_json(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn restored_single_ledger_answers_like_the_vectors() {
        let v = vectors();
        let rewards = &v["rewards"];
        let ledger = vector_ledger(&v);
        let at = rewards["at"].as_u64().unwrap();
        let entries = ledger.entries(at);
        assert_eq!(entries.len(), rewards["statuses"].as_array().unwrap().len());
        for s in rewards["statuses"].as_array().unwrap() {
            let entry = entries.iter().find(|e| e.id == s["entry"]).unwrap();
            let status: core_::EntryStatus = serde_json::from_value(s["status"].clone()).unwrap();
            assert_eq!(entry.status, status, "{s}");
        }
        let when_earned = &rewards["rewards_this_month_when_earned"];
        for (now, expected) in [
            (at, &rewards["rewards_this_month"]),
            (
                when_earned["at"].as_u64().unwrap(),
                &when_earned["expected"],
            ),
        ] {
            for r in expected.as_array().unwrap() {
                let account = r["account"].as_str().unwrap().to_owned();
                assert_eq!(
                    u64::from(ledger.rewards_this_month(account, now)),
                    r["rewards_this_month"].as_u64().unwrap(),
                    "{r} at {now}"
                );
            }
        }
    }

    #[test]
    fn widget_events_map_like_the_vectors() {
        let v = vectors();
        for case in v["funnel"]["widget_stages"].as_array().unwrap() {
            let expected: Option<funnel::Stage> =
                serde_json::from_value(case["stage"].clone()).unwrap();
            assert_eq!(
                funnel_stage_of_widget_event(case["event"].as_str().unwrap().to_owned()),
                expected,
                "{case}"
            );
        }
    }
}
