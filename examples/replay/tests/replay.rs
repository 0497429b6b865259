//! Replay over generated logs: sorted and shuffled give the same report,
//! malformed lines are counted with their numbers, and the engine's promises
//! (no asks in onboarding or the friction window) hold.

use std::io::{BufReader, Cursor};

use referral_core::nudge::NudgeConfig;
use replay::generate::{generate, Options};

fn config() -> NudgeConfig {
    NudgeConfig::from_toml(include_str!("../../nudge/config.toml")).unwrap()
}

fn log(events: u64, malformed_every: u64, iso: bool) -> Vec<u8> {
    let mut out = Vec::new();
    generate(
        &mut out,
        &Options {
            events,
            seed: 7,
            iso_timestamps: iso,
            malformed_every,
            ..Options::default()
        },
    )
    .unwrap();
    out
}

fn run(bytes: &[u8]) -> replay::Report {
    replay::replay(&config(), || {
        Ok(BufReader::new(Cursor::new(bytes.to_vec())))
    })
    .unwrap()
}

#[test]
fn a_realistic_log_asks_without_breaking_any_rule() {
    let report = run(&log(50_000, 0, false));
    assert_eq!(report.mode, "streamed");
    assert_eq!(report.events, 50_000);
    assert!(report.asks > 100, "{report:?}");
    assert!(report.users_asked > 0 && report.users_asked < report.users);
    for reason in [
        "onboarding",
        "cooldown",
        "holdout",
        "recent_friction",
        "no_matching_moment",
    ] {
        assert!(
            report.quiet_by_reason.get(reason).copied().unwrap_or(0) > 0,
            "no {reason} in {report:?}"
        );
    }
    assert_eq!(report.asks_during_onboarding, 0);
    assert_eq!(report.asks_within_friction_window, 0);
    assert!(report.asks_by_variant.contains_key("first_report/short"));
}

#[test]
fn shuffled_logs_give_the_same_report() {
    let sorted = log(20_000, 0, false);
    let mut lines: Vec<&[u8]> = sorted.split_inclusive(|b| *b == b'\n').collect();
    // A deterministic shuffle.
    let mut x: u64 = 12345;
    for i in (1..lines.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        lines.swap(i, (x % (i as u64 + 1)) as usize);
    }
    let shuffled: Vec<u8> = lines.concat();
    let a = run(&sorted);
    let mut b = run(&shuffled);
    assert_eq!(b.mode, "sorted in memory");
    b.mode = a.mode.clone();
    assert_eq!(a, b);
}

#[test]
fn iso_timestamps_decide_like_unix_seconds() {
    let mut a = run(&log(10_000, 0, false));
    let b = run(&log(10_000, 0, true));
    a.mode = b.mode.clone();
    assert_eq!(a, b);
}

#[test]
fn malformed_lines_are_counted_with_line_numbers_and_never_abort() {
    let mut bytes = log(5_000, 1_000, false);
    bytes.extend_from_slice(
        b"not json at all\n{\"user\":\"u1\",\"event\":\"x\",\"timestamp\":\"yesterday\"}\n\n",
    );
    let report = run(&bytes);
    assert_eq!(report.events, 5_000);
    assert_eq!(report.malformed_lines, 5 + 2);
    assert_eq!(report.malformed_examples[0].0, 1_001);
    let last = report.malformed_examples.last().unwrap();
    assert!(last.1.contains("RFC 3339"), "{last:?}");
    assert!(report.to_text().contains("line 1001:"));
}
