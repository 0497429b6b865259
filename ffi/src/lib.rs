//! uniffi bindings over `referral-core`. Thin by design: one call into core
//! per method, errors mapped to the small public [`ReferralError`]. No rule
//! lives here.
//!
//! Types: core's own types cross the boundary as they are wherever the
//! binding's shape is core's, declared as remote types (`pub type X =
//! core_::X;` then `#[uniffi::remote(Enum)]` / `(Record)` repeating its
//! shape: no copy, no conversion; the alias gives the foreign name, as
//! `NudgeOutcome` for core's `Outcome`). A binding type of its own, with
//! `From`/`TryFrom`, only where the binding checks an invariant
//! (`ReferrerId`'s opaque bytes), reshapes a value (`NudgeDecision`,
//! `AttributionOutcome`, `PropertyValue`, `AppliedOutcome`, reasons as
//! strings) or keeps a secret out of `Debug` (`KeyEntry`). In `ffi/src/X.rs`,
//! `core_` is the core module X wraps (the crate root for codes, share links
//! and user tokens, which core re-exports there); other core modules go by
//! their own names (`fraud::`, `funnel::`).

uniffi::setup_scaffolding!();

mod attribution;
mod billing;
mod codes;
mod error;
mod lift;
mod nudge;
mod rewards;
mod share;
mod user_token;

pub use attribution::*;
pub use billing::*;
pub use codes::*;
pub use error::ReferralError;
pub use lift::*;
pub use nudge::*;
pub use rewards::*;
pub use share::*;
pub use user_token::*;
