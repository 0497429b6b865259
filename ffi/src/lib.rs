//! uniffi bindings over `referral-core`. Thin by design: mirror types with
//! `From` conversions, one call into core per method, errors mapped to the
//! small public [`ReferralError`]. No rule lives here.

uniffi::setup_scaffolding!();

mod codes;
mod error;
mod share;

pub use codes::*;
pub use error::ReferralError;
pub use share::*;
