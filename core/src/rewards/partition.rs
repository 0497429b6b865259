//! A program's ledger kept per referrer (`docs/adr/0004-ledger-per-referrer.md`).
//!
//! Tiers, caps, velocity and reversals only ever read one referrer's
//! referrals and entries, so a program's ledger is the union of one
//! [`Ledger`] per referrer. [`ProgramLedger`] routes each event to its
//! referrer's ledger with indexes (referral → referrer, entry → referrer,
//! applied event ids): applying an event costs a logarithmic look-up plus
//! work proportional to that one referrer, never a scan of the program.
//! Applying a program's events here gives the same outcomes, entries and
//! balances as applying them to a single `Ledger` (property-tested).
//!
//! A host that stores ledgers keeps one row per referrer and answers the
//! routing question from its own tables (`LedgerEvent::key`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::ledger::{
    sum_balances, Applied, Balance, Entry, EntryStatus, Ledger, LedgerError, LedgerEvent, LedgerKey,
};
use super::program::Program;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramLedger {
    /// One ledger per referrer account.
    referrers: BTreeMap<String, Ledger>,
    /// Routing indexes, kept in step with the ledgers.
    referral_referrer: BTreeMap<String, String>,
    entry_referrer: BTreeMap<String, String>,
    applied_event_ids: BTreeSet<String>,
}

impl ProgramLedger {
    pub fn new() -> ProgramLedger {
        ProgramLedger::default()
    }

    /// Splits a single ledger (the format before per-referrer ledgers) by
    /// referrer. Event ids that changed nothing (duplicates, outcomes
    /// without a referral) cannot be placed and are kept in the index.
    pub fn from_ledger(ledger: Ledger) -> ProgramLedger {
        let mut split = ProgramLedger {
            applied_event_ids: ledger.applied_event_ids,
            ..ProgramLedger::default()
        };
        for (id, referral) in ledger.referrals {
            split
                .referral_referrer
                .insert(id.clone(), referral.referrer_account.clone());
            split
                .referrers
                .entry(referral.referrer_account.clone())
                .or_default()
                .referrals
                .insert(id, referral);
        }
        for entry in ledger.entries {
            let Some(referrer) = split.referral_referrer.get(&entry.referral_id).cloned() else {
                continue;
            };
            split
                .entry_referrer
                .insert(entry.id.clone(), referrer.clone());
            split
                .referrers
                .entry(referrer)
                .or_default()
                .entries
                .push(entry);
        }
        split
    }

    /// Reads stored bytes: a `ProgramLedger` as serde writes it, or a
    /// single `Ledger` as versions before per-referrer ledgers stored it
    /// (split with `from_ledger`).
    #[cfg(feature = "json")]
    pub fn from_json(bytes: &[u8]) -> Result<ProgramLedger, serde_json::Error> {
        let value: serde_json::Value = serde_json::from_slice(bytes)?;
        if value.get("referrers").is_some() {
            serde_json::from_value(value)
        } else {
            serde_json::from_value(value).map(ProgramLedger::from_ledger)
        }
    }

    /// The referrer whose ledger `event` belongs to. An attribution of a
    /// known referral, an unknown referral or an unknown entry is refused
    /// as `Ledger::apply` would refuse it.
    pub fn referrer_of<'a>(&'a self, event: &'a LedgerEvent) -> Result<&'a str, LedgerError> {
        match event.key() {
            LedgerKey::Referrer(referrer) => {
                if let LedgerEvent::Attributed { referral_id, .. } = event {
                    if self.referral_referrer.contains_key(referral_id) {
                        return Err(LedgerError::DuplicateReferral(referral_id.clone()));
                    }
                }
                Ok(referrer)
            }
            LedgerKey::Referral(id) => self
                .referral_referrer
                .get(id)
                .map(String::as_str)
                .ok_or_else(|| LedgerError::UnknownReferral(id.to_owned())),
            LedgerKey::Entry(id) => self
                .entry_referrer
                .get(id)
                .map(String::as_str)
                .ok_or_else(|| LedgerError::UnknownEntry(id.to_owned())),
        }
    }

    /// Applies one event to its referrer's ledger (`Ledger::apply`'s
    /// rules: a repeated event id is `Duplicate`, an error changes nothing).
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
        let referrer = self.referrer_of(event)?.to_owned();
        let ledger = self.referrers.entry(referrer.clone()).or_default();
        let result = ledger.apply(program, event);
        match &result {
            Ok(applied) => {
                self.applied_event_ids.insert(event_id.to_owned());
                if let LedgerEvent::Attributed { referral_id, .. } = event {
                    self.referral_referrer
                        .insert(referral_id.clone(), referrer.clone());
                }
                for entry in applied.created() {
                    self.entry_referrer.insert(entry.clone(), referrer.clone());
                }
            }
            Err(_) => {
                // An attribution refused before its referrer had a ledger
                // leaves no empty ledger behind.
                if self.referrers.get(&referrer).is_some_and(Ledger::is_empty) {
                    self.referrers.remove(&referrer);
                }
            }
        }
        result
    }

    /// One referrer's ledger (its referrals, and the entries they earned
    /// on both sides).
    pub fn ledger(&self, referrer: &str) -> Option<&Ledger> {
        self.referrers.get(referrer)
    }

    /// Every referrer's ledger, by referrer account.
    pub fn ledgers(&self) -> impl Iterator<Item = (&String, &Ledger)> {
        self.referrers.iter()
    }

    /// Every entry with its status at `now`, referrer by referrer.
    pub fn entries(&self, now: u64) -> impl Iterator<Item = (&Entry, EntryStatus)> {
        self.referrers
            .values()
            .flat_map(move |l| l.entries.iter().map(move |e| (e, l.status(e, now))))
    }

    /// Every beneficiary's balance at `now`, over all referrers' ledgers.
    pub fn balances(&self, now: u64) -> BTreeMap<String, Balance> {
        sum_balances(self.entries(now))
    }

    /// `Ledger::rewards_this_month` for `referrer`, from its ledger alone.
    pub fn rewards_this_month(&self, referrer: &str, now: u64) -> u32 {
        self.ledger(referrer)
            .map_or(0, |l| l.rewards_this_month(referrer, now))
    }
}
