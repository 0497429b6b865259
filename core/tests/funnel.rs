// Helpers outside #[test] functions unwrap too: a failure is a failing test.
#![allow(clippy::unwrap_used)]
use referral_core::funnel::{funnel, Customer, FunnelEvent, Stage};

fn ev(stage: Stage, at: u64, referrer: &str, channel: Option<&str>) -> FunnelEvent {
    FunnelEvent {
        stage,
        at,
        referrer: referrer.into(),
        channel: channel.map(Into::into),
        moment: Some("first_report".into()),
        program: Some(7),
    }
}

#[test]
fn counts_conversions_rates_and_time_to_first_referral() {
    let mut events = Vec::new();
    for i in 0..10 {
        events.push(ev(Stage::Impression, 100 + i, "anna", None));
    }
    for i in 0..4 {
        events.push(ev(Stage::Share, 200 + i, "anna", Some("email")));
    }
    events.push(ev(Stage::Share, 210, "bo", Some("x")));
    events.push(ev(Stage::Click, 300, "anna", Some("email")));
    events.push(ev(Stage::Click, 301, "anna", Some("email")));
    events.push(ev(Stage::Signup, 5_000, "anna", Some("email")));
    events.push(ev(Stage::Signup, 4_000, "anna", Some("email")));
    events.push(ev(Stage::Paid, 9_000, "anna", Some("email")));
    events.push(ev(Stage::Reward, 9_100, "anna", Some("email")));
    let customers = vec![
        Customer {
            account: "anna".into(),
            since: 1_000,
            active: true,
        },
        Customer {
            account: "bo".into(),
            since: 50,
            active: true,
        },
        Customer {
            account: "cy".into(),
            since: 50,
            active: true,
        },
        Customer {
            account: "dee".into(),
            since: 50,
            active: false,
        },
    ];
    let report = funnel(&events, &customers);
    assert_eq!(report.total.counts[&Stage::Impression], 10);
    assert_eq!(report.total.conversion_bp[&Stage::Share], 5_000); // 5 shares / 10 impressions
    assert_eq!(report.total.conversion_bp[&Stage::Click], 4_000); // 2 / 5
    assert_eq!(report.total.conversion_bp[&Stage::Signup], 10_000);
    assert_eq!(
        report.total.conversion_bp.get(&Stage::Paid),
        None,
        "no trials, no activations: no rate from zero"
    );
    assert_eq!(report.by_channel["email"].counts[&Stage::Share], 4);
    assert_eq!(report.by_channel["x"].counts[&Stage::Share], 1);
    assert_eq!(report.by_referrer["anna"].counts[&Stage::Signup], 2);
    assert_eq!(report.by_program[&7].counts[&Stage::Reward], 1);
    assert_eq!(report.by_moment["first_report"].counts[&Stage::Click], 2);
    assert_eq!(
        (
            report.active_customers,
            report.referring_customers,
            report.referral_rate_bp
        ),
        (3, 2, 6_666)
    );
    assert_eq!(report.time_to_first_referral_median_secs, Some(3_000));
}

#[test]
fn empty_inputs_are_zero_not_errors() {
    let report = funnel(&[], &[]);
    assert_eq!(report.referral_rate_bp, 0);
    assert_eq!(report.time_to_first_referral_median_secs, None);
}

#[test]
fn delays_are_bucketed_to_two_significant_digits() {
    use referral_core::funnel::{delay_bucket, histogram_percentile};
    assert_eq!(delay_bucket(0), 0);
    assert_eq!(delay_bucket(99), 99);
    assert_eq!(delay_bucket(100), 100);
    assert_eq!(delay_bucket(86_399), 86_000);
    assert_eq!(delay_bucket(u64::MAX), 18_000_000_000_000_000_000);
    for secs in [1u64, 57, 101, 999, 1_000_001, 123_456_789] {
        let bucket = delay_bucket(secs);
        assert!(
            bucket <= secs && secs - bucket <= secs / 10,
            "{secs} → {bucket}"
        );
    }
    assert_eq!(histogram_percentile(&[], 50), None);
    // Ranks 0..=9 over buckets 10 (×3), 20 (×5), 30 (×2).
    let histogram = [(10, 3), (20, 5), (30, 2)];
    assert_eq!(histogram_percentile(&histogram, 0), Some(10));
    assert_eq!(histogram_percentile(&histogram, 50), Some(20));
    assert_eq!(histogram_percentile(&histogram, 90), Some(30));
    assert_eq!(histogram_percentile(&histogram, 100), Some(30));
}

#[test]
fn unknown_channels_and_moments_are_counted_as_other() {
    use referral_core::funnel::{funnel_channel, funnel_moment, OTHER};
    use referral_core::nudge::NudgeConfig;
    let config = NudgeConfig::from_toml(include_str!("../../examples/nudge/config.toml")).unwrap();
    let first = config.moments[0].name.clone();
    assert_eq!(funnel_moment(&first, &config), first);
    assert_eq!(funnel_moment("made-up-moment", &config), OTHER);
    assert_eq!(funnel_channel("email"), "email");
    assert_eq!(funnel_channel("x9"), OTHER);
}
