//! The nudge engine: configuration errors, each quiet reason, and the
//! invariants over random event streams.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use referral_core::nudge::{
    evaluate, in_holdout, merge_states, record, Decision, Deferral, Event, NudgeConfig, NudgeState,
    Outcome, Pending, QuietReason,
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
    // The first report, held back by onboarding, waited (`defer_within`
    // 72h) and outranks the integration: it is asked now.
    assert_eq!(ask.moment, "first_report");
    assert_eq!(
        ask.message,
        "Your first report is ready! Know someone who'd like Acme Analytics? You both get a month free."
    );
    assert_eq!(ask.why.event, "report_generated");
    assert_eq!(ask.why.occurrence, 1);
    assert_eq!(
        ask.why.deferred,
        Some(Deferral {
            since: T0 + 600,
            held_by: "onboarding".into(),
            asked_on: "integration_connected".into(),
        })
    );
    assert_eq!(state.pending, None);
    // Without the deferral, the integration's own moment asks.
    let mut plain = config_without_holdout();
    plain.moments.iter_mut().for_each(|m| m.defer_within = None);
    let mut state = NudgeState::new("u-1");
    for (name, at) in [
        ("signup", T0),
        ("report_generated", T0 + 600),
        ("onboarding_completed", T0 + 3600),
    ] {
        evaluate(&plain, &mut state, &Event::new(name), at);
    }
    let decision = evaluate(
        &plain,
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
    assert_eq!(ask.why.deferred, None);
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

/// Plays `events` for `user` and checks every promise at every ask;
/// returns how many asks were deferred ones.
fn check_stream(
    config: &NudgeConfig,
    user: &str,
    events: Vec<(Event, u64, Option<Outcome>)>,
) -> Result<usize, TestCaseError> {
    let suppression = &config.suppression;
    let mut state = NudgeState::new(user);
    let mut replay = NudgeState::new(user);
    let mut now = T0;
    let mut last_ask: Option<u64> = None;
    let mut last_dismiss: Option<u64> = None;
    let mut opted_out = false;
    let mut last_friction: Option<u64> = None;
    let mut onboarding_done = false;
    let mut deferred = 0;
    for (event, gap, outcome) in events {
        now += gap;
        let before = state.clone();
        let decision = evaluate(config, &mut state, &event, now);
        // Determinism: the same inputs give the same decision and state.
        let again = evaluate(config, &mut replay, &event, now);
        prop_assert_eq!(&decision, &again);
        prop_assert_eq!(&state, &replay);
        let mut before_again = before.clone();
        prop_assert_eq!(
            evaluate(config, &mut before_again, &event, now),
            decision.clone()
        );

        if event.name == "onboarding_completed" {
            onboarding_done = true;
        }
        if suppression.friction_events.contains(&event.name) {
            last_friction = Some(now);
        }
        if let Decision::Ask(ask) = &decision {
            let cancel = ask.moment == "cancel_flow";
            prop_assert!(!opted_out, "asked after opt-out");
            prop_assert!(!in_holdout(config, user), "asked a holdout user");
            prop_assert!(onboarding_done, "asked during onboarding");
            if let Some(f) = last_friction {
                prop_assert!(
                    now - f >= suppression.friction_window.secs(),
                    "asked {}s after friction",
                    now - f
                );
            }
            if !cancel {
                if let Some(a) = last_ask {
                    prop_assert!(
                        now - a >= suppression.cooldown_after_shown.secs(),
                        "two asks {}s apart",
                        now - a
                    );
                }
                if let Some(d) = last_dismiss {
                    prop_assert!(now - d >= suppression.cooldown_after_dismissed.secs());
                }
            }
            // A deferred ask is asked inside its moment's window, for the
            // event that was held back, and no pending ask survives an ask.
            if let Some(deferral) = &ask.why.deferred {
                let moment = config
                    .moments
                    .iter()
                    .find(|m| m.name == ask.moment)
                    .unwrap();
                let window = moment
                    .defer_within
                    .expect("only moments that may wait defer");
                prop_assert!(deferral.since < now && now - deferral.since <= window.secs());
                prop_assert_eq!(&ask.why.event, &moment.event);
                prop_assert_eq!(&deferral.asked_on, &event.name);
                deferred += 1;
            }
            prop_assert!(state.pending.is_none());
            last_ask = Some(now);
        }
        // The pending ask is newer than every ask and inside its window.
        if let Some(p) = &state.pending {
            prop_assert!(state.asks.iter().all(|&t| t < p.at));
            prop_assert!(p.at <= now && now <= p.until);
            prop_assert!(
                !in_holdout(config, user),
                "a holdout user has a pending ask"
            );
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
    Ok(deferred)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn invariants_over_random_event_streams(
        user in "[a-z0-9]{1,12}",
        events in prop::collection::vec(arbitrary_event(), 1..150),
    ) {
        check_stream(&config(), &user, events)?;
    }
}

/// The random streams do exercise deferral: over many users, deferred asks
/// happen (so the checks above are not vacuous), and every promise holds.
#[test]
fn random_streams_defer_and_keep_every_promise() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let config = config();
    let mut runner = TestRunner::deterministic();
    let strategy = (
        "[a-z0-9]{1,12}",
        prop::collection::vec(arbitrary_event(), 50..150),
    );
    let mut deferred = 0;
    for _ in 0..300 {
        let (user, events) = strategy.new_tree(&mut runner).unwrap().current();
        deferred += check_stream(&config, &user, events).unwrap();
    }
    assert!(
        deferred >= 10,
        "only {deferred} deferred asks in 300 streams"
    );
}

#[test]
fn deferred_moments_wait_for_the_rule_to_clear() {
    let plain = config_without_holdout();
    let config = &plain;
    const HOUR: u64 = 3_600;
    // A promoter an hour after an error: held back by friction (24h),
    // asked at the first event after it, inside the 48h window.
    let mut state = onboarded(config, "u-nps");
    let t = T0 + 3 * DAY;
    evaluate(config, &mut state, &Event::new("error"), t);
    let nps = Event::new("nps_submitted").with("score", 10);
    let held = evaluate(config, &mut state, &nps, t + HOUR);
    assert_eq!(held.reason(), "recent_friction");
    let pending = state.pending.clone().expect("the promoter waits");
    assert_eq!(
        pending,
        Pending {
            at: t + HOUR,
            until: t + HOUR + 2 * DAY,
            moment: "nps_promoter".into(),
            event: "nps_submitted".into(),
            occurrence: 1,
            held_by: "recent_friction".into(),
        }
    );
    // Still inside the friction window: quiet, still waiting.
    let still = evaluate(config, &mut state, &Event::new("page_view"), t + 20 * HOUR);
    assert_eq!(still.reason(), "recent_friction");
    assert!(state.pending.is_some());
    let Decision::Ask(ask) = evaluate(config, &mut state, &Event::new("page_view"), t + 25 * HOUR)
    else {
        panic!("the promoter is asked once the friction clears")
    };
    assert_eq!(ask.moment, "nps_promoter");
    assert_eq!(ask.why.event, "nps_submitted");
    assert_eq!(
        ask.why.deferred,
        Some(Deferral {
            since: t + HOUR,
            held_by: "recent_friction".into(),
            asked_on: "page_view".into(),
        })
    );
    assert_eq!(state.pending, None);
    // Only once: the next event finds nothing waiting.
    let after = evaluate(config, &mut state, &Event::new("page_view"), t + 26 * HOUR);
    assert_eq!(after.reason(), "no_matching_moment");

    // Past the window: never asked, and the pending ask is gone.
    let mut state = onboarded(config, "u-late");
    evaluate(config, &mut state, &Event::new("error"), t);
    evaluate(config, &mut state, &nps, t + HOUR);
    let late = evaluate(
        config,
        &mut state,
        &Event::new("page_view"),
        t + HOUR + 2 * DAY + 1,
    );
    assert_eq!(late.reason(), "no_matching_moment");
    assert_eq!(state.pending, None);

    // An opt-out ends the wait.
    let mut state = onboarded(config, "u-out");
    evaluate(config, &mut state, &Event::new("error"), t);
    evaluate(config, &mut state, &nps, t + HOUR);
    record(&mut state, Outcome::OptedOut, t + 2 * HOUR);
    let out = evaluate(config, &mut state, &Event::new("page_view"), t + 25 * HOUR);
    assert_eq!(out.reason(), "opted_out");
    assert_eq!(state.pending, None);

    // Eligibility is not waited out: a moment held back by it is not kept.
    let mut young = NudgeState::new("u-young");
    evaluate(config, &mut young, &Event::new("signup"), T0);
    evaluate(
        config,
        &mut young,
        &Event::new("onboarding_completed"),
        T0 + HOUR,
    );
    let too_young = evaluate(config, &mut young, &nps, T0 + 2 * HOUR);
    assert_eq!(too_young.reason(), "not_eligible");
    assert_eq!(young.pending, None);

    // A moment without `defer_within` is not kept either.
    let mut state = onboarded(config, "u-seat");
    evaluate(config, &mut state, &Event::new("error"), t);
    evaluate(config, &mut state, &Event::new("seat_added"), t + HOUR);
    assert_eq!(state.pending, None);

    // At most one: a higher-priority moment replaces a waiting one, a
    // lower-priority one does not.
    let mut state = NudgeState::new("u-two");
    evaluate(config, &mut state, &Event::new("signup"), T0);
    evaluate(config, &mut state, &Event::new("report_generated"), T0 + 60);
    assert_eq!(state.pending.as_ref().unwrap().moment, "first_report");
    evaluate(config, &mut state, &nps, T0 + 120);
    assert_eq!(state.pending.as_ref().unwrap().moment, "nps_promoter");
    evaluate(
        config,
        &mut state,
        &Event::new("report_generated"),
        T0 + 180,
    );
    assert_eq!(state.pending.as_ref().unwrap().moment, "nps_promoter");

    // Holdout users never wait: they are never asked.
    let holdout = self::config();
    let user = (0..10_000)
        .map(|i| format!("user-{i}"))
        .find(|u| in_holdout(&holdout, u))
        .unwrap();
    let mut state = NudgeState::new(&user);
    evaluate(&holdout, &mut state, &Event::new("signup"), T0);
    evaluate(
        &holdout,
        &mut state,
        &Event::new("report_generated"),
        T0 + 60,
    );
    assert_eq!(state.pending, None);
}

/// A waiting ask does not take the cancel flow's last chance: the event's
/// own moment is tried too, and asks where the waiting one cannot.
#[test]
fn a_waiting_ask_does_not_block_the_cancel_flow() {
    let config = config_without_holdout();
    let mut state = onboarded(&config, "u-cancel");
    let t = T0 + 3 * DAY;
    let first = evaluate(&config, &mut state, &Event::new("integration_connected"), t);
    assert!(first.is_ask());
    let nps = Event::new("nps_submitted").with("score", 10);
    assert_eq!(
        evaluate(&config, &mut state, &nps, t + 3_600).reason(),
        "cooldown"
    );
    assert_eq!(state.pending.as_ref().unwrap().moment, "nps_promoter");
    let Decision::Ask(ask) = evaluate(
        &config,
        &mut state,
        &Event::new("cancel_started"),
        t + 7_200,
    ) else {
        panic!("the cancel flow asks inside the cooldown")
    };
    assert_eq!(ask.moment, "cancel_flow");
    assert_eq!(ask.why.deferred, None);
    assert_eq!(state.pending, None);
}

#[test]
fn pending_asks_load_merge_and_old_states_still_load() {
    let config = config_without_holdout();
    let mut state = NudgeState::new("u-merge");
    evaluate(&config, &mut state, &Event::new("signup"), T0);
    evaluate(
        &config,
        &mut state,
        &Event::new("report_generated"),
        T0 + 60,
    );
    assert!(state.pending.is_some());
    // Round trip through storage.
    let stored = state.to_json();
    assert!(stored.contains("\"pending\":{"), "{stored}");
    assert_eq!(NudgeState::from_json(&stored).unwrap(), state);
    // A state written before deferral existed loads, with nothing pending.
    let old = r#"{"v":2,"user_id":"u","asks":[5],"last_shown":5,"total_asks":1}"#;
    assert_eq!(NudgeState::from_json(old).unwrap().pending, None);
    // An ask on another device after the deferral consumed it.
    let mut other = state.clone();
    other.pending = None;
    other.asks.push(T0 + 120);
    other.last_shown = Some(T0 + 120);
    assert_eq!(merge_states(&state, &other).unwrap().pending, None);
    // An older ask elsewhere leaves it waiting.
    let mut other = state.clone();
    other.pending = None;
    other.asks.insert(0, T0 - 60);
    let merged = merge_states(&state, &other).unwrap();
    assert_eq!(merged.pending, state.pending);
    // A stored state whose waiting ask is older than an ask was consumed:
    // loading drops it (so merging the loaded copy with itself changes
    // nothing), and over-long stored names are cut.
    let consumed = r#"{"v":2,"user_id":"u","asks":[500],"total_asks":1,"pending":{"at":100,"until":900,"moment":"m","event":"e","occurrence":1,"held_by":"cooldown"}}"#;
    let loaded = NudgeState::from_json(consumed).unwrap();
    assert_eq!(loaded.pending, None);
    assert_eq!(merge_states(&loaded, &loaded).unwrap(), loaded);
    let long = format!(
        r#"{{"v":2,"user_id":"u","pending":{{"at":100,"until":900,"moment":"m","event":"{}","occurrence":1,"held_by":"cooldown"}}}}"#,
        "e".repeat(100_000)
    );
    assert_eq!(
        NudgeState::from_json(&long)
            .unwrap()
            .pending
            .unwrap()
            .event
            .len(),
        64
    );
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
