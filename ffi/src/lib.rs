//! uniffi bindings over `referral-core`. Thin by design: mirror types with
//! `From` conversions, one call into core per method, errors mapped to the
//! small public [`ReferralError`]. No rule lives here.

uniffi::setup_scaffolding!();

mod attribution;
mod codes;
mod error;
mod lift;
mod nudge;
mod rewards;
mod share;
mod user_token;

pub use attribution::*;
pub use codes::*;
pub use error::ReferralError;
pub use lift::*;
pub use nudge::*;
pub use rewards::*;
pub use share::*;
pub use user_token::*;
