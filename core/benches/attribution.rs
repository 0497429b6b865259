//! Attributing one signup (with code verification and every fraud check)
//! and applying one ledger event. Run:
//! `cargo bench -p referral-core --bench attribution`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use referral_core::attribution::{
    attribute, AttributionPolicy, CaptureMethod, CapturedReferral, KnownPeople, ReferrerInfo,
    Signup,
};
use referral_core::rewards::{
    Cap, Ledger, LedgerEvent, Money, Period, Program, ProgramKind, QualifyingEvent, RewardRule,
};
use referral_core::{Channel, Keyring, MintRequest, ReferrerId, Verifier, VerifyPolicy};

const T0: u64 = 1_780_000_000;

fn bench(c: &mut Criterion) {
    let verifier = Verifier::new(
        Keyring::new(1, &[7u8; 32]).expect("key"),
        VerifyPolicy::for_program(7),
    );
    let codes: Vec<String> = (1..=3)
        .map(|i| {
            verifier
                .mint(
                    &MintRequest {
                        program_id: 7,
                        referrer: ReferrerId::Numeric(i),
                        channel: Channel::Email,
                        campaign: None,
                    },
                    T0,
                )
                .expect("mint")
                .into_string()
        })
        .collect();
    let captures: Vec<CapturedReferral> = codes
        .iter()
        .enumerate()
        .map(|(i, code)| CapturedReferral {
            code: code.clone(),
            captured_at: T0 + i as u64 * 60,
            method: CaptureMethod::Link,
        })
        .collect();
    let referrers: Vec<ReferrerInfo> = (1..=3)
        .map(|i| ReferrerInfo {
            referrer: ReferrerId::Numeric(i),
            account_id: format!("acct-{i}"),
            email_domain: format!("co{i}.example"),
            network_prefix_hash: Some("n:1".into()),
            referred_by_account: None,
            rewards_this_month: 2,
        })
        .collect();
    let signup = Signup {
        account_id: "acct-new".into(),
        email: "new.person+x@gmail.com".into(),
        company_domain: Some("newco.example".into()),
        at: T0 + 86_400,
        network_prefix_hash: Some("n:2".into()),
    };
    let policy = AttributionPolicy {
        max_rewards_per_month: 10,
        ..AttributionPolicy::default()
    };
    // Warm the disposable list (a one-off parse of 121k domains at first use).
    let _ = referral_core::fraud::is_disposable_domain("warm.example");
    let mut group = c.benchmark_group("attribution");
    group.bench_function("attribute_one_signup_three_captures", |b| {
        b.iter(|| {
            attribute(
                &verifier,
                &policy,
                black_box(&captures),
                black_box(&signup),
                &referrers,
                &KnownPeople::default(),
            )
        })
    });
    group.bench_function("attribute_one_signup_one_capture", |b| {
        b.iter(|| {
            attribute(
                &verifier,
                &policy,
                black_box(&captures[..1]),
                black_box(&signup),
                &referrers,
                &KnownPeople::default(),
            )
        })
    });

    let program = Program {
        id: 7,
        kind: ProgramKind::Customer,
        qualifying_event: QualifyingEvent::FirstPayment,
        referrer_reward: RewardRule::AccountCredit {
            amount: Money::new(5_000, "USD"),
        },
        friend_reward: Some(RewardRule::FreeMonths { months: 1 }),
        tiers: vec![],
        cap: Some(Cap {
            period: Period::Month,
            max_rewards: Some(50),
            max_amount: None,
        }),
        hold_days: 30,
        clawback_days: 90,
        currency: None,
    };
    // A ledger with 1,000 referrals already in it, half of them rewarded.
    let mut ledger = Ledger::new();
    for i in 0..1_000u64 {
        let referral = format!("r{i}");
        ledger
            .apply(
                &program,
                &LedgerEvent::Attributed {
                    event_id: format!("a{i}"),
                    referral_id: referral.clone(),
                    referrer_account: format!("acct-{}", i % 50),
                    friend_account: format!("f{i}"),
                    review: false,
                    at: T0 + i,
                },
            )
            .expect("attributed");
        if i % 2 == 0 {
            ledger
                .apply(
                    &program,
                    &LedgerEvent::Payment {
                        event_id: format!("p{i}"),
                        referral_id: referral,
                        at: T0 + i,
                        amount: Money::new(9_900, "USD"),
                        acv: None,
                    },
                )
                .expect("paid");
        }
    }
    let payment = LedgerEvent::Payment {
        event_id: "p-new".into(),
        referral_id: "r1".into(),
        at: T0 + 5_000,
        amount: Money::new(9_900, "USD"),
        acv: None,
    };
    group.bench_function("ledger_apply_first_payment_1000_referrals", |b| {
        b.iter_batched_ref(
            || ledger.clone(),
            |l| l.apply(&program, black_box(&payment)),
            BatchSize::LargeInput,
        )
    });
    let duplicate = LedgerEvent::Payment {
        event_id: "p0".into(),
        referral_id: "r0".into(),
        at: T0,
        amount: Money::new(9_900, "USD"),
        acv: None,
    };
    group.bench_function("ledger_apply_duplicate_event", |b| {
        b.iter_batched_ref(
            || ledger.clone(),
            |l| l.apply(&program, black_box(&duplicate)),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
