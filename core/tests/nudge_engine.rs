//! The nudge engine: configuration errors, each quiet reason, and the
//! invariants over random event streams.

use proptest::prelude::*;
use referral_core::nudge::{
    evaluate, in_holdout, record, Decision, Event, NudgeConfig, NudgeState, Outcome, QuietReason,
};

const DAY: u64 = 86_400;
const T0: u64 = 1_780_000_000;

fn config() -> NudgeConfig {
    NudgeConfig::from_toml(include_str!("../../examples/nudge/config.toml"))
        .expect("example config loads")
}

fn config_without_holdout() -> NudgeConfig {
    let mut c = config();
    c.experiment = None;
    c
}

/// A user past signup and onboarding, old enough to be asked.
fn onboarded(config: &NudgeConfig, user: &str) -> NudgeState {
    let mut state = NudgeState::new(user);
    evaluate(config, &mut state, &Event::new("signup"), T0);
    evaluate(
        config,
        &mut state,
        &Event::new("onboarding_completed"),
        T0 + 3600,
    );
    state
}

#[test]
fn the_example_configs_load_from_toml_and_json_alike() {
    let toml = config();
    let json = serde_json::to_string(&toml).unwrap();
    assert_eq!(NudgeConfig::from_json(&json).unwrap(), toml);
}

#[test]
fn bad_configuration_is_rejected_at_load_naming_the_field() {
    let base = serde_json::to_value(config()).unwrap();
    type Mutation = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Mutation, &str)> = vec![
        (
            "unknown operator",
            Box::new(|c| c["moments"][3]["when"][0]["op"] = "greater".into()),
            "moments[3].when[0].op",
        ),
        (
            "negative window",
            Box::new(|c| c["suppression"]["cooldown_after_shown"] = "-3d".into()),
            "suppression.cooldown_after_shown",
        ),
        (
            "negative seconds",
            Box::new(|c| c["suppression"]["friction_window"] = (-60).into()),
            "suppression.friction_window",
        ),
        (
            "unknown placeholder",
            Box::new(|c| c["moments"][0]["message"] = "Hi {first_name}".into()),
            "moments[0].message",
        ),
        (
            "duplicate moment",
            Box::new(|c| c["moments"][1]["name"] = "first_report".into()),
            "moments[1].name",
        ),
        (
            "unknown field",
            Box::new(|c| c["suppression"]["cooldown"] = "3d".into()),
            "suppression.cooldown",
        ),
        (
            "one_of without list",
            Box::new(|c| {
                c["moments"][3]["when"][0] =
                    serde_json::json!({"property": "score", "op": "one_of", "value": 9})
            }),
            "moments[3].when[0].value",
        ),
        (
            "zero occurrence",
            Box::new(|c| c["moments"][0]["occurrence"] = 0.into()),
            "moments[0].occurrence",
        ),
        (
            "cap too high",
            Box::new(|c| c["suppression"]["max_asks_per_30_days"] = 99.into()),
            "suppression.max_asks_per_30_days",
        ),
        (
            "holdout over 100%",
            Box::new(|c| c["experiment"]["holdout_basis_points"] = 10_001.into()),
            "experiment.holdout_basis_points",
        ),
    ];
    for (name, mutate, field) in cases {
        let mut value = base.clone();
        mutate(&mut value);
        let error = NudgeConfig::from_json(&value.to_string()).expect_err(name);
        assert_eq!(error.field, field, "{name}: {error}");
        assert_eq!(error.reason(), "invalid_nudge_config");
    }
    let toml_error =
        NudgeConfig::from_toml("[[moments]]\nname = \"a\"\nevent = \"e\"\nmessage = \"{nope}\"\n")
            .unwrap_err();
    assert_eq!(toml_error.field, "moments[0].message", "{toml_error}");
}

#[test]
fn onboarding_then_success_moment_asks_with_the_rendered_message() {
    let config = config_without_holdout();
    let mut state = NudgeState::new("u-1");
    evaluate(&config, &mut state, &Event::new("signup"), T0);
    let during = evaluate(
        &config,
        &mut state,
        &Event::new("report_generated"),
        T0 + 600,
    );
    assert_eq!(
        during,
        Decision::Quiet {
            reason: QuietReason::Onboarding
        }
    );
    evaluate(
        &config,
        &mut state,
        &Event::new("onboarding_completed"),
        T0 + 3600,
    );
    // Too young an account: min_account_age is a day.
    let young = evaluate(
        &config,
        &mut state,
        &Event::new("integration_connected"),
        T0 + 7200,
    );
    assert_eq!(young.reason(), "not_eligible");
    let decision = evaluate(
        &config,
        &mut state,
        &Event::new("integration_connected"),
        T0 + DAY + 1,
    );
    let Decision::Ask(ask) = decision else {
        panic!("expected an ask, got {decision:?}")
    };
    assert_eq!(ask.moment, "integration_connected");
    assert_eq!(
        ask.message,
        "Connected! Teams who invite a peer get more out of Acme Analytics."
    );
    assert_eq!(ask.why.event, "integration_connected");
}

#[test]
fn friction_suppresses_for_its_window() {
    let config = config_without_holdout();
    let mut state = onboarded(&config, "u-2");
    let t = T0 + 2 * DAY;
    evaluate(&config, &mut state, &Event::new("integration_failed"), t);
    let decision = evaluate(&config, &mut state, &Event::new("seat_added"), t + 3600);
    assert_eq!(
        decision,
        Decision::Quiet {
            reason: QuietReason::RecentFriction {
                event: "integration_failed".into(),
                seconds_ago: 3600
            }
        }
    );
    assert!(evaluate(&config, &mut state, &Event::new("seat_added"), t + DAY).is_ask());
}

#[test]
fn cooldowns_dismissal_cap_and_opt_out() {
    let config = config_without_holdout();
    let mut state = onboarded(&config, "u-3");
    let t = T0 + 2 * DAY;
    assert!(evaluate(&config, &mut state, &Event::new("seat_added"), t).is_ask());
    assert_eq!(
        evaluate(&config, &mut state, &Event::new("seat_added"), t + DAY),
        Decision::Quiet {
            reason: QuietReason::Cooldown { until: t + 3 * DAY }
        }
    );
    record(&mut state, Outcome::Dismissed, t + 60);
    assert_eq!(
        evaluate(&config, &mut state, &Event::new("seat_added"), t + 4 * DAY),
        Decision::Quiet {
            reason: QuietReason::Cooldown {
                until: t + 60 + 14 * DAY
            }
        }
    );
    assert!(evaluate(&config, &mut state, &Event::new("seat_added"), t + 15 * DAY).is_ask());
    // Two asks in 30 days: the cap (2) is reached.
    assert_eq!(
        evaluate(&config, &mut state, &Event::new("seat_added"), t + 19 * DAY),
        Decision::Quiet {
            reason: QuietReason::CapReached {
                until: t + 30 * DAY
            }
        }
    );
    record(&mut state, Outcome::OptedOut, t + 19 * DAY);
    for day in [31, 60, 400] {
        assert_eq!(
            evaluate(
                &config,
                &mut state,
                &Event::new("seat_added"),
                t + day * DAY
            ),
            Decision::Quiet {
                reason: QuietReason::OptedOut
            }
        );
    }
}

#[test]
fn nth_occurrence_and_property_predicates() {
    let config = config_without_holdout();
    let mut state = onboarded(&config, "u-4");
    let t = T0 + 2 * DAY;
    let report = Event::new("report_generated");
    assert_eq!(evaluate(&config, &mut state, &report, t).reason(), "ask"); // 1st: first_report
    assert_eq!(
        evaluate(&config, &mut state, &report, t + 4 * DAY).reason(),
        "no_matching_moment"
    ); // 2nd
    let third = evaluate(&config, &mut state, &report, t + 8 * DAY);
    assert!(
        matches!(&third, Decision::Ask(a) if a.moment == "third_report" && a.why.occurrence == 3),
        "{third:?}"
    );
    let detractor = Event::new("nps_submitted").with("score", 6);
    assert_eq!(
        evaluate(&config, &mut state, &detractor, t + 40 * DAY).reason(),
        "no_matching_moment"
    );
    let promoter = Event::new("nps_submitted").with("score", 10);
    let decision = evaluate(&config, &mut state, &promoter, t + 40 * DAY);
    assert!(
        matches!(&decision, Decision::Ask(a) if a.moment == "nps_promoter" && a.message.starts_with("Thanks for the {9+}!")),
        "{decision:?}"
    );
}

#[test]
fn cancel_flow_may_ask_inside_a_cooldown_but_never_after_opt_out() {
    let config = config_without_holdout();
    let mut state = onboarded(&config, "u-5");
    let t = T0 + 2 * DAY;
    assert!(evaluate(&config, &mut state, &Event::new("seat_added"), t).is_ask());
    let decision = evaluate(&config, &mut state, &Event::new("cancel_started"), t + 3600);
    let Decision::Ask(ask) = decision else {
        panic!("{decision:?}")
    };
    assert_eq!(ask.moment, "cancel_flow");
    assert_eq!(ask.why.bypassed, vec!["cooldown".to_owned()]);
    record(&mut state, Outcome::OptedOut, t + 7200);
    assert_eq!(
        evaluate(
            &config,
            &mut state,
            &Event::new("cancel_started"),
            t + 9 * DAY
        )
        .reason(),
        "opted_out"
    );
}

#[test]
fn holdout_users_are_never_asked_and_assignment_is_stable() {
    let config = config();
    let users: Vec<String> = (0..2000).map(|i| format!("user-{i}")).collect();
    let held: Vec<&String> = users.iter().filter(|u| in_holdout(&config, u)).collect();
    // 10% holdout: expect about 200 of 2000.
    assert!(
        (150..250).contains(&held.len()),
        "{} in holdout",
        held.len()
    );
    for user in held.iter().take(20) {
        let mut state = onboarded(&config, user);
        assert_eq!(
            evaluate(&config, &mut state, &Event::new("seat_added"), T0 + 2 * DAY).reason(),
            "holdout"
        );
    }
    // Variants: both arms of first_report are used, each user always the same.
    let mut arms = std::collections::BTreeSet::new();
    for user in users.iter().filter(|u| !in_holdout(&config, u)).take(50) {
        let decide = || {
            let mut state = onboarded(&config, user);
            evaluate(
                &config,
                &mut state,
                &Event::new("report_generated"),
                T0 + 2 * DAY,
            )
        };
        let (a, b) = (decide(), decide());
        assert_eq!(a, b);
        if let Decision::Ask(ask) = a {
            arms.insert(ask.variant);
        }
    }
    assert_eq!(
        arms.into_iter().collect::<Vec<_>>(),
        vec!["control".to_owned(), "short".to_owned()]
    );
}

#[test]
fn state_stays_bounded() {
    let config = config_without_holdout();
    let mut state = onboarded(&config, "a-user-with-a-long-but-ordinary-id-000000000001");
    let names = [
        "report_generated",
        "error",
        "seat_added",
        "page_view",
        "integration_failed",
        "nps_submitted",
    ];
    let mut t = T0 + 2 * DAY;
    let mut largest = 0;
    for i in 0..100_000u64 {
        t += 300 + (i % 7) * 600;
        let decision = evaluate(
            &config,
            &mut state,
            &Event::new(names[(i % 6) as usize]).with("score", (i % 11) as i64),
            t,
        );
        if decision.is_ask() && i % 3 == 0 {
            record(&mut state, Outcome::Dismissed, t);
        }
        largest = largest.max(state.to_json().len());
    }
    // Fixed fields + 4 friction marks + ≤16 ask times + one counter per moment event.
    assert!(largest <= 1024, "state grew to {largest} bytes");
    println!(
        "largest state over 100k events: {largest} bytes: {}",
        state.to_json()
    );
}

fn arbitrary_event() -> impl Strategy<Value = (Event, u64, Option<Outcome>)> {
    let names = prop::sample::select(vec![
        "signup",
        "onboarding_completed",
        "report_generated",
        "integration_connected",
        "nps_submitted",
        "seat_added",
        "cancel_started",
        "error",
        "integration_failed",
        "payment_failed",
        "page_view",
    ]);
    let outcomes = prop::option::of(prop::sample::select(vec![
        Outcome::Shown,
        Outcome::Dismissed,
        Outcome::OptedOut,
        Outcome::Shared,
        Outcome::Referred,
    ]));
    (names, 0i64..11, 0u64..(5 * DAY), outcomes, 0u8..10).prop_map(
        |(name, score, gap, outcome, p)| {
            // Outcomes are rare, as they are for real users.
            (
                Event::new(name).with("score", score),
                gap,
                outcome.filter(|_| p == 0),
            )
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn invariants_over_random_event_streams(
        user in "[a-z0-9]{1,12}",
        events in prop::collection::vec(arbitrary_event(), 1..150),
    ) {
        let config = config();
        let suppression = &config.suppression;
        let mut state = NudgeState::new(&user);
        let mut replay = NudgeState::new(&user);
        let mut now = T0;
        let mut last_ask: Option<u64> = None;
        let mut last_dismiss: Option<u64> = None;
        let mut opted_out = false;
        let mut last_friction: Option<u64> = None;
        let mut onboarding_done = false;
        for (event, gap, outcome) in events {
            now += gap;
            let before = state.clone();
            let decision = evaluate(&config, &mut state, &event, now);
            // Determinism: the same inputs give the same decision and state.
            let again = evaluate(&config, &mut replay, &event, now);
            prop_assert_eq!(&decision, &again);
            prop_assert_eq!(&state, &replay);
            let mut before_again = before.clone();
            prop_assert_eq!(evaluate(&config, &mut before_again, &event, now), decision.clone());

            if event.name == "onboarding_completed" { onboarding_done = true; }
            if suppression.friction_events.contains(&event.name) { last_friction = Some(now); }
            if let Decision::Ask(ask) = &decision {
                let cancel = ask.moment == "cancel_flow";
                prop_assert!(!opted_out, "asked after opt-out");
                prop_assert!(!in_holdout(&config, &user), "asked a holdout user");
                prop_assert!(onboarding_done, "asked during onboarding");
                if let Some(f) = last_friction {
                    prop_assert!(now - f >= suppression.friction_window.secs(), "asked {}s after friction", now - f);
                }
                if !cancel {
                    if let Some(a) = last_ask {
                        prop_assert!(now - a >= suppression.cooldown_after_shown.secs(), "two asks {}s apart", now - a);
                    }
                    if let Some(d) = last_dismiss {
                        prop_assert!(now - d >= suppression.cooldown_after_dismissed.secs());
                    }
                }
                last_ask = Some(now);
            }
            if let Some(outcome) = outcome {
                record(&mut state, outcome, now);
                record(&mut replay, outcome, now);
                match outcome {
                    Outcome::OptedOut => opted_out = true,
                    Outcome::Dismissed => last_dismiss = Some(now),
                    Outcome::Shown => last_ask = Some(last_ask.map_or(now, |a| a.max(now))),
                    _ => {}
                }
            }
        }
    }
}

/// The example config ships German and Arabic for every moment and variant,
/// and an event's locale picks them (region falls back to the language).
#[test]
fn example_config_speaks_german_and_arabic() {
    let config = config();
    for moment in &config.moments {
        let tags: Vec<&str> = moment.messages.iter().map(|(t, _)| t).collect();
        assert_eq!(tags, ["de", "ar"], "{}", moment.name);
        for variant in &moment.variants {
            let tags: Vec<&str> = variant.messages.iter().map(|(t, _)| t).collect();
            assert_eq!(tags, ["de", "ar"], "{}/{}", moment.name, variant.name);
        }
    }
    let mut config = config;
    config.experiment = None;
    let ask = |locale: Option<&str>| {
        let mut state = NudgeState::new("u");
        state.profile.signed_up_at = Some(0);
        state.profile.onboarding_completed_at = Some(0);
        let mut event = Event::new("seat_added");
        event.locale = locale.map(str::to_owned);
        match evaluate(&config, &mut state, &event, 10 * 86_400) {
            Decision::Ask(ask) => (ask.locale, ask.message),
            quiet => panic!("{quiet:?}"),
        }
    };
    assert_eq!(ask(None).0, None);
    assert!(ask(None).1.starts_with("Your team is growing"));
    assert_eq!(ask(Some("de-DE")).0.as_deref(), Some("de"));
    assert!(ask(Some("de-DE")).1.starts_with("Ihr Team wächst"));
    assert_eq!(ask(Some("ar-EG")).0.as_deref(), Some("ar"));
    assert_eq!(ask(Some("ja")), ask(None));
}
