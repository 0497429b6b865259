//! `evaluate` with a 20-moment config. Run:
//! `cargo bench -p referral-core --bench nudge`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use referral_core::nudge::{evaluate, Event, NudgeConfig, NudgeState};

const T0: u64 = 1_780_000_000;

fn config_with_20_moments() -> NudgeConfig {
    let mut moments = String::new();
    for i in 0..20 {
        let predicate = if i % 4 == 0 {
            ", when = [{ property = \"score\", op = \"at_least\", value = 9 }]"
        } else {
            ""
        };
        moments.push_str(&format!(
            "[[moments]]\nname = \"moment_{i}\"\nevent = \"event_{i}\"\npriority = {i}\nmessage = \"Moment {i}! Invite a friend to {{product}}. {{reward}}\"\n{}\n",
            predicate.trim_start_matches(", ")
        ));
    }
    let text = format!(
        "product = \"Acme\"\nreward = \"A month free.\"\n{moments}\n[eligibility]\nsignup_event = \"signup\"\nonboarding_completed_event = \"onboarding_completed\"\n[experiment]\nname = \"bench\"\nholdout_basis_points = 0\n"
    );
    NudgeConfig::from_toml(&text).expect("bench config")
}

fn bench(c: &mut Criterion) {
    let config = config_with_20_moments();
    assert_eq!(config.moments.len(), 20);
    let mut state = NudgeState::new("user-42");
    evaluate(&config, &mut state, &Event::new("signup"), T0);
    evaluate(
        &config,
        &mut state,
        &Event::new("onboarding_completed"),
        T0 + 60,
    );
    let mut group = c.benchmark_group("nudge");
    let page_view = Event::new("page_view").with("path", "/dashboard");
    group.bench_function("evaluate_no_matching_moment", |b| {
        b.iter_batched_ref(
            || state.clone(),
            |s| evaluate(&config, s, black_box(&page_view), T0 + 86_400),
            BatchSize::SmallInput,
        )
    });
    let success = Event::new("event_17").with("rows", 10);
    group.bench_function("evaluate_ask_rendered", |b| {
        b.iter_batched_ref(
            || state.clone(),
            |s| evaluate(&config, s, black_box(&success), T0 + 86_400),
            BatchSize::SmallInput,
        )
    });
    let mut cooling = state.clone();
    evaluate(&config, &mut cooling, &success, T0 + 86_400);
    group.bench_function("evaluate_quiet_cooldown", |b| {
        b.iter_batched_ref(
            || cooling.clone(),
            |s| evaluate(&config, s, black_box(&success), T0 + 86_400 + 60),
            BatchSize::SmallInput,
        )
    });
    let promoter = Event::new("event_16").with("score", 10);
    group.bench_function("evaluate_predicate_match", |b| {
        b.iter_batched_ref(
            || state.clone(),
            |s| evaluate(&config, s, black_box(&promoter), T0 + 86_400),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
