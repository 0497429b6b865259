//! Lift vectors: treatment and holdout tallies (and one list of per-user
//! outcomes) with the report core computes. The Python tests also check the
//! intervals against statsmodels.

use referral_core::lift::{lift, GroupTally, LiftOptions, LiftTallies, UserOutcome};
use serde_json::{json, Value};

/// A group whose referrers each referred `per` signups and converted
/// `paid_per` of them.
fn group(users: u64, referrers: u64, per: u64, paid_per: u64) -> GroupTally {
    GroupTally {
        users,
        asked: users,
        shared: referrers * 2,
        referrers,
        signups: referrers * per,
        signups_squared: referrers * per * per,
        paid: referrers * paid_per,
        paid_squared: referrers * paid_per * paid_per,
    }
}

pub fn cases() -> Result<Value, String> {
    let options = LiftOptions::default();
    let holdout = |t: GroupTally| GroupTally {
        asked: 0,
        shared: t.shared / 2,
        ..t
    };
    let scripts: Vec<(&str, LiftTallies, LiftOptions)> = vec![
        ("no data at all", LiftTallies::default(), options),
        (
            "a small program: not enough data yet",
            LiftTallies {
                treatment: group(180, 14, 1, 0),
                holdout: holdout(group(20, 1, 1, 0)),
            },
            options,
        ),
        (
            "no referrer in the holdout yet",
            LiftTallies {
                treatment: group(900, 40, 2, 1),
                holdout: holdout(group(100, 0, 0, 0)),
            },
            options,
        ),
        (
            "asking works",
            LiftTallies {
                treatment: group(9_000, 1_260, 2, 1),
                holdout: holdout(group(1_000, 80, 1, 1)),
            },
            options,
        ),
        (
            "asking does harm",
            LiftTallies {
                treatment: group(9_000, 450, 1, 0),
                holdout: holdout(group(1_000, 100, 1, 0)),
            },
            options,
        ),
        (
            "enough users, no lift",
            LiftTallies {
                treatment: group(90_000, 9_000, 1, 0),
                holdout: holdout(group(10_000, 1_000, 1, 0)),
            },
            options,
        ),
        (
            "a 20 % holdout and a smaller lift to detect",
            LiftTallies {
                treatment: group(4_000, 220, 3, 1),
                holdout: holdout(group(1_000, 50, 2, 1)),
            },
            LiftOptions {
                holdout_basis_points: 2_000,
                min_relative_lift: 0.1,
            },
        ),
        (
            "no holdout configured",
            LiftTallies {
                treatment: group(1_000, 50, 1, 0),
                holdout: GroupTally::default(),
            },
            LiftOptions {
                holdout_basis_points: 0,
                ..options
            },
        ),
    ];
    let mut out = Vec::new();
    for (name, tallies, options) in scripts {
        out.push(json!({
            "name": name,
            "tallies": tallies,
            "options": options,
            "report": lift(&tallies, &options),
        }));
    }
    // Per-user outcomes sum into the same tallies on every platform.
    let outcomes: Vec<UserOutcome> = (0..60u32)
        .map(|i| UserOutcome {
            holdout: i % 10 == 0,
            asked: i % 10 != 0 && i % 3 != 0,
            shared: i % 4 == 0,
            referred_signups: if i % 7 == 0 { i % 5 } else { 0 },
            referred_paid: if i % 14 == 0 { i % 3 } else { 0 },
        })
        .collect();
    let tallies = LiftTallies::from_outcomes(&outcomes);
    Ok(json!({
        "comment": "95 % intervals: Wilson per group, Newcombe's hybrid score for the difference \
                    of shares, the 0.5-adjusted log interval for their ratio, normal (Welch, z) \
                    for per-user means. Floats agree to 1e-9.",
        "cases": out,
        "outcomes": {
            "users": outcomes,
            "tallies": tallies,
            "report": lift(&tallies, &LiftOptions::default()),
        },
    }))
}
