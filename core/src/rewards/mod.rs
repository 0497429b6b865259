//! Rewards: programs (customer, partner, employee) and the ledger.

pub mod ledger;
pub mod partition;
pub mod program;

pub use ledger::{
    Applied, Balance, EntitlementLine, Entry, EntryStatus, Ledger, LedgerError, LedgerEvent,
    LedgerKey, MoneyLine, Referral, ReversalReason, RewardValue, Side,
};
pub use partition::ProgramLedger;
pub use program::{
    Cap, Money, Period, Program, ProgramError, ProgramKind, QualifyingEvent, RewardRule, Tier,
};
