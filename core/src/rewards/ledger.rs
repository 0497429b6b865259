//! The rewards ledger: a state machine driven by events with ids.
//!
//! ```text
//!                 ┌────────── review cleared ─────────┐
//!  qualify ──▶ pending (flagged for review) ──▶ held until date ──▶ payable ──▶ paid
//!                 │                               │                   │          │
//!                 └──────────── refund / chargeback / churn in window / fraud ───┴──▶ reversed
//! ```
//!
//! `held` and `payable` are derived from the clock (`now` vs. `hold_until`);
//! nothing time-based is stored. Applying an event id a second time changes
//! nothing. Balances are computed from the entries, never stored.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::program::{year_month, Money, Period, Program, QualifyingEvent, RewardRule};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Referrer,
    Friend,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReversalReason {
    Refund,
    Chargeback,
    /// The referred account churned; only inside the clawback window.
    Churn,
    FraudConfirmed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LedgerEvent {
    /// Attribution decided this referral counts (from `attribution::attribute`).
    /// Qualifies `signup` programs.
    Attributed {
        event_id: String,
        referral_id: String,
        referrer_account: String,
        friend_account: String,
        /// Flagged by fraud checks: rewards stay pending until `Approved`.
        #[serde(default)]
        review: bool,
        at: u64,
    },
    /// Trial started, activation, contract signed (or signup) for the friend.
    Qualified {
        event_id: String,
        referral_id: String,
        event: QualifyingEvent,
        at: u64,
        /// First-year annual contract value, for percentage rewards.
        #[serde(default)]
        acv: Option<Money>,
    },
    /// The friend paid an invoice. The first qualifies `first_payment`
    /// programs; each feeds a recurring revenue share.
    Payment {
        event_id: String,
        referral_id: String,
        at: u64,
        amount: Money,
        #[serde(default)]
        acv: Option<Money>,
    },
    /// A person reviewed a flagged referral and cleared it.
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
    /// A person's manual adjustment on a referral: an entry of `amount`
    /// (negative to take back) for the referral's `side`, payable at once,
    /// with the reason. Not a reward: caps and the velocity count leave it
    /// out.
    Adjustment {
        event_id: String,
        referral_id: String,
        side: Side,
        amount: Money,
        reason: String,
        at: u64,
    },
    /// The host paid (or applied) one entry.
    Paid {
        event_id: String,
        entry_id: String,
        at: u64,
    },
}

/// Which referrer's ledger an event belongs to, as the event names it
/// (see `ProgramLedger`): an attribution names its referrer, the other
/// referral events their referral, a payout its entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerKey<'a> {
    Referrer(&'a str),
    Referral(&'a str),
    Entry(&'a str),
}

impl LedgerEvent {
    /// What routes this event to its referrer's ledger.
    pub fn key(&self) -> LedgerKey<'_> {
        match self {
            LedgerEvent::Attributed {
                referrer_account, ..
            } => LedgerKey::Referrer(referrer_account),
            LedgerEvent::Qualified { referral_id, .. }
            | LedgerEvent::Payment { referral_id, .. }
            | LedgerEvent::Approved { referral_id, .. }
            | LedgerEvent::Reversal { referral_id, .. }
            | LedgerEvent::Adjustment { referral_id, .. } => LedgerKey::Referral(referral_id),
            LedgerEvent::Paid { entry_id, .. } => LedgerKey::Entry(entry_id),
        }
    }

    /// The referral this event is about (`None` for a payout, which
    /// names an entry).
    pub fn referral_id(&self) -> Option<&str> {
        match self {
            LedgerEvent::Attributed { referral_id, .. }
            | LedgerEvent::Qualified { referral_id, .. }
            | LedgerEvent::Payment { referral_id, .. }
            | LedgerEvent::Approved { referral_id, .. }
            | LedgerEvent::Reversal { referral_id, .. }
            | LedgerEvent::Adjustment { referral_id, .. } => Some(referral_id),
            LedgerEvent::Paid { .. } => None,
        }
    }

    pub fn event_id(&self) -> &str {
        match self {
            LedgerEvent::Attributed { event_id, .. }
            | LedgerEvent::Qualified { event_id, .. }
            | LedgerEvent::Payment { event_id, .. }
            | LedgerEvent::Approved { event_id, .. }
            | LedgerEvent::Reversal { event_id, .. }
            | LedgerEvent::Adjustment { event_id, .. }
            | LedgerEvent::Paid { event_id, .. } => event_id,
        }
    }
}

/// What an entry is worth: money, or a product entitlement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RewardValue {
    Money { amount: Money, cash: bool },
    FreeMonths { months: u32 },
    FeatureUnlock { feature: String },
    TierUpgrade { tier: String, months: u32 },
}

impl RewardValue {
    fn money(&self) -> Option<&Money> {
        match self {
            RewardValue::Money { amount, .. } => Some(amount),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reversal {
    pub reason: ReversalReason,
    pub at: u64,
    pub event_id: String,
    /// The entry had been paid: the amount is owed back (a clawback).
    pub was_paid: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// `<event id>/<side>`: unique, and stable across replays.
    pub id: String,
    pub referral_id: String,
    pub beneficiary: String,
    pub side: Side,
    pub value: RewardValue,
    pub created_at: u64,
    pub hold_until: u64,
    /// A recurring revenue-share entry (one per payment), not a reward for
    /// qualifying: counts towards a cap's amount, not its number of rewards.
    #[serde(default)]
    pub recurring: bool,
    #[serde(default)]
    pub paid_at: Option<u64>,
    #[serde(default)]
    pub reversal: Option<Reversal>,
    /// A manual adjustment's reason (`LedgerEvent::Adjustment`): not a
    /// reward, so caps and the velocity count leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjustment: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Waiting for a person to clear a flagged referral.
    Pending,
    Held,
    Payable,
    Paid,
    Reversed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    pub id: String,
    pub referrer_account: String,
    pub friend_account: String,
    pub review: bool,
    pub approved: bool,
    pub attributed_at: u64,
    #[serde(default)]
    pub qualified_at: Option<u64>,
    #[serde(default)]
    pub acv: Option<Money>,
    #[serde(default)]
    pub payments: u32,
    /// Rejected as fraud by a person (a `fraud_confirmed` reversal): its
    /// rewards are reversed, it earns no new ones, and it cannot be
    /// approved.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rejected: bool,
}

/// What applying one event did. `outcome.code()` is the stable reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Applied {
    /// The event id was applied before: nothing changed.
    Duplicate,
    /// The referral is known; nothing to reward yet.
    Registered,
    /// Entries were created.
    Rewarded {
        entries: Vec<String>,
    },
    /// The event does not qualify this program (or the referral already
    /// qualified); recorded, nothing created.
    NotQualifying {
        detail: String,
    },
    /// The referrer's cap for the period is reached: no referrer entry
    /// (a friend entry may still have been created).
    CapReached {
        entries: Vec<String>,
    },
    Approved,
    Reversed {
        entries: Vec<String>,
    },
    /// A churn after the clawback window: rewards stand.
    OutsideClawback,
    Paid {
        entry: String,
    },
}

impl Applied {
    /// The entries this outcome created (not those it reversed or paid).
    pub fn created(&self) -> &[String] {
        match self {
            Applied::Rewarded { entries } | Applied::CapReached { entries } => entries,
            _ => &[],
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Applied::Duplicate => "duplicate",
            Applied::Registered => "registered",
            Applied::Rewarded { .. } => "rewarded",
            Applied::NotQualifying { .. } => "not_qualifying",
            Applied::CapReached { .. } => "cap_reached",
            Applied::Approved => "approved",
            Applied::Reversed { .. } => "reversed",
            Applied::OutsideClawback => "outside_clawback",
            Applied::Paid { .. } => "paid",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// No reward without an attribution.
    #[error("no attribution for referral {0:?}")]
    UnknownReferral(String),
    #[error("referral {0:?} is already attributed")]
    DuplicateReferral(String),
    #[error("no entry {0:?}")]
    UnknownEntry(String),
    #[error("entry {entry:?} is {status:?}, not payable")]
    NotPayable { entry: String, status: EntryStatus },
    #[error("a percentage reward needs the referred account's ACV")]
    MissingAcv,
    #[error("currency {found} does not match {expected}")]
    CurrencyMismatch { expected: String, found: String },
    #[error("invalid event: {0}")]
    InvalidEvent(&'static str),
    /// A referral rejected as fraud (`Reversal` with `fraud_confirmed`)
    /// cannot be approved.
    #[error("referral {0:?} was rejected as fraud")]
    ReferralRejected(String),
}

impl LedgerError {
    pub fn reason(&self) -> &'static str {
        match self {
            LedgerError::UnknownReferral(_) => "unknown_referral",
            LedgerError::DuplicateReferral(_) => "duplicate_referral",
            LedgerError::UnknownEntry(_) => "unknown_entry",
            LedgerError::NotPayable { .. } => "not_payable",
            LedgerError::MissingAcv => "missing_acv",
            LedgerError::CurrencyMismatch { .. } => "currency_mismatch",
            LedgerError::InvalidEvent(_) => "invalid_event",
            LedgerError::ReferralRejected(_) => "referral_rejected",
        }
    }
}

/// One program's ledger. Serialisable, so the host can keep it as a row
/// per program or rebuild it by replaying its event table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub referrals: BTreeMap<String, Referral>,
    pub entries: Vec<Entry>,
    pub applied_event_ids: BTreeSet<String>,
}

/// Money and entitlements per beneficiary, derived at `now`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// One line per (status, currency), sorted.
    pub money: Vec<MoneyLine>,
    /// Paid then reversed: owed back, per currency.
    pub clawback_due: Vec<Money>,
    /// Non-money entitlements with their status.
    pub entitlements: Vec<EntitlementLine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoneyLine {
    pub status: EntryStatus,
    pub currency: String,
    pub amount_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitlementLine {
    pub status: EntryStatus,
    pub value: RewardValue,
}

impl Balance {
    /// The amount in `status` and `currency` (0 when none).
    pub fn amount(&self, status: EntryStatus, currency: &str) -> i64 {
        self.money
            .iter()
            .find(|l| l.status == status && l.currency == currency)
            .map_or(0, |l| l.amount_minor)
    }

    pub fn clawback(&self, currency: &str) -> i64 {
        self.clawback_due
            .iter()
            .find(|m| m.currency == currency)
            .map_or(0, |m| m.amount_minor)
    }
}

const DAY: u64 = 86_400;

fn in_same_period(period: Period, a: u64, b: u64) -> bool {
    match period {
        Period::Month => year_month(a) == year_month(b),
        Period::Year => year_month(a).0 == year_month(b).0,
        Period::Lifetime => true,
    }
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// One referral with its entries, as a ledger of its own: what a host
    /// keeps per friend so the friend's rewards are read without loading
    /// the referrer's whole ledger. `None` for an unknown referral.
    pub fn referral_view(&self, referral_id: &str) -> Option<Ledger> {
        let referral = self.referrals.get(referral_id)?.clone();
        Some(Ledger {
            entries: self
                .entries
                .iter()
                .filter(|e| e.referral_id == referral_id)
                .cloned()
                .collect(),
            referrals: BTreeMap::from([(referral_id.to_owned(), referral)]),
            applied_event_ids: BTreeSet::new(),
        })
    }

    /// The referral an entry belongs to.
    pub fn referral_of_entry(&self, entry_id: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.id == entry_id)
            .map(|e| e.referral_id.as_str())
    }

    /// No referral, entry or applied event.
    pub fn is_empty(&self) -> bool {
        self.referrals.is_empty() && self.entries.is_empty() && self.applied_event_ids.is_empty()
    }

    pub fn status(&self, entry: &Entry, now: u64) -> EntryStatus {
        if entry.reversal.is_some() {
            return EntryStatus::Reversed;
        }
        if entry.paid_at.is_some() {
            return EntryStatus::Paid;
        }
        let cleared = self
            .referrals
            .get(&entry.referral_id)
            .is_none_or(|r| !r.review || r.approved);
        if !cleared {
            EntryStatus::Pending
        } else if now < entry.hold_until {
            EntryStatus::Held
        } else {
            EntryStatus::Payable
        }
    }

    fn value_of(
        rule: &RewardRule,
        acv: Option<&Money>,
    ) -> Result<Option<RewardValue>, LedgerError> {
        let need_acv = || acv.cloned().ok_or(LedgerError::MissingAcv);
        Ok(Some(match rule {
            RewardRule::AccountCredit { amount } => RewardValue::Money {
                amount: amount.clone(),
                cash: false,
            },
            RewardRule::Fixed { amount } => RewardValue::Money {
                amount: amount.clone(),
                cash: true,
            },
            RewardRule::FreeMonths { months } => RewardValue::FreeMonths { months: *months },
            RewardRule::FeatureUnlock { feature } => RewardValue::FeatureUnlock {
                feature: feature.clone(),
            },
            RewardRule::TierUpgrade { tier, months } => RewardValue::TierUpgrade {
                tier: tier.clone(),
                months: *months,
            },
            RewardRule::PercentOfAcv {
                basis_points,
                min,
                max,
            } => {
                let mut amount = need_acv()?.percent(*basis_points);
                for bound in [min, max].into_iter().flatten() {
                    if bound.currency != amount.currency {
                        return Err(LedgerError::CurrencyMismatch {
                            expected: bound.currency.clone(),
                            found: amount.currency,
                        });
                    }
                }
                if let Some(min) = min {
                    amount.amount_minor = amount.amount_minor.max(min.amount_minor);
                }
                if let Some(max) = max {
                    amount.amount_minor = amount.amount_minor.min(max.amount_minor);
                }
                RewardValue::Money { amount, cash: true }
            }
            // Recurring shares are paid per payment, not at qualification.
            RewardRule::RevenueShare {
                months: Some(_), ..
            } => return Ok(None),
            RewardRule::RevenueShare {
                basis_points,
                months: None,
            } => RewardValue::Money {
                amount: need_acv()?.percent(*basis_points),
                cash: true,
            },
        }))
    }

    /// True if a referrer entry worth `value` at `at` fits the cap.
    fn fits_cap(
        &self,
        program: &Program,
        referrer: &str,
        value: &RewardValue,
        at: u64,
        counts_as_reward: bool,
    ) -> bool {
        let Some(cap) = &program.cap else { return true };
        let live: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| {
                e.side == Side::Referrer
                    && e.beneficiary == referrer
                    && e.reversal.is_none()
                    && e.adjustment.is_none()
            })
            .filter(|e| in_same_period(cap.period, e.created_at, at))
            .collect();
        if counts_as_reward {
            if let Some(max) = cap.max_rewards {
                let rewards = live.iter().filter(|e| !e.recurring).count();
                if rewards as u64 >= u64::from(max) {
                    return false;
                }
            }
        }
        if let (Some(max), Some(money)) = (&cap.max_amount, value.money()) {
            let spent: i64 = live
                .iter()
                .filter_map(|e| e.value.money())
                .filter(|m| m.currency == max.currency)
                .map(|m| m.amount_minor)
                .sum();
            if money.currency == max.currency
                && spent.saturating_add(money.amount_minor) > max.amount_minor
            {
                return false;
            }
        }
        true
    }

    fn qualify(
        &mut self,
        program: &Program,
        referral_id: &str,
        event_id: &str,
        at: u64,
    ) -> Result<Applied, LedgerError> {
        let referral = self
            .referrals
            .get(referral_id)
            .ok_or_else(|| LedgerError::UnknownReferral(referral_id.to_owned()))?
            .clone();
        if referral.qualified_at.is_some() {
            return Ok(Applied::NotQualifying {
                detail: "already qualified".to_owned(),
            });
        }
        let count = 1 + self
            .referrals
            .values()
            .filter(|r| r.referrer_account == referral.referrer_account && r.qualified_at.is_some())
            .count() as u32;
        let referrer_value = Ledger::value_of(program.referrer_rule(count), referral.acv.as_ref())?;
        let friend_value = match &program.friend_reward {
            Some(rule) => Ledger::value_of(rule, referral.acv.as_ref())?,
            None => None,
        };
        if let Some(r) = self.referrals.get_mut(referral_id) {
            r.qualified_at = Some(at);
        }
        let hold_until = at.saturating_add(u64::from(program.hold_days) * DAY);
        let mut created = Vec::new();
        let mut capped = false;
        if let Some(value) = referrer_value {
            if self.fits_cap(program, &referral.referrer_account, &value, at, true) {
                created.push(self.push(event_id, Side::Referrer, &referral, value, at, hold_until));
            } else {
                capped = true;
            }
        }
        if let Some(value) = friend_value {
            created.push(self.push(event_id, Side::Friend, &referral, value, at, hold_until));
        }
        Ok(if capped {
            Applied::CapReached { entries: created }
        } else if created.is_empty() {
            Applied::Registered
        } else {
            Applied::Rewarded { entries: created }
        })
    }

    fn push(
        &mut self,
        event_id: &str,
        side: Side,
        referral: &Referral,
        value: RewardValue,
        at: u64,
        hold_until: u64,
    ) -> String {
        let id = match side {
            Side::Referrer => format!("{event_id}/referrer"),
            Side::Friend => format!("{event_id}/friend"),
        };
        let beneficiary = match side {
            Side::Referrer => referral.referrer_account.clone(),
            Side::Friend => referral.friend_account.clone(),
        };
        self.entries.push(Entry {
            id: id.clone(),
            referral_id: referral.id.clone(),
            beneficiary,
            side,
            value,
            created_at: at,
            hold_until,
            recurring: false,
            paid_at: None,
            reversal: None,
            adjustment: None,
        });
        id
    }

    /// Applies one event. The same event id twice changes nothing the
    /// second time. An error leaves the ledger unchanged.
    pub fn apply(
        &mut self,
        program: &Program,
        event: &LedgerEvent,
    ) -> Result<Applied, LedgerError> {
        let event_id = event.event_id();
        if event_id.is_empty() {
            return Err(LedgerError::InvalidEvent("empty event id"));
        }
        if self.applied_event_ids.contains(event_id) {
            return Ok(Applied::Duplicate);
        }
        // An error leaves the ledger as it was: entries are only appended,
        // and only the event's own referral is modified.
        let snapshot_entries = self.entries.len();
        let referral_id = event.referral_id().map(str::to_owned);
        let referral_before = referral_id
            .as_ref()
            .and_then(|id| self.referrals.get(id).cloned());
        let result = self.apply_new(program, event);
        match &result {
            Ok(_) => {
                self.applied_event_ids.insert(event_id.to_owned());
            }
            Err(_) => {
                self.entries.truncate(snapshot_entries);
                if let Some(id) = referral_id {
                    match referral_before {
                        Some(before) => {
                            self.referrals.insert(id, before);
                        }
                        None => {
                            self.referrals.remove(&id);
                        }
                    }
                }
            }
        }
        result
    }

    fn referral_mut(&mut self, id: &str) -> Result<&mut Referral, LedgerError> {
        self.referrals
            .get_mut(id)
            .ok_or_else(|| LedgerError::UnknownReferral(id.to_owned()))
    }

    fn apply_new(
        &mut self,
        program: &Program,
        event: &LedgerEvent,
    ) -> Result<Applied, LedgerError> {
        match event {
            LedgerEvent::Attributed {
                event_id,
                referral_id,
                referrer_account,
                friend_account,
                review,
                at,
            } => {
                if self.referrals.contains_key(referral_id) {
                    return Err(LedgerError::DuplicateReferral(referral_id.clone()));
                }
                if referrer_account == friend_account {
                    return Err(LedgerError::InvalidEvent(
                        "referrer and friend are the same account",
                    ));
                }
                self.referrals.insert(
                    referral_id.clone(),
                    Referral {
                        id: referral_id.clone(),
                        referrer_account: referrer_account.clone(),
                        friend_account: friend_account.clone(),
                        review: *review,
                        approved: false,
                        attributed_at: *at,
                        qualified_at: None,
                        acv: None,
                        payments: 0,
                        rejected: false,
                    },
                );
                if program.qualifying_event == QualifyingEvent::Signup {
                    let applied = self.qualify(program, referral_id, event_id, *at);
                    if applied.is_err() {
                        self.referrals.remove(referral_id);
                    }
                    return applied;
                }
                Ok(Applied::Registered)
            }
            LedgerEvent::Qualified {
                event_id,
                referral_id,
                event: kind,
                at,
                acv,
            } => {
                let referral = self.referral_mut(referral_id)?;
                if let Some(acv) = acv {
                    referral.acv = Some(acv.clone());
                }
                if referral.rejected {
                    return Ok(Applied::NotQualifying {
                        detail: "referral rejected as fraud".to_owned(),
                    });
                }
                if *kind != program.qualifying_event {
                    return Ok(Applied::NotQualifying {
                        detail: format!("program qualifies on {:?}", program.qualifying_event),
                    });
                }
                self.qualify_restoring(program, referral_id, event_id, *at)
            }
            LedgerEvent::Payment {
                event_id,
                referral_id,
                at,
                amount,
                acv,
            } => {
                if amount.amount_minor <= 0 {
                    return Err(LedgerError::InvalidEvent("payment amount must be positive"));
                }
                if let Some(expected) = &program.currency {
                    for money in std::iter::once(amount).chain(acv) {
                        if money.currency != *expected {
                            return Err(LedgerError::CurrencyMismatch {
                                expected: expected.clone(),
                                found: money.currency.clone(),
                            });
                        }
                    }
                }
                let referral = self.referral_mut(referral_id)?;
                referral.payments += 1;
                if let Some(acv) = acv {
                    referral.acv = Some(acv.clone());
                }
                if referral.rejected {
                    return Ok(Applied::NotQualifying {
                        detail: "referral rejected as fraud".to_owned(),
                    });
                }
                let first = referral.payments == 1;
                let mut outcome =
                    if first && program.qualifying_event == QualifyingEvent::FirstPayment {
                        self.qualify_restoring(program, referral_id, event_id, *at)?
                    } else {
                        Applied::NotQualifying {
                            detail: "payment recorded".to_owned(),
                        }
                    };
                // Recurring revenue share: a share of each payment inside the
                // first `months` months after qualifying.
                if let RewardRule::RevenueShare {
                    basis_points,
                    months: Some(months),
                } = &program.referrer_reward
                {
                    let referral = self.referrals.get(referral_id).cloned();
                    if let Some(referral) = referral {
                        if let Some(q) = referral.qualified_at {
                            let until = q.saturating_add(u64::from(*months) * 30 * DAY);
                            if *at >= q && *at < until {
                                let value = RewardValue::Money {
                                    amount: amount.percent(*basis_points),
                                    cash: true,
                                };
                                let share_id = format!("{event_id}/share");
                                if self.fits_cap(
                                    program,
                                    &referral.referrer_account,
                                    &value,
                                    *at,
                                    false,
                                ) {
                                    let hold_until =
                                        at.saturating_add(u64::from(program.hold_days) * DAY);
                                    let id = self.push(
                                        &share_id,
                                        Side::Referrer,
                                        &referral,
                                        value,
                                        *at,
                                        hold_until,
                                    );
                                    if let Some(entry) = self.entries.last_mut() {
                                        entry.recurring = true;
                                    }
                                    outcome = match outcome {
                                        Applied::Rewarded { mut entries } => {
                                            entries.push(id);
                                            Applied::Rewarded { entries }
                                        }
                                        _ => Applied::Rewarded { entries: vec![id] },
                                    };
                                } else {
                                    outcome = Applied::CapReached {
                                        entries: Vec::new(),
                                    };
                                }
                            }
                        }
                    }
                }
                Ok(outcome)
            }
            LedgerEvent::Approved { referral_id, .. } => {
                // A review decision is final: rejected stays rejected.
                let referral = self.referral_mut(referral_id)?;
                if referral.rejected {
                    return Err(LedgerError::ReferralRejected(referral_id.clone()));
                }
                referral.approved = true;
                Ok(Applied::Approved)
            }
            LedgerEvent::Reversal {
                event_id,
                referral_id,
                at,
                reason,
            } => {
                let referral = self
                    .referrals
                    .get(referral_id)
                    .ok_or_else(|| LedgerError::UnknownReferral(referral_id.clone()))?;
                if *reason == ReversalReason::Churn {
                    let window_end = referral
                        .qualified_at
                        .unwrap_or(referral.attributed_at)
                        .saturating_add(u64::from(program.clawback_days) * DAY);
                    if *at > window_end {
                        return Ok(Applied::OutsideClawback);
                    }
                }
                if *reason == ReversalReason::FraudConfirmed {
                    self.referral_mut(referral_id)?.rejected = true;
                }
                let mut reversed = Vec::new();
                for entry in self
                    .entries
                    .iter_mut()
                    .filter(|e| e.referral_id == *referral_id && e.reversal.is_none())
                {
                    entry.reversal = Some(Reversal {
                        reason: *reason,
                        at: *at,
                        event_id: event_id.clone(),
                        was_paid: entry.paid_at.is_some(),
                    });
                    reversed.push(entry.id.clone());
                }
                Ok(Applied::Reversed { entries: reversed })
            }
            LedgerEvent::Adjustment {
                event_id,
                referral_id,
                side,
                amount,
                reason,
                at,
            } => {
                if amount.amount_minor == 0 {
                    return Err(LedgerError::InvalidEvent("an adjustment of zero"));
                }
                if reason.trim().is_empty() || reason.len() > 500 {
                    return Err(LedgerError::InvalidEvent(
                        "an adjustment needs a reason of at most 500 bytes",
                    ));
                }
                if let Some(expected) = &program.currency {
                    if amount.currency != *expected {
                        return Err(LedgerError::CurrencyMismatch {
                            expected: expected.clone(),
                            found: amount.currency.clone(),
                        });
                    }
                }
                let referral = self
                    .referrals
                    .get(referral_id)
                    .cloned()
                    .ok_or_else(|| LedgerError::UnknownReferral(referral_id.clone()))?;
                let value = RewardValue::Money {
                    amount: amount.clone(),
                    cash: false,
                };
                let id = self.push(event_id, *side, &referral, value, *at, *at);
                if let Some(entry) = self.entries.last_mut() {
                    entry.adjustment = Some(reason.clone());
                }
                Ok(Applied::Rewarded { entries: vec![id] })
            }
            LedgerEvent::Paid { entry_id, at, .. } => {
                let index = self
                    .entries
                    .iter()
                    .position(|e| e.id == *entry_id)
                    .ok_or_else(|| LedgerError::UnknownEntry(entry_id.clone()))?;
                let status = self.status(&self.entries[index], *at);
                if status != EntryStatus::Payable {
                    return Err(LedgerError::NotPayable {
                        entry: entry_id.clone(),
                        status,
                    });
                }
                self.entries[index].paid_at = Some(*at);
                Ok(Applied::Paid {
                    entry: entry_id.clone(),
                })
            }
        }
    }

    /// Qualifies, undoing the `qualified_at` mark if the rewards cannot be
    /// computed (e.g. a missing ACV), so a later event can try again.
    fn qualify_restoring(
        &mut self,
        program: &Program,
        referral_id: &str,
        event_id: &str,
        at: u64,
    ) -> Result<Applied, LedgerError> {
        let result = self.qualify(program, referral_id, event_id, at);
        if result.is_err() {
            if let Some(r) = self.referrals.get_mut(referral_id) {
                r.qualified_at = None;
            }
        }
        result
    }

    /// The referrer rewards that count towards the velocity limit
    /// (`ReferrerInfo::rewards_this_month`): `referrer`'s own rewards for
    /// qualifying referrals (not recurring revenue shares), not reversed,
    /// created in the calendar month (UTC) of `now`.
    pub fn rewards_this_month(&self, referrer: &str, now: u64) -> u32 {
        let month = year_month(now);
        let count = self
            .entries
            .iter()
            .filter(|e| {
                e.side == Side::Referrer
                    && e.beneficiary == referrer
                    && !e.recurring
                    && e.reversal.is_none()
                    && e.adjustment.is_none()
                    && year_month(e.created_at) == month
            })
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// Every beneficiary's balance at `now`, derived from the entries.
    pub fn balances(&self, now: u64) -> BTreeMap<String, Balance> {
        sum_balances(self.entries.iter().map(|e| (e, self.status(e, now))))
    }
}

/// Balances per beneficiary from entries and their statuses.
pub(crate) fn sum_balances<'a>(
    entries: impl Iterator<Item = (&'a Entry, EntryStatus)>,
) -> BTreeMap<String, Balance> {
    type Sums = (
        BTreeMap<(EntryStatus, String), i64>,
        BTreeMap<String, i64>,
        Vec<EntitlementLine>,
    );
    let mut sums: BTreeMap<String, Sums> = BTreeMap::new();
    for (entry, status) in entries {
        let (money, clawback, entitlements) = sums.entry(entry.beneficiary.clone()).or_default();
        match &entry.value {
            RewardValue::Money { amount, .. } => {
                *money.entry((status, amount.currency.clone())).or_default() += amount.amount_minor;
                if entry.reversal.as_ref().is_some_and(|r| r.was_paid) {
                    *clawback.entry(amount.currency.clone()).or_default() += amount.amount_minor;
                }
            }
            other => entitlements.push(EntitlementLine {
                status,
                value: other.clone(),
            }),
        }
    }
    sums.into_iter()
        .map(|(who, (money, clawback, entitlements))| {
            let balance = Balance {
                money: money
                    .into_iter()
                    .map(|((status, currency), amount_minor)| MoneyLine {
                        status,
                        currency,
                        amount_minor,
                    })
                    .collect(),
                clawback_due: clawback
                    .into_iter()
                    .map(|(currency, amount_minor)| Money {
                        amount_minor,
                        currency,
                    })
                    .collect(),
                entitlements,
            };
            (who, balance)
        })
        .collect()
}
