//! The shipped samples (`samples/*.jsonl`: one story in four formats, see
//! `samples/make_samples.py`) give the same decisions in every format.

use std::io::{BufReader, Cursor};

use referral_core::nudge::NudgeConfig;
use replay::formats::Format;
use replay::{ReplayOptions, Report, Responses};

fn config() -> NudgeConfig {
    NudgeConfig::from_toml(include_str!("../../nudge/config.toml")).unwrap()
}

const SAMPLES: [(Format, &str); 4] = [
    (Format::Native, include_str!("../samples/native.jsonl")),
    (Format::Segment, include_str!("../samples/segment.jsonl")),
    (
        Format::Amplitude,
        include_str!("../samples/amplitude.jsonl"),
    ),
    (Format::Mixpanel, include_str!("../samples/mixpanel.jsonl")),
];

fn run(text: &str, options: &ReplayOptions) -> Report {
    replay::replay_with(&config(), options, || {
        Ok(BufReader::new(Cursor::new(text.as_bytes().to_vec())))
    })
    .unwrap()
}

/// The report without what only says which format the lines were in.
fn decisions(mut report: Report) -> Report {
    report.formats.clear();
    report.skipped_lines.clear();
    report.lines = 0;
    report
}

#[test]
fn each_sample_is_detected_deduplicated_and_decided_alike() {
    let native = run(SAMPLES[0].1, &ReplayOptions::default());
    for (format, text) in SAMPLES {
        for forced in [None, Some(format)] {
            let report = run(
                text,
                &ReplayOptions {
                    format: forced,
                    ..ReplayOptions::default()
                },
            );
            assert_eq!(report.malformed_lines, 0, "{format:?}: {report:?}");
            assert_eq!(
                report.formats.get(format.as_str()).copied(),
                Some(report.events),
                "{format:?}"
            );
            assert_eq!(report.duplicates, 2, "{format:?}");
            assert_eq!(report.mode, "streamed");
            assert_eq!(
                decisions(report),
                decisions(run(SAMPLES[0].1, &ReplayOptions::default()))
            );
        }
    }
    let segment = run(SAMPLES[1].1, &ReplayOptions::default());
    assert_eq!(segment.skipped_lines.get("segment identify"), Some(&2));
    assert_eq!(segment.skipped_lines.get("segment page"), Some(&2));

    // The story's decisions (see make_samples.py).
    assert_eq!(native.users, 5);
    assert_eq!(native.events, 33);
    assert_eq!(native.asks, 4);
    assert_eq!(native.deferred_asks, 2);
    assert_eq!(native.deferred_by_rule.get("onboarding"), Some(&1));
    assert_eq!(native.deferred_by_rule.get("recent_friction"), Some(&1));
    assert_eq!(native.asks_by_moment.get("nps_promoter"), Some(&1));
    // dee's second report was delivered twice: her third is not there yet.
    assert_eq!(native.asks_by_moment.get("third_report"), None);
    assert_eq!(
        (
            native.dismissals,
            native.opt_outs,
            native.shares,
            native.other_shares
        ),
        (1, 1, 1, 1)
    );
    assert_eq!((native.referred_signups, native.referred_paid), (2, 1));
    assert_eq!(native.quiet_by_reason.get("opted_out"), Some(&1));
    assert_eq!(native.asks_during_onboarding, 0);
    assert_eq!(native.asks_within_friction_window, 0);
    let lift = native
        .lift
        .as_ref()
        .expect("the samples carry referral outcomes");
    assert_eq!(
        (lift.treatment.tally.users, lift.holdout.tally.users),
        (3, 2)
    );
    assert_eq!(lift.verdict.code(), "not_enough_data");
    assert!(native.to_text().contains("Lift against the holdout"));
}

#[test]
fn without_dedupe_the_duplicate_report_would_be_the_third() {
    // The same native sample with the ids taken away: the duplicate counts.
    let without_ids: String = SAMPLES[0]
        .1
        .lines()
        .map(|line| {
            let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
            value.as_object_mut().unwrap().remove("id");
            value.to_string() + "\n"
        })
        .collect();
    let report = run(&without_ids, &ReplayOptions::default());
    assert_eq!(report.duplicates, 0);
    assert_eq!(report.asks_by_moment.get("third_report"), Some(&1));
}

#[test]
fn answers_in_the_log_mean_fewer_asks_than_no_model() {
    let with = run(SAMPLES[0].1, &ReplayOptions::default());
    let without = run(
        SAMPLES[0].1,
        &ReplayOptions {
            responses: Responses::Off,
            ..ReplayOptions::default()
        },
    );
    // ben's "not now" keeps his third report inside the 14-day cooldown;
    // eve's opt-out keeps her NPS 9 from being asked.
    assert_eq!(with.asks, 4);
    assert_eq!(without.asks, 6);
    assert_eq!(without.asks_by_moment.get("third_report"), Some(&1));
    assert_eq!(without.quiet_by_reason.get("opted_out"), None);
    assert_eq!((without.dismissals, without.opt_outs), (0, 0));
    assert_eq!(without.answers_in_log, 3);
    assert!(without.response_model.starts_with("none"));
}

#[test]
fn an_unknown_line_is_malformed_with_its_number() {
    let text = format!("{}{{\"event\":\"x\",\"properties\":{{}}}}\n", SAMPLES[0].1);
    let report = run(&text, &ReplayOptions::default());
    assert_eq!(report.malformed_lines, 1);
    assert_eq!(report.malformed_examples[0].0, 36);
    assert!(report.malformed_examples[0].1.contains("not an event line"));
}
