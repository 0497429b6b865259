//! What users did with the asks: the response model.
//!
//! Outcome events replay reads from the log (the event's user is the one
//! the outcome belongs to: for a referred signup, the referrer):
//!
//! | event | means | recorded with core's `record` |
//! |---|---|---|
//! | `nudge_dismissed` | "not now" on an ask | `Dismissed` (the longer cooldown) |
//! | `nudge_opted_out` | "don't ask again" | `OptedOut` (permanent) |
//! | `nudge_shared` | shared from an ask | `Shared` |
//! | `referral_link_shared` | shared from anywhere else (an invite page) | `Shared` |
//! | `referred_signup` | someone the user referred signed up | `Referred` (the quiet period) |
//! | `referral_converted` | a referred account started paying | nothing (counted for lift) |
//!
//! The first three are *answers*: a log with any of them is its own
//! response model. A log without answers is given one by rates
//! (`--dismiss 0.55 --opt-out 0.07 --share 0.13 --seed 1`): each ask is
//! answered at once, by a hash of (seed, user, the user's ask number), so
//! the result does not depend on the order users are processed in.

use referral_core::nudge::{fnv1a64, record, NudgeState, Outcome};

/// An outcome event found in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logged {
    /// An answer to an ask (`nudge_dismissed`, `nudge_opted_out`, `nudge_shared`).
    Answer(Outcome),
    /// A share outside an ask (`referral_link_shared`).
    Shared,
    /// `referred_signup`.
    ReferredSignup,
    /// `referral_converted`.
    ReferredPaid,
}

pub const DISMISSED: &str = "nudge_dismissed";
pub const OPTED_OUT: &str = "nudge_opted_out";
pub const SHARED: &str = "nudge_shared";
pub const LINK_SHARED: &str = "referral_link_shared";
pub const REFERRED_SIGNUP: &str = "referred_signup";
pub const REFERRAL_CONVERTED: &str = "referral_converted";

pub fn logged(event: &str) -> Option<Logged> {
    match event {
        DISMISSED => Some(Logged::Answer(Outcome::Dismissed)),
        OPTED_OUT => Some(Logged::Answer(Outcome::OptedOut)),
        SHARED => Some(Logged::Answer(Outcome::Shared)),
        LINK_SHARED => Some(Logged::Shared),
        REFERRED_SIGNUP => Some(Logged::ReferredSignup),
        REFERRAL_CONVERTED => Some(Logged::ReferredPaid),
        _ => None,
    }
}

/// Records a logged outcome into the state (before the event itself is
/// evaluated, so a deferred ask it would release sees the answer).
/// `answers`: whether answers from the log are applied.
pub fn apply_logged(state: &mut NudgeState, logged: Logged, at: u64, answers: bool) {
    match logged {
        Logged::Answer(outcome) if answers => record(state, outcome, at),
        Logged::Answer(_) | Logged::ReferredPaid => {}
        Logged::Shared => record(state, Outcome::Shared, at),
        Logged::ReferredSignup => record(state, Outcome::Referred, at),
    }
}

/// Answer rates for a log without answers; exclusive, at most 1 in all
/// (the rest: the ask was seen and ignored).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub dismiss: f64,
    pub opt_out: f64,
    pub share: f64,
    pub seed: u64,
}

impl Rates {
    pub fn new(dismiss: f64, opt_out: f64, share: f64, seed: u64) -> Result<Rates, String> {
        let rates = [dismiss, opt_out, share];
        if rates.iter().any(|r| !(0.0..=1.0).contains(r)) || rates.iter().sum::<f64>() > 1.0 + 1e-9
        {
            return Err(format!(
                "rates must be between 0 and 1 and add up to at most 1 (dismiss {dismiss} + \
                 opt-out {opt_out} + share {share})"
            ));
        }
        Ok(Rates {
            dismiss,
            opt_out,
            share,
            seed,
        })
    }

    /// The answer to a user's `ask`-th ask (0-based), if any.
    pub fn answer(&self, user: &str, ask: u32) -> Option<Outcome> {
        let hash = fnv1a64(&[&self.seed.to_string(), user, &ask.to_string()]);
        // splitmix64's finaliser: FNV's high bits mix poorly for short input.
        let mut z = hash;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let u = (z >> 11) as f64 / (1u64 << 53) as f64;
        if u < self.opt_out {
            Some(Outcome::OptedOut)
        } else if u < self.opt_out + self.dismiss {
            Some(Outcome::Dismissed)
        } else if u < self.opt_out + self.dismiss + self.share {
            Some(Outcome::Shared)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_answer_in_proportion_and_deterministically() {
        let rates = Rates::new(0.55, 0.07, 0.13, 1).unwrap();
        let mut counts = [0u32; 4];
        for user in 0..20_000 {
            let user = format!("u{user}");
            let answer = rates.answer(&user, 0);
            assert_eq!(answer, rates.answer(&user, 0));
            counts[match answer {
                Some(Outcome::OptedOut) => 0,
                Some(Outcome::Dismissed) => 1,
                Some(Outcome::Shared) => 2,
                _ => 3,
            }] += 1;
        }
        let share = |i: usize| f64::from(counts[i]) / 20_000.0;
        assert!((share(0) - 0.07).abs() < 0.01, "{counts:?}");
        assert!((share(1) - 0.55).abs() < 0.015, "{counts:?}");
        assert!((share(2) - 0.13).abs() < 0.01, "{counts:?}");
        assert!(Rates::new(0.6, 0.3, 0.2, 1).is_err());
        assert!(Rates::new(-0.1, 0.0, 0.0, 1).is_err());
    }
}
