//! The merge of two copies of one person's nudge state is a join: it is
//! commutative, associative and idempotent, never un-opts anyone, never
//! forgets a referral, and never counts an occurrence twice. And a person
//! who opted out on one device is not asked on another once they meet.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use referral_core::nudge::{merge_states, FrictionMark, NudgeState, Pending, Profile};

fn arb_opt(max: u64) -> impl Strategy<Value = Option<u64>> {
    prop_oneof![Just(None), (0..max).prop_map(Some)]
}

fn arb_state() -> impl Strategy<Value = NudgeState> {
    (
        (
            arb_opt(1_000),
            arb_opt(1_000),
            prop::option::of("[a-c]{1,3}"),
            prop::option::of(any::<bool>()),
            "[a-c]{0,2}",
        ),
        arb_opt(1_000),
        prop::collection::vec(("(report|nps|sync)", 0u32..6), 0..4),
        prop::collection::vec(("(fail|error)", 0u64..1_000), 0..6),
        prop::collection::vec(0u64..1_000, 0..20),
        (
            arb_opt(1_000),
            arb_opt(1_000),
            arb_opt(1_000),
            arb_opt(1_000),
            arb_opt(1_000),
        ),
        (0u32..9, 0u32..9, 0u32..9),
        prop::option::of((0u64..300, 0u64..100, "(first|nps)", 0u32..4)),
    )
        .prop_map(
            |(profile, first_seen, counts, friction, asks, lasts, totals, pending)| {
                let mut s = NudgeState::new("person-1");
                s.profile = Profile {
                    signed_up_at: profile.0,
                    onboarding_completed_at: profile.1,
                    plan: profile.2,
                    active_customer: profile.3,
                    display_name: profile.4,
                    ..Profile::default()
                };
                s.first_seen = first_seen;
                for (event, n) in counts {
                    s.counts.insert(event, n);
                }
                // As the engine keeps them: at most 4 marks and 16 asks, in order.
                let mut friction: Vec<FrictionMark> = friction
                    .into_iter()
                    .map(|(event, at)| FrictionMark { event, at })
                    .collect();
                friction.sort_by(|x, y| (x.at, &x.event).cmp(&(y.at, &y.event)));
                friction.dedup();
                let cut = friction.len().saturating_sub(4);
                s.friction = friction.split_off(cut);
                let mut asks = asks;
                asks.sort_unstable();
                asks.dedup();
                let cut = asks.len().saturating_sub(16);
                s.asks = asks.split_off(cut);
                (
                    s.last_shown,
                    s.last_dismissed,
                    s.opted_out_at,
                    s.last_shared,
                    s.last_referred,
                ) = lasts;
                (s.total_asks, s.total_shares, s.total_referred) = totals;
                // As the engine keeps them: every ask listed was counted.
                s.total_asks = s.total_asks.max(s.asks.len() as u32);
                // As the engine keeps it: newer than every ask.
                let after = s.asks.last().map_or(0, |t| t + 1);
                s.pending = pending.map(|(at, span, moment, occurrence)| Pending {
                    at: after + at,
                    until: after + at + span,
                    event: format!("{moment}_event"),
                    moment,
                    occurrence,
                    held_by: "cooldown".into(),
                });
                s
            },
        )
}

fn merge(a: &NudgeState, b: &NudgeState) -> NudgeState {
    merge_states(a, b).expect("same person")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn commutative(a in arb_state(), b in arb_state()) {
        prop_assert_eq!(merge(&a, &b), merge(&b, &a));
    }

    #[test]
    fn associative(a in arb_state(), b in arb_state(), c in arb_state()) {
        prop_assert_eq!(merge(&merge(&a, &b), &c), merge(&a, &merge(&b, &c)));
    }

    #[test]
    fn idempotent(a in arb_state(), b in arb_state()) {
        prop_assert_eq!(merge(&a, &a), a.clone());
        let ab = merge(&a, &b);
        prop_assert_eq!(merge(&ab, &b), ab.clone());
        prop_assert_eq!(merge(&ab, &a), ab);
    }

    #[test]
    fn sticky_and_never_double_counted(a in arb_state(), b in arb_state()) {
        let m = merge(&a, &b);
        // Opted out on either copy: opted out in the merge.
        prop_assert_eq!(m.opted_out_at.is_some(), a.opted_out_at.is_some() || b.opted_out_at.is_some());
        // Referred on either copy: referred in the merge.
        prop_assert!(m.last_referred >= a.last_referred && m.last_referred >= b.last_referred);
        prop_assert!(m.total_referred >= a.total_referred.max(b.total_referred));
        // An occurrence seen by both copies is counted once.
        for (event, n) in m.counts.iter() {
            prop_assert_eq!(n, a.counts.get(event).unwrap_or(0).max(b.counts.get(event).unwrap_or(0)));
        }
        // Bounded as the engine keeps a state, and consistent.
        prop_assert!(m.asks.len() <= 16 && m.friction.len() <= 4);
        prop_assert!(m.total_asks as usize >= m.asks.len());
        // "Not an active customer" on either side wins.
        if a.profile.active_customer == Some(false) || b.profile.active_customer == Some(false) {
            prop_assert_eq!(m.profile.active_customer, Some(false));
        }
        prop_assert!(m.asks.windows(2).all(|w| w[0] < w[1]));
        // At most one pending ask, newer than every ask the merge holds,
        // and it is one of the copies'.
        if let Some(p) = &m.pending {
            prop_assert!(m.asks.iter().all(|&t| t < p.at));
            prop_assert!(a.pending.as_ref() == Some(p) || b.pending.as_ref() == Some(p));
        }
    }
}

#[test]
fn different_people_do_not_merge() {
    let a = NudgeState::new("person-1");
    let b = NudgeState::new("person-2");
    assert_eq!(merge_states(&a, &b).unwrap_err().reason(), "invalid_state");
}

/// The point of it: "don't ask again" on one device holds on another.
#[test]
fn an_opt_out_on_one_device_holds_on_another() {
    use referral_core::nudge::{evaluate, record, Decision, Event, NudgeConfig, Outcome};
    let mut config =
        NudgeConfig::from_toml(include_str!("../../examples/nudge/config.toml")).unwrap();
    config.experiment = None;
    config.eligibility.min_account_age = referral_core::nudge::Span::ZERO;
    let t0 = 1_780_000_000;
    let mut laptop = NudgeState::new("person-1");
    let mut phone = NudgeState::new("person-1");
    for state in [&mut laptop, &mut phone] {
        evaluate(&config, state, &Event::new("signup"), t0);
        evaluate(
            &config,
            state,
            &Event::new("onboarding_completed"),
            t0 + 3_600,
        );
    }
    // The laptop asks and the person says "don't ask again".
    let asked = evaluate(
        &config,
        &mut laptop,
        &Event::new("report_generated"),
        t0 + 7_200,
    );
    assert!(matches!(asked, Decision::Ask(_)), "{asked:?}");
    record(&mut laptop, Outcome::OptedOut, t0 + 7_201);
    // Without the merge the phone would ask: it never saw the opt-out.
    let mut unsynced = phone.clone();
    let before = evaluate(
        &config,
        &mut unsynced,
        &Event::new("report_generated"),
        t0 + 7_300,
    );
    assert!(
        matches!(before, Decision::Ask(_)),
        "the phone should ask on its own: {before:?}"
    );
    // The phone syncs with the person's state before its next events.
    phone = merge_states(&phone, &laptop).unwrap();
    for (i, name) in [
        "report_generated",
        "report_generated",
        "integration_connected",
    ]
    .iter()
    .enumerate()
    {
        let decision = evaluate(
            &config,
            &mut phone,
            &Event::new(name),
            t0 + 86_400 * 40 * (i as u64 + 1),
        );
        assert!(
            !matches!(decision, Decision::Ask(_)),
            "asked after opting out elsewhere: {decision:?}"
        );
    }
}

/// Two copies within the bound can hold more counters together than a
/// stored state may: the merge stays readable.
#[test]
fn the_merge_stays_within_a_stored_states_bounds() {
    let mut a = NudgeState::new("person-1");
    let mut b = NudgeState::new("person-1");
    for i in 0..200 {
        a.counts.insert(format!("a{i:03}"), 1);
        b.counts.insert(format!("b{i:03}"), 2);
    }
    let m = merge_states(&a, &b).unwrap();
    assert_eq!(
        m.counts.len(),
        referral_core::nudge::state::MAX_EVENT_COUNTS
    );
    let back = NudgeState::from_json(&m.to_json()).expect("the merge reads back");
    assert_eq!(back, m);
    // Associative at the bound too.
    let mut c = NudgeState::new("person-1");
    c.counts.insert("a000".into(), 9);
    c.counts.insert("zzz".into(), 1);
    assert_eq!(
        merge_states(&merge_states(&a, &b).unwrap(), &c).unwrap(),
        merge_states(&a, &merge_states(&b, &c).unwrap()).unwrap()
    );
}
