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

fn generated(options: Options) -> (Vec<u8>, replay::generate::Summary) {
    let mut out = Vec::new();
    let summary = generate(&mut out, &options).unwrap();
    (out, summary)
}

fn run_with(bytes: &[u8], options: &replay::ReplayOptions) -> replay::Report {
    replay::replay_with(&config(), options, || {
        Ok(BufReader::new(Cursor::new(bytes.to_vec())))
    })
    .unwrap()
}

fn shuffle(bytes: &[u8]) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    let mut x: u64 = 987_654_321;
    for i in (1..lines.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        lines.swap(i, (x % (i as u64 + 1)) as usize);
    }
    lines.concat()
}

#[test]
fn one_log_in_four_formats_with_duplicates_decides_alike() {
    let config = config();
    let base = Options {
        events: 20_000,
        seed: 11,
        outcomes: Some(&config),
        ..Options::default()
    };
    let (native, _) = generated(base);
    let expected = run(&native);
    assert_eq!(expected.duplicates, 0);
    for format in replay::formats::Format::ALL {
        let (bytes, summary) = generated(Options {
            format: Some(format),
            duplicate_every: 100,
            ..base
        });
        assert_eq!(summary.lines, 20_000 + 200);
        for bytes in [bytes.clone(), shuffle(&bytes)] {
            let mut report = run(&bytes);
            assert_eq!(report.duplicates, 200, "{format:?}");
            assert_eq!(report.formats.get(format.as_str()), Some(&20_000));
            report.formats = expected.formats.clone();
            report.duplicates = 0;
            report.lines = expected.lines;
            report.mode = expected.mode.clone();
            assert_eq!(report, expected, "{format:?}");
        }
    }
}

#[test]
fn a_log_with_answers_is_its_own_response_model() {
    let config = config();
    let (bytes, summary) = generated(Options {
        events: 50_000,
        seed: 5,
        outcomes: Some(&config),
        ..Options::default()
    });
    let report = run(&bytes);
    // The generator ran the engine and wrote its users' answers: replaying
    // them makes exactly the asks it made.
    assert_eq!(report.asks, summary.asks);
    assert!(report.answers_in_log > 0);
    assert_eq!(
        report.dismissals + report.opt_outs + report.shares,
        report.answers_in_log
    );
    assert!(report.dismissals > report.shares && report.shares > report.opt_outs);
    assert!(report.deferred_asks > 0, "{report:?}");
    assert_eq!(report.asks_during_onboarding, 0);
    assert_eq!(report.asks_within_friction_window, 0);
    // Lift: the log has referral outcomes, and asking works in it (the
    // verdict needs more users than this test has: see the README's run).
    let lift = report.lift.as_ref().expect("lift");
    assert!(lift.holdout.tally.users > 0 && lift.treatment.tally.users > 0);
    assert_eq!(lift.holdout.tally.asked, 0);
    let difference = lift.referrer_rate.expect("both groups").absolute;
    assert!(difference.estimate > 0.0, "{}", lift.summary);
    assert!(report.to_text().contains("Lift against the holdout"));

    // Without a model the dismissals and opt-outs never happen: more asks.
    let off = run_with(
        &bytes,
        &replay::ReplayOptions {
            responses: replay::Responses::Off,
            ..Default::default()
        },
    );
    assert!(off.asks > report.asks, "{} <= {}", off.asks, report.asks);
    assert_eq!(off.dismissals + off.opt_outs + off.shares, 0);

    // Rates are only for logs without answers: this one answers itself.
    let rates = run_with(
        &bytes,
        &replay::ReplayOptions {
            responses: replay::Responses::Auto {
                rates: Some(replay::responses::Rates::new(0.1, 0.5, 0.1, 3).unwrap()),
            },
            ..Default::default()
        },
    );
    assert_eq!(rates, report);
}

#[test]
fn rates_answer_deterministically_whatever_the_order() {
    let bytes = log(30_000, 0, false);
    let with = |seed: u64, bytes: &[u8]| {
        run_with(
            bytes,
            &replay::ReplayOptions {
                responses: replay::Responses::Auto {
                    rates: Some(replay::responses::Rates::new(0.55, 0.07, 0.13, seed).unwrap()),
                },
                ..Default::default()
            },
        )
    };
    let a = with(1, &bytes);
    assert!(a.response_model.starts_with("simulated"));
    assert_eq!(a, with(1, &bytes));
    let mut shuffled = with(1, &shuffle(&bytes));
    assert_eq!(shuffled.mode, "sorted in memory");
    shuffled.mode = a.mode.clone();
    assert_eq!(shuffled, a);
    assert_ne!(a, with(2, &bytes));

    let none = run(&bytes);
    assert!(none.response_model.starts_with("none"));
    assert_eq!(none.dismissals + none.opt_outs + none.shares, 0);
    assert!(a.asks < none.asks, "{} >= {}", a.asks, none.asks);
    let answered = (a.dismissals + a.opt_outs + a.shares) as f64 / a.asks as f64;
    assert!((answered - 0.75).abs() < 0.05, "{answered}");
    assert!(a.quiet_by_reason.get("opted_out").copied().unwrap_or(0) > 0);
    // No referral outcomes in this log: no lift section.
    assert!(a.lift.is_none());
    assert!(!a.to_text().contains("Lift against"));
}
