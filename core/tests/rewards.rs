//! The rewards ledger: program kinds, holds, clawbacks, tiers, caps, and
//! property tests over random event sequences.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use referral_core::rewards::*;

const DAY: u64 = 86_400;
const T0: u64 = 1_780_000_000; // 2026-05-28

fn usd(cents: i64) -> Money {
    Money::new(cents, "USD")
}

fn customer_program() -> Program {
    Program {
        id: 7,
        kind: ProgramKind::Customer,
        qualifying_event: QualifyingEvent::FirstPayment,
        referrer_reward: RewardRule::AccountCredit { amount: usd(5_000) },
        friend_reward: Some(RewardRule::FreeMonths { months: 1 }),
        tiers: vec![
            Tier {
                from_count: 5,
                reward: RewardRule::AccountCredit {
                    amount: usd(10_000),
                },
            },
            Tier {
                from_count: 10,
                reward: RewardRule::TierUpgrade {
                    tier: "business".into(),
                    months: 12,
                },
            },
        ],
        cap: Some(Cap {
            period: Period::Month,
            max_rewards: Some(3),
            max_amount: None,
        }),
        hold_days: 30,
        clawback_days: 90,
        currency: None,
    }
}

fn attributed(id: &str, referrer: &str, at: u64) -> LedgerEvent {
    LedgerEvent::Attributed {
        event_id: format!("attr-{id}"),
        referral_id: id.into(),
        referrer_account: referrer.into(),
        friend_account: format!("friend-{id}"),
        review: false,
        at,
    }
}

fn payment(event: &str, id: &str, at: u64, cents: i64) -> LedgerEvent {
    LedgerEvent::Payment {
        event_id: event.into(),
        referral_id: id.into(),
        at,
        amount: usd(cents),
        acv: Some(usd(cents * 12)),
    }
}

#[test]
fn customer_program_holds_then_pays_then_claws_back() {
    let program = customer_program();
    program.validate().unwrap();
    let mut ledger = Ledger::new();
    assert_eq!(
        ledger
            .apply(&program, &attributed("r1", "anna", T0))
            .unwrap(),
        Applied::Registered
    );
    let applied = ledger
        .apply(&program, &payment("inv-1", "r1", T0 + DAY, 9_900))
        .unwrap();
    assert_eq!(
        applied,
        Applied::Rewarded {
            entries: vec!["inv-1/referrer".into(), "inv-1/friend".into()]
        }
    );
    // The same webhook twice changes nothing.
    let before = ledger.clone();
    assert_eq!(
        ledger
            .apply(&program, &payment("inv-1", "r1", T0 + DAY, 9_900))
            .unwrap(),
        Applied::Duplicate
    );
    assert_eq!(ledger, before);
    let entry = ledger.entries[0].clone();
    assert_eq!(ledger.status(&entry, T0 + 2 * DAY), EntryStatus::Held);
    assert_eq!(ledger.status(&entry, T0 + 31 * DAY), EntryStatus::Payable);
    let too_early = ledger.apply(
        &program,
        &LedgerEvent::Paid {
            event_id: "pay-0".into(),
            entry_id: entry.id.clone(),
            at: T0 + 2 * DAY,
        },
    );
    assert_eq!(too_early.unwrap_err().reason(), "not_payable");
    ledger
        .apply(
            &program,
            &LedgerEvent::Paid {
                event_id: "pay-1".into(),
                entry_id: entry.id.clone(),
                at: T0 + 31 * DAY,
            },
        )
        .unwrap();
    let balances = ledger.balances(T0 + 32 * DAY);
    assert_eq!(balances["anna"].amount(EntryStatus::Paid, "USD"), 5_000);
    assert_eq!(
        balances["friend-r1"].entitlements,
        vec![EntitlementLine {
            status: EntryStatus::Payable,
            value: RewardValue::FreeMonths { months: 1 }
        }]
    );
    // Refund: everything of that referral is reversed; the paid credit is owed back.
    let reversed = ledger
        .apply(
            &program,
            &LedgerEvent::Reversal {
                event_id: "ref-1".into(),
                referral_id: "r1".into(),
                at: T0 + 40 * DAY,
                reason: ReversalReason::Refund,
            },
        )
        .unwrap();
    assert_eq!(
        reversed,
        Applied::Reversed {
            entries: vec!["inv-1/referrer".into(), "inv-1/friend".into()]
        }
    );
    let balances = ledger.balances(T0 + 41 * DAY);
    assert_eq!(balances["anna"].amount(EntryStatus::Reversed, "USD"), 5_000);
    assert_eq!(balances["anna"].clawback("USD"), 5_000);
}

#[test]
fn churn_claws_back_only_inside_the_window_and_review_holds_rewards() {
    let program = customer_program();
    let mut ledger = Ledger::new();
    let mut flagged = attributed("r2", "anna", T0);
    if let LedgerEvent::Attributed { review, .. } = &mut flagged {
        *review = true;
    }
    ledger.apply(&program, &flagged).unwrap();
    ledger
        .apply(&program, &payment("inv-2", "r2", T0, 1_000))
        .unwrap();
    let entry = ledger.entries[0].clone();
    assert_eq!(ledger.status(&entry, T0 + 60 * DAY), EntryStatus::Pending);
    ledger
        .apply(
            &program,
            &LedgerEvent::Approved {
                event_id: "ok-2".into(),
                referral_id: "r2".into(),
                at: T0 + DAY,
            },
        )
        .unwrap();
    assert_eq!(ledger.status(&entry, T0 + 60 * DAY), EntryStatus::Payable);
    let late = LedgerEvent::Reversal {
        event_id: "churn-2".into(),
        referral_id: "r2".into(),
        at: T0 + 91 * DAY,
        reason: ReversalReason::Churn,
    };
    assert_eq!(
        ledger.apply(&program, &late).unwrap(),
        Applied::OutsideClawback
    );
    let early = LedgerEvent::Reversal {
        event_id: "churn-3".into(),
        referral_id: "r2".into(),
        at: T0 + 90 * DAY,
        reason: ReversalReason::Churn,
    };
    assert_eq!(ledger.apply(&program, &early).unwrap().code(), "reversed");
}

#[test]
fn no_reward_without_attribution() {
    let mut ledger = Ledger::new();
    let error = ledger
        .apply(&customer_program(), &payment("inv-x", "nobody", T0, 1_000))
        .unwrap_err();
    assert_eq!(error.reason(), "unknown_referral");
    assert!(ledger.entries.is_empty() && ledger.applied_event_ids.is_empty());
}

#[test]
fn tiers_and_monthly_cap() {
    let mut program = customer_program();
    program.cap = Some(Cap {
        period: Period::Month,
        max_rewards: Some(4),
        max_amount: None,
    });
    let mut ledger = Ledger::new();
    let mut outcomes = Vec::new();
    for i in 0..12u64 {
        let id = format!("r{i}");
        // Two referrals a month, from June on.
        let at = T0 + 5 * DAY + i * 15 * DAY;
        ledger
            .apply(&program, &attributed(&id, "anna", at))
            .unwrap();
        outcomes.push(
            ledger
                .apply(&program, &payment(&format!("inv-{i}"), &id, at, 1_000))
                .unwrap()
                .code(),
        );
    }
    assert!(outcomes.iter().all(|c| *c == "rewarded"), "{outcomes:?}");
    let referrer_values: Vec<&RewardValue> = ledger
        .entries
        .iter()
        .filter(|e| e.side == Side::Referrer)
        .map(|e| &e.value)
        .collect();
    assert_eq!(
        referrer_values[0],
        &RewardValue::Money {
            amount: usd(5_000),
            cash: false
        }
    );
    assert_eq!(
        referrer_values[4],
        &RewardValue::Money {
            amount: usd(10_000),
            cash: false
        }
    );
    assert_eq!(
        referrer_values[9],
        &RewardValue::TierUpgrade {
            tier: "business".into(),
            months: 12
        }
    );
    // A burst in one month hits the cap.
    let mut burst = Ledger::new();
    let codes: Vec<&str> = (0..6)
        .map(|i| {
            let id = format!("b{i}");
            burst
                .apply(&program, &attributed(&id, "carl", T0 + 4 * DAY + i))
                .unwrap();
            burst
                .apply(
                    &program,
                    &payment(&format!("binv-{i}"), &id, T0 + 4 * DAY + i, 1_000),
                )
                .unwrap()
                .code()
        })
        .collect();
    assert_eq!(
        codes,
        [
            "rewarded",
            "rewarded",
            "rewarded",
            "rewarded",
            "cap_reached",
            "cap_reached"
        ]
    );
    // The friend still gets their reward when the referrer is capped.
    assert_eq!(
        burst
            .entries
            .iter()
            .filter(|e| e.side == Side::Friend)
            .count(),
        6
    );
}

#[test]
fn partner_revenue_share_and_employee_bonus() {
    let partner = Program {
        id: 9,
        kind: ProgramKind::Partner,
        qualifying_event: QualifyingEvent::FirstPayment,
        referrer_reward: RewardRule::RevenueShare {
            basis_points: 2_000,
            months: Some(3),
        },
        friend_reward: None,
        tiers: vec![],
        cap: None,
        hold_days: 0,
        clawback_days: 0,
        currency: None,
    };
    partner.validate().unwrap();
    let mut ledger = Ledger::new();
    ledger
        .apply(&partner, &attributed("p1", "agency", T0))
        .unwrap();
    for month in 0..5u64 {
        ledger
            .apply(
                &partner,
                &payment(
                    &format!("pinv-{month}"),
                    "p1",
                    T0 + month * 30 * DAY,
                    10_001,
                ),
            )
            .unwrap();
    }
    let shares: Vec<i64> = ledger
        .entries
        .iter()
        .filter_map(|e| match &e.value {
            RewardValue::Money { amount, .. } => Some(amount.amount_minor),
            _ => None,
        })
        .collect();
    // 20% of three monthly payments (rounded down), none after month 3.
    assert_eq!(shares, vec![2_000, 2_000, 2_000]);

    let one_off = Program {
        referrer_reward: RewardRule::RevenueShare {
            basis_points: 1_500,
            months: None,
        },
        ..partner.clone()
    };
    let mut ledger = Ledger::new();
    ledger
        .apply(&one_off, &attributed("p2", "agency", T0))
        .unwrap();
    ledger
        .apply(&one_off, &payment("p2inv", "p2", T0, 50_000))
        .unwrap();
    assert_eq!(
        ledger.entries[0].value,
        RewardValue::Money {
            amount: usd(90_000),
            cash: true
        }
    ); // 15% of 600,000 ACV

    let employee = Program {
        id: 11,
        kind: ProgramKind::Employee,
        qualifying_event: QualifyingEvent::ContractSigned,
        referrer_reward: RewardRule::PercentOfAcv {
            basis_points: 1_000,
            min: Some(usd(50_000)),
            max: Some(usd(500_000)),
        },
        friend_reward: None,
        tiers: vec![],
        cap: None,
        hold_days: 60,
        clawback_days: 180,
        currency: None,
    };
    employee.validate().unwrap();
    let mut ledger = Ledger::new();
    ledger
        .apply(&employee, &attributed("e1", "sam", T0))
        .unwrap();
    let trial = LedgerEvent::Qualified {
        event_id: "t1".into(),
        referral_id: "e1".into(),
        event: QualifyingEvent::TrialStarted,
        at: T0,
        acv: None,
    };
    assert_eq!(
        ledger.apply(&employee, &trial).unwrap().code(),
        "not_qualifying"
    );
    let no_acv = LedgerEvent::Qualified {
        event_id: "c0".into(),
        referral_id: "e1".into(),
        event: QualifyingEvent::ContractSigned,
        at: T0,
        acv: None,
    };
    assert_eq!(
        ledger.apply(&employee, &no_acv).unwrap_err().reason(),
        "missing_acv"
    );
    let signed = LedgerEvent::Qualified {
        event_id: "c1".into(),
        referral_id: "e1".into(),
        event: QualifyingEvent::ContractSigned,
        at: T0,
        acv: Some(usd(12_000_000)),
    };
    ledger.apply(&employee, &signed).unwrap();
    assert_eq!(
        ledger.entries[0].value,
        RewardValue::Money {
            amount: usd(500_000),
            cash: true
        }
    ); // clamped to max
}

#[test]
fn programs_are_validated() {
    let mut cash_for_customers = customer_program();
    cash_for_customers.referrer_reward = RewardRule::Fixed { amount: usd(100) };
    assert_eq!(
        cash_for_customers.validate().unwrap_err().field,
        "referrer_reward"
    );
    let mut bad_tiers = customer_program();
    bad_tiers.tiers.swap(0, 1);
    assert_eq!(
        bad_tiers.validate().unwrap_err().field,
        "tiers[1].from_count"
    );
    let mut bad_currency = customer_program();
    bad_currency.referrer_reward = RewardRule::AccountCredit {
        amount: Money::new(100, "usd"),
    };
    assert_eq!(
        bad_currency.validate().unwrap_err().field,
        "referrer_reward.amount.currency"
    );
}

#[derive(Clone, Debug)]
enum Op {
    Attribute(u8, u8),
    Pay(u8, u16),
    Reverse(u8, u8),
    Approve(u8),
    PayOut(u8),
    Replay(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..12, 0u8..3).prop_map(|(r, who)| Op::Attribute(r, who)),
        (0u8..14, 1u16..5000).prop_map(|(r, c)| Op::Pay(r, c)),
        (0u8..14, 0u8..4).prop_map(|(r, why)| Op::Reverse(r, why)),
        (0u8..12).prop_map(Op::Approve),
        (0u8..40).prop_map(Op::PayOut),
        (0u8..40).prop_map(Op::Replay),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn ledger_invariants(ops in prop::collection::vec((op(), 0u64..(20 * DAY)), 1..80)) {
        let program = customer_program();
        let mut ledger = Ledger::new();
        let mut now = T0;
        let mut history: Vec<LedgerEvent> = Vec::new();
        let mut attributed_ids = std::collections::BTreeSet::new();
        for (n, (op, gap)) in ops.into_iter().enumerate() {
            now += gap;
            let event = match op {
                Op::Attribute(r, who) => {
                    let mut e = attributed(&format!("r{r}"), ["anna", "bo", "cy"][who as usize], now);
                    if let LedgerEvent::Attributed { review, .. } = &mut e { *review = r % 4 == 0; }
                    e
                }
                Op::Pay(r, cents) => payment(&format!("inv-{n}"), &format!("r{r}"), now, i64::from(cents)),
                Op::Reverse(r, why) => LedgerEvent::Reversal {
                    event_id: format!("rev-{n}"), referral_id: format!("r{r}"), at: now,
                    reason: [ReversalReason::Refund, ReversalReason::Chargeback, ReversalReason::Churn, ReversalReason::FraudConfirmed][why as usize],
                },
                Op::Approve(r) => LedgerEvent::Approved { event_id: format!("ok-{n}"), referral_id: format!("r{r}"), at: now },
                Op::PayOut(i) => match ledger.entries.get(i as usize) {
                    Some(e) => LedgerEvent::Paid { event_id: format!("paid-{n}"), entry_id: e.id.clone(), at: now },
                    None => continue,
                },
                Op::Replay(i) => match history.get(i as usize) {
                    Some(e) => e.clone(),
                    None => continue,
                },
            };
            let before = ledger.clone();
            let result = ledger.apply(&program, &event);
            match &result {
                Ok(Applied::Duplicate) => prop_assert_eq!(&ledger, &before, "a replayed event changed the ledger"),
                Err(_) => prop_assert_eq!(&ledger, &before, "an error left a change behind"),
                Ok(Applied::Reversed { entries }) => {
                    // A reversal undoes exactly the live entries of its referral.
                    let LedgerEvent::Reversal { referral_id, .. } = &event else { unreachable!() };
                    let expected: Vec<String> = before.entries.iter()
                        .filter(|e| &e.referral_id == referral_id && e.reversal.is_none())
                        .map(|e| e.id.clone()).collect();
                    prop_assert_eq!(entries, &expected);
                    for (old, new) in before.entries.iter().zip(&ledger.entries) {
                        if expected.contains(&old.id) {
                            prop_assert!(new.reversal.is_some());
                            prop_assert_eq!(&old.value, &new.value);
                        } else {
                            prop_assert_eq!(old, new);
                        }
                    }
                }
                Ok(_) => {}
            }
            if let (Ok(_), LedgerEvent::Attributed { referral_id, .. }) = (&result, &event) {
                attributed_ids.insert(referral_id.clone());
            }
            if result.is_ok() { history.push(event); }
        }
        // No reward without an attribution; one reward per event id.
        let mut ids = std::collections::BTreeSet::new();
        for entry in &ledger.entries {
            prop_assert!(attributed_ids.contains(&entry.referral_id));
            prop_assert!(ids.insert(entry.id.clone()), "entry {} twice", entry.id);
        }
        // Caps never exceeded: at most 3 referrer rewards per referrer per month.
        let mut per_month: BTreeMap<(String, (i64, u32)), u32> = BTreeMap::new();
        for e in ledger.entries.iter().filter(|e| e.side == Side::Referrer && e.reversal.is_none()) {
            let count = per_month.entry((e.beneficiary.clone(), year_month(e.created_at))).or_default();
            *count += 1;
            prop_assert!(*count <= 3);
        }
        // Totals reconcile: every status bucket sums to what was created.
        let created: i64 = ledger.entries.iter().filter_map(|e| match &e.value { RewardValue::Money { amount, .. } => Some(amount.amount_minor), _ => None }).sum();
        let derived: i64 = ledger.balances(now).values().flat_map(|b| b.money.iter().map(|l| l.amount_minor)).sum();
        prop_assert_eq!(created, derived);
        let clawback: i64 = ledger.balances(now).values().flat_map(|b| b.clawback_due.iter().map(|m| m.amount_minor)).sum();
        let paid_then_reversed: i64 = ledger.entries.iter()
            .filter(|e| e.reversal.as_ref().is_some_and(|r| r.was_paid))
            .filter_map(|e| match &e.value { RewardValue::Money { amount, .. } => Some(amount.amount_minor), _ => None }).sum();
        prop_assert_eq!(clawback, paid_then_reversed);
    }
}

use referral_core::rewards::program::year_month;

/// Entries with their statuses, in id order (the two ledgers keep them in
/// different orders: by arrival, or referrer by referrer).
fn sorted_entries<'a>(
    entries: impl Iterator<Item = (&'a Entry, EntryStatus)>,
) -> Vec<(Entry, EntryStatus)> {
    let mut all: Vec<(Entry, EntryStatus)> = entries.map(|(e, s)| (e.clone(), s)).collect();
    all.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    all
}

fn comparable(mut balances: BTreeMap<String, Balance>) -> BTreeMap<String, Balance> {
    for balance in balances.values_mut() {
        balance
            .entitlements
            .sort_by_key(|l| (l.status, serde_json::to_string(&l.value).unwrap()));
    }
    balances
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A program's events applied per referrer (`ProgramLedger`) give the
    /// same outcome for every event, the same entries and statuses, the
    /// same balances and the same velocity counts as one `Ledger`; and a
    /// single ledger split by referrer is the per-referrer ledger.
    #[test]
    fn per_referrer_ledgers_equal_one_ledger(
        ops in prop::collection::vec((op(), 0u64..(20 * DAY)), 1..80),
        kind in 0u8..3,
    ) {
        let mut program = customer_program();
        match kind {
            0 => {}
            1 => program.cap = None,
            // Recurring revenue shares under an amount cap.
            _ => {
                program.kind = ProgramKind::Partner;
                program.referrer_reward = RewardRule::RevenueShare { basis_points: 2_000, months: Some(12) };
                program.friend_reward = None;
                program.tiers = Vec::new();
                program.cap = Some(Cap { period: Period::Month, max_rewards: None, max_amount: Some(usd(1_500)) });
            }
        }
        program.validate().unwrap();
        let mut one = Ledger::new();
        let mut split = ProgramLedger::new();
        let mut now = T0;
        let mut history: Vec<LedgerEvent> = Vec::new();
        for (n, (op, gap)) in ops.into_iter().enumerate() {
            now += gap;
            let event = match op {
                Op::Attribute(r, who) => {
                    // Friends are sometimes referrers too.
                    let referrer = ["anna", "bo", "cy"][who as usize];
                    let mut e = attributed(&format!("r{r}"), referrer, now);
                    if let LedgerEvent::Attributed { review, friend_account, .. } = &mut e {
                        *review = r % 4 == 0;
                        if r % 5 == 0 { *friend_account = ["bo", "cy", "anna"][who as usize].to_owned(); }
                    }
                    e
                }
                Op::Pay(r, cents) => payment(&format!("inv-{n}"), &format!("r{r}"), now, i64::from(cents)),
                Op::Reverse(r, why) => LedgerEvent::Reversal {
                    event_id: format!("rev-{n}"), referral_id: format!("r{r}"), at: now,
                    reason: [ReversalReason::Refund, ReversalReason::Chargeback, ReversalReason::Churn, ReversalReason::FraudConfirmed][why as usize],
                },
                Op::Approve(r) => LedgerEvent::Approved { event_id: format!("ok-{n}"), referral_id: format!("r{r}"), at: now },
                Op::PayOut(i) => match one.entries.get(i as usize) {
                    Some(e) => LedgerEvent::Paid { event_id: format!("paid-{n}"), entry_id: e.id.clone(), at: now },
                    // An entry nobody created: both refuse it.
                    None => LedgerEvent::Paid { event_id: format!("paid-{n}"), entry_id: format!("nope-{i}"), at: now },
                },
                Op::Replay(i) => match history.get(i as usize) {
                    Some(e) => e.clone(),
                    None => continue,
                },
            };
            let expected = one.apply(&program, &event);
            let got = split.apply(&program, &event);
            prop_assert_eq!(&got, &expected, "event {:?}", event);
            history.push(event);
            for who in ["anna", "bo", "cy"] {
                prop_assert_eq!(split.rewards_this_month(who, now), one.rewards_this_month(who, now));
            }
        }
        prop_assert_eq!(sorted_entries(split.entries(now)), sorted_entries(one.entries.iter().map(|e| (e, one.status(e, now)))));
        prop_assert_eq!(comparable(split.balances(now)), comparable(one.balances(now)));
        // Each referrer's ledger holds only its own referrals and entries.
        for (referrer, ledger) in split.ledgers() {
            for referral in ledger.referrals.values() {
                prop_assert_eq!(&referral.referrer_account, referrer);
            }
            for entry in &ledger.entries {
                prop_assert_eq!(&ledger.referrals[&entry.referral_id].referrer_account, referrer);
            }
        }
        let migrated = ProgramLedger::from_ledger(one.clone());
        prop_assert_eq!(sorted_entries(migrated.entries(now)), sorted_entries(split.entries(now)));
        // The split ledger goes on as the original would.
        let mut migrated = migrated;
        let next = payment("after-split", "r1", now, 700);
        prop_assert_eq!(migrated.apply(&program, &next), one.apply(&program, &next));
    }
}

#[test]
fn velocity_counts_this_months_non_recurring_live_rewards() {
    let program = customer_program();
    let mut ledger = Ledger::new();
    ledger
        .apply(&program, &attributed("r1", "anna", T0))
        .unwrap();
    ledger
        .apply(&program, &attributed("r2", "anna", T0))
        .unwrap();
    ledger
        .apply(&program, &payment("p1", "r1", T0, 1000))
        .unwrap();
    ledger
        .apply(&program, &payment("p2", "r2", T0, 1000))
        .unwrap();
    assert_eq!(ledger.rewards_this_month("anna", T0), 2);
    assert_eq!(
        ledger.rewards_this_month("friend-r1", T0),
        0,
        "friend rewards do not count"
    );
    ledger
        .apply(
            &program,
            &LedgerEvent::Reversal {
                event_id: "x".into(),
                referral_id: "r2".into(),
                at: T0,
                reason: ReversalReason::Refund,
            },
        )
        .unwrap();
    assert_eq!(
        ledger.rewards_this_month("anna", T0),
        1,
        "reversed rewards do not count"
    );
    assert_eq!(
        ledger.rewards_this_month("anna", T0 + 40 * DAY),
        0,
        "next month starts at zero"
    );
}

#[test]
fn a_referral_view_holds_that_referral_and_its_entries_with_the_same_statuses() {
    let program = customer_program();
    let mut ledger = Ledger::new();
    ledger
        .apply(&program, &attributed("r1", "anna", T0))
        .unwrap();
    ledger
        .apply(&program, &attributed("r2", "anna", T0))
        .unwrap();
    ledger
        .apply(&program, &payment("p1", "r1", T0, 1000))
        .unwrap();
    ledger
        .apply(&program, &payment("p2", "r2", T0, 1000))
        .unwrap();
    let view = ledger.referral_view("r2").unwrap();
    assert_eq!(view.referrals.keys().collect::<Vec<_>>(), ["r2"]);
    assert_eq!(view.entries.len(), 2);
    for entry in &view.entries {
        assert_eq!(entry.referral_id, "r2");
        assert_eq!(
            view.status(entry, T0 + 40 * DAY),
            ledger.status(entry, T0 + 40 * DAY)
        );
    }
    assert_eq!(ledger.referral_of_entry("p2/friend"), Some("r2"));
    assert!(ledger.referral_view("nope").is_none());
}
