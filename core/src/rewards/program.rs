//! Reward programs: who earns what, on which event, with which limits.
//! Money is integer minor units with an ISO 4217 code; percentages are
//! basis points (1/100 of a percent). No floats.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Money {
    /// Minor units: cents for USD, yen for JPY.
    pub amount_minor: i64,
    /// ISO 4217, upper case (`USD`, `EUR`).
    pub currency: String,
}

impl Money {
    pub fn new(amount_minor: i64, currency: &str) -> Money {
        Money {
            amount_minor,
            currency: currency.to_owned(),
        }
    }

    /// `basis_points` / 10,000 of this amount, rounded down (towards zero).
    pub fn percent(&self, basis_points: u32) -> Money {
        let scaled = i128::from(self.amount_minor) * i128::from(basis_points) / 10_000;
        Money {
            amount_minor: i64::try_from(scaled).unwrap_or(i64::MAX),
            currency: self.currency.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgramKind {
    /// Customers refer customers: credit, free months, unlocks, upgrades.
    Customer,
    /// Partners earn a revenue share of what referred accounts pay.
    Partner,
    /// Employees earn a bonus on a closed deal.
    Employee,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualifyingEvent {
    Signup,
    TrialStarted,
    Activation,
    FirstPayment,
    ContractSigned,
}

/// What one side earns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RewardRule {
    /// Account credit in the product's billing.
    AccountCredit {
        amount: Money,
    },
    /// Free months of the current plan.
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
    /// A fixed payout (an employee bonus, a partner bounty).
    Fixed {
        amount: Money,
    },
    /// A share of the referred account's first-year ACV, clamped.
    PercentOfAcv {
        basis_points: u32,
        #[serde(default)]
        min: Option<Money>,
        #[serde(default)]
        max: Option<Money>,
    },
    /// Revenue share: with `months`, a share of every payment in the first
    /// `months` months; without, one share of the first-year ACV.
    RevenueShare {
        basis_points: u32,
        #[serde(default)]
        months: Option<u32>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    /// Applies from the referrer's Nth qualified referral on (1st, 5th, 10th).
    pub from_count: u32,
    pub reward: RewardRule,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// The calendar month (UTC) of the qualifying event.
    Month,
    /// The calendar year (UTC).
    Year,
    Lifetime,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cap {
    pub period: Period,
    /// Most referrer rewards per period.
    #[serde(default)]
    pub max_rewards: Option<u32>,
    /// Most money per period, in the program's currency.
    #[serde(default)]
    pub max_amount: Option<Money>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    pub id: u32,
    pub kind: ProgramKind,
    pub qualifying_event: QualifyingEvent,
    pub referrer_reward: RewardRule,
    /// Double-sided programs reward the friend too.
    #[serde(default)]
    pub friend_reward: Option<RewardRule>,
    #[serde(default)]
    pub tiers: Vec<Tier>,
    #[serde(default)]
    pub cap: Option<Cap>,
    /// Rewards are held this many days before they are payable.
    #[serde(default)]
    pub hold_days: u32,
    /// A churn within this many days of qualifying reverses the rewards.
    #[serde(default)]
    pub clawback_days: u32,
    /// The currency the host bills in (ISO 4217). When set, a payment in
    /// any other currency is refused (`currency_mismatch`): amounts in
    /// different currencies cannot be compared or shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid program at `{field}`: {problem}")]
pub struct ProgramError {
    pub field: String,
    pub problem: String,
}

impl ProgramError {
    pub fn reason(&self) -> &'static str {
        "invalid_program"
    }
}

fn err(field: impl Into<String>, problem: impl Into<String>) -> Result<(), ProgramError> {
    Err(ProgramError {
        field: field.into(),
        problem: problem.into(),
    })
}

fn valid_currency(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

fn check_money(field: &str, money: &Money) -> Result<(), ProgramError> {
    if !valid_currency(&money.currency) {
        return err(
            format!("{field}.currency"),
            "must be an ISO 4217 code such as USD",
        );
    }
    if money.amount_minor < 0 {
        return err(format!("{field}.amount_minor"), "must not be negative");
    }
    Ok(())
}

fn check_rule(field: &str, rule: &RewardRule, kind: ProgramKind) -> Result<(), ProgramError> {
    match rule {
        RewardRule::AccountCredit { amount } | RewardRule::Fixed { amount } => {
            check_money(&format!("{field}.amount"), amount)?
        }
        RewardRule::FreeMonths { months } | RewardRule::TierUpgrade { months, .. }
            if *months == 0 =>
        {
            return err(format!("{field}.months"), "must be at least 1")
        }
        RewardRule::FeatureUnlock { feature } if feature.trim().is_empty() => {
            return err(format!("{field}.feature"), "must not be empty")
        }
        RewardRule::PercentOfAcv {
            basis_points,
            min,
            max,
        } => {
            if *basis_points > 10_000 {
                return err(format!("{field}.basis_points"), "must be 0 to 10000");
            }
            for (name, bound) in [("min", min), ("max", max)] {
                if let Some(m) = bound {
                    check_money(&format!("{field}.{name}"), m)?;
                }
            }
            if let (Some(lo), Some(hi)) = (min, max) {
                if lo.currency != hi.currency || lo.amount_minor > hi.amount_minor {
                    return err(
                        format!("{field}.max"),
                        "must be in min's currency and at least min",
                    );
                }
            }
        }
        RewardRule::RevenueShare {
            basis_points,
            months,
        } => {
            if *basis_points > 10_000 {
                return err(format!("{field}.basis_points"), "must be 0 to 10000");
            }
            if *months == Some(0) {
                return err(
                    format!("{field}.months"),
                    "must be at least 1 (or absent for one-off)",
                );
            }
        }
        _ => {}
    }
    let fits = match kind {
        // Customers earn product value, never a cash payout.
        ProgramKind::Customer => !matches!(
            rule,
            RewardRule::Fixed { .. } | RewardRule::RevenueShare { .. }
        ),
        ProgramKind::Partner => matches!(
            rule,
            RewardRule::RevenueShare { .. }
                | RewardRule::PercentOfAcv { .. }
                | RewardRule::Fixed { .. }
        ),
        ProgramKind::Employee => matches!(
            rule,
            RewardRule::Fixed { .. } | RewardRule::PercentOfAcv { .. }
        ),
    };
    if !fits {
        return err(
            field,
            format!("this reward does not fit a {kind:?} program"),
        );
    }
    Ok(())
}

impl Program {
    pub fn validate(&self) -> Result<(), ProgramError> {
        if let Some(currency) = &self.currency {
            if !valid_currency(currency) {
                return err(
                    "currency",
                    "must be a three-letter upper-case ISO 4217 code",
                );
            }
        }
        check_rule("referrer_reward", &self.referrer_reward, self.kind)?;
        if let Some(friend) = &self.friend_reward {
            // The friend is a new customer: product value only.
            check_rule("friend_reward", friend, ProgramKind::Customer)?;
        }
        let mut last = 0;
        for (i, tier) in self.tiers.iter().enumerate() {
            if tier.from_count <= last {
                return err(
                    format!("tiers[{i}].from_count"),
                    "must be at least 1 and increasing",
                );
            }
            last = tier.from_count;
            check_rule(&format!("tiers[{i}].reward"), &tier.reward, self.kind)?;
        }
        if let Some(cap) = &self.cap {
            if cap.max_rewards.is_none() && cap.max_amount.is_none() {
                return err("cap", "needs max_rewards or max_amount");
            }
            if let Some(m) = &cap.max_amount {
                check_money("cap.max_amount", m)?;
            }
        }
        Ok(())
    }

    /// The rule for the referrer's `count`th qualified referral.
    pub fn referrer_rule(&self, count: u32) -> &RewardRule {
        self.tiers
            .iter()
            .rev()
            .find(|t| t.from_count <= count)
            .map_or(&self.referrer_reward, |t| &t.reward)
    }
}

/// (year, month) of a Unix time, UTC.
pub fn year_month(unix: u64) -> (i64, u32) {
    let days = (unix / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month)
}
