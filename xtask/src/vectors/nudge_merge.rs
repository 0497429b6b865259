//! Nudge merge vectors: pairs of stored copies of one person's state (two
//! devices, or a device and the host's backend), as JSON in the shape they
//! are stored in, with the state `merge_states` makes of them. Every
//! platform reads both copies, merges them in both orders and must get
//! `merged` exactly, or fail with `error`.

use referral_core::nudge::{
    evaluate, merge_states, record, Decision, Event, NudgeConfig, NudgeState, Outcome,
};
use serde_json::{json, Value};

const DAY: u64 = 86_400;
const T0: u64 = 1_780_000_000;
const WHO: &str = "person-1";

/// A v2 copy as it is stored: core reads the literal and writes it back
/// unchanged (so no field in it is misspelt or silently dropped).
fn stored(value: Value) -> Result<Value, String> {
    let state = NudgeState::from_json(&value.to_string()).map_err(|e| e.to_string())?;
    let written = serde_json::to_value(&state).map_err(|e| e.to_string())?;
    if written != value {
        return Err(format!(
            "merge vector state is not in stored form:\n{value}\nreads back as\n{written}"
        ));
    }
    Ok(value)
}

/// A v2 copy of `WHO` with `fields` on top of the required ones.
fn v2(fields: Value) -> Result<Value, String> {
    let mut state = json!({"v": 2, "user_id": WHO, "profile": {}, "total_asks": 0, "total_shares": 0, "total_referred": 0});
    for (key, value) in fields.as_object().ok_or("fields")? {
        state[key] = value.clone();
    }
    stored(state)
}

fn friction(marks: &[(&str, u64)]) -> Value {
    Value::Array(
        marks
            .iter()
            .map(|(event, at)| json!({"event": event, "at": at}))
            .collect(),
    )
}

/// Merges `a` and `b` (any stored version) in both orders; they must agree,
/// the result must read back as itself, and merging it again with either
/// copy must change nothing.
fn case(name: &str, a: Value, b: Value) -> Result<Value, String> {
    let read = |v: &Value| NudgeState::from_json(&v.to_string()).map_err(|e| e.to_string());
    let (sa, sb) = (read(&a)?, read(&b)?);
    let out = match (merge_states(&sa, &sb), merge_states(&sb, &sa)) {
        (Ok(ab), Ok(ba)) => {
            if ab != ba {
                return Err(format!("{name}: merge is not commutative"));
            }
            if NudgeState::from_json(&ab.to_json()).as_ref() != Ok(&ab) {
                return Err(format!("{name}: the merged state does not read back"));
            }
            for side in [&sa, &sb] {
                if merge_states(&ab, side).as_ref() != Ok(&ab) {
                    return Err(format!("{name}: merging again changed the state"));
                }
            }
            json!({"name": name, "a": a, "b": b, "merged": ab})
        }
        (Err(e), Err(f)) if e.reason() == f.reason() => {
            json!({"name": name, "a": a, "b": b, "error": e.reason()})
        }
        (x, y) => return Err(format!("{name}: the two orders disagree: {x:?} / {y:?}")),
    };
    Ok(out)
}

/// Two devices of one person, scripted through the engine with the example
/// config: the laptop asks and the person opts out; the phone, not yet
/// synced, asks on its own and sees more events.
fn two_devices() -> Result<(Value, Value), String> {
    let mut config = NudgeConfig::from_toml(include_str!("../../../examples/nudge/config.toml"))
        .map_err(|e| e.to_string())?;
    config.experiment = None;
    let t = T0 + 2 * DAY;
    let mut laptop = NudgeState::new(WHO);
    let mut phone = NudgeState::new(WHO);
    for state in [&mut laptop, &mut phone] {
        evaluate(&config, state, &Event::new("signup"), T0);
        evaluate(
            &config,
            state,
            &Event::new("onboarding_completed"),
            T0 + 3600,
        );
    }
    let asked = evaluate(&config, &mut laptop, &Event::new("report_generated"), t);
    if !matches!(asked, Decision::Ask(_)) {
        return Err(format!("two devices: the laptop should ask: {asked:?}"));
    }
    record(&mut laptop, Outcome::OptedOut, t + 30);
    evaluate(&config, &mut phone, &Event::new("seat_added"), t + 600);
    evaluate(&config, &mut phone, &Event::new("error"), t + 700);
    evaluate(&config, &mut phone, &Event::new("seat_added"), t + 2 * DAY);
    record(&mut phone, Outcome::Dismissed, t + 2 * DAY + 60);
    let value = |s: &NudgeState| serde_json::to_value(s).map_err(|e| e.to_string());
    Ok((value(&laptop)?, value(&phone)?))
}

pub fn cases() -> Result<Value, String> {
    let (laptop, phone) = two_devices()?;
    let onboarded = json!({"signed_up_at": T0, "onboarding_completed_at": T0 + 3600});
    // Asks every other day; the copies share two of them, 20 in all.
    let asks_a: Vec<u64> = (0..12).map(|i| T0 + 2 * i * DAY).collect();
    let asks_b: Vec<u64> = (8..18).map(|i| T0 + 2 * i * DAY + 3600 * (i % 2)).collect();
    let cases = vec![
        case("two devices: the laptop opted out, the phone asked on its own", laptop, phone)?,
        case(
            "opted out on one copy: the merge is opted out",
            v2(json!({"profile": onboarded, "first_seen": T0, "opted_out_at": T0 + 3 * DAY}))?,
            v2(json!({"profile": onboarded, "first_seen": T0, "counts": {"report_generated": 2}, "asks": [T0 + 4 * DAY], "last_shown": T0 + 4 * DAY, "total_asks": 1}))?,
        )?,
        case(
            "opted out on both copies: the earliest opt-out is kept",
            v2(json!({"opted_out_at": T0 + 9 * DAY}))?,
            v2(json!({"opted_out_at": T0 + 5 * DAY, "last_dismissed": T0 + 5 * DAY}))?,
        )?,
        case(
            "referred on one copy: the referral and the larger totals are kept",
            v2(json!({"last_shared": T0 + 9 * DAY, "last_referred": T0 + 10 * DAY, "total_asks": 2, "total_shares": 2, "total_referred": 1}))?,
            v2(json!({"last_shared": T0 + 12 * DAY, "total_asks": 3, "total_shares": 1}))?,
        )?,
        case(
            "referred on both copies: the latest referral",
            v2(json!({"last_referred": T0 + 20 * DAY, "total_referred": 1}))?,
            v2(json!({"last_referred": T0 + 10 * DAY, "total_referred": 2}))?,
        )?,
        case(
            "counts: the larger per event, events seen on one copy kept",
            v2(json!({"counts": {"nps_submitted": 2, "report_generated": 3, "seat_added": 1}}))?,
            v2(json!({"counts": {"integration_connected": 2, "report_generated": 1, "seat_added": 4}}))?,
        )?,
        case(
            "asks: the union, shared asks once, the newest 16 kept",
            v2(json!({"asks": asks_a, "last_shown": asks_a.last(), "total_asks": 12}))?,
            v2(json!({"asks": asks_b, "last_shown": asks_b.last(), "total_asks": 10}))?,
        )?,
        case(
            "friction: the union, a shared mark once, the newest 4 kept (same time: by event name)",
            v2(json!({"friction": friction(&[("error", T0 + 100), ("payment_failed", T0 + 500), ("error", T0 + 900)])}))?,
            v2(json!({"friction": friction(&[("error", T0 + 100), ("integration_failed", T0 + 500), ("error", T0 + 1200)])}))?,
        )?,
        case(
            "profile: what only one copy knows is kept",
            v2(json!({"profile": {"signed_up_at": T0, "plan": "team"}}))?,
            v2(json!({"profile": {"role": "admin", "active_customer": true, "display_name": "Ana", "share_link": "https://app.example.com/r/abc"}}))?,
        )?,
        case(
            "profile: different values on both copies, the greater of each",
            v2(json!({"profile": {"plan": "team", "role": "admin", "active_customer": false, "display_name": "Zoë", "share_link": "https://app.example.com/r/bbb"}}))?,
            v2(json!({"profile": {"plan": "enterprise", "role": "member", "active_customer": true, "display_name": "Zoe", "share_link": "https://app.example.com/r/aaa"}}))?,
        )?,
        case(
            "dates: the earliest first_seen, signup and onboarding; the latest shown and dismissed",
            v2(json!({"profile": {"signed_up_at": T0 + 50}, "first_seen": T0 + 50, "last_shown": T0 + 3 * DAY, "last_dismissed": T0 + 5 * DAY}))?,
            v2(json!({"profile": {"signed_up_at": T0 + 80, "onboarding_completed_at": T0 + 3600}, "first_seen": T0, "last_shown": T0 + 4 * DAY, "last_dismissed": T0 + 2 * DAY}))?,
        )?,
        case(
            "an old v1 copy merged with a v2 copy",
            json!({"v": 1, "user_id": WHO, "last_friction": {"event": "error", "at": T0 + 100}, "asked_at": [T0 + 2 * DAY, T0], "dismissed_at": T0 + 2 * DAY + 60, "opted_out": false}),
            v2(json!({"profile": onboarded, "first_seen": T0, "counts": {"seat_added": 2}, "friction": friction(&[("payment_failed", T0 + 4 * DAY)]), "asks": [T0 + 5 * DAY], "last_shown": T0 + 5 * DAY, "total_asks": 1}))?,
        )?,
        case(
            "an unversioned v1 copy that opted out (time unknown: 0) merged with a later v2 opt-out",
            json!({"user_id": WHO, "opted_out": true}),
            v2(json!({"opted_out_at": T0 + 10 * DAY, "total_asks": 1, "asks": [T0 + 9 * DAY], "last_shown": T0 + 9 * DAY}))?,
        )?,
        case(
            "a fresh copy merged with a used one: the used one",
            v2(json!({}))?,
            v2(json!({"profile": onboarded, "first_seen": T0, "counts": {"report_generated": 1}, "asks": [T0 + DAY], "last_shown": T0 + DAY, "total_asks": 1}))?,
        )?,
        case(
            "the same copy on both sides: unchanged",
            v2(json!({"profile": onboarded, "first_seen": T0, "counts": {"report_generated": 3}, "friction": friction(&[("error", T0 + 10)]), "asks": [T0 + DAY], "last_shown": T0 + DAY, "opted_out_at": T0 + 2 * DAY, "total_asks": 1}))?,
            v2(json!({"profile": onboarded, "first_seen": T0, "counts": {"report_generated": 3}, "friction": friction(&[("error", T0 + 10)]), "asks": [T0 + DAY], "last_shown": T0 + DAY, "opted_out_at": T0 + 2 * DAY, "total_asks": 1}))?,
        )?,
        case(
            "copies of different users do not merge",
            v2(json!({"opted_out_at": T0}))?,
            json!({"v": 2, "user_id": "person-2", "profile": {}, "total_asks": 0, "total_shares": 0, "total_referred": 0}),
        )?,
        case(
            "user ids that differ only in case are different users",
            json!({"v": 2, "user_id": "Person-1", "profile": {}, "total_asks": 0, "total_shares": 0, "total_referred": 0}),
            json!({"user_id": WHO, "opted_out": true}),
        )?,
    ];
    Ok(json!({
        "comment": "read `a` and `b` as stored states (any version, as a stored state is read); merging them in either order must give `merged` (the state as stored), or fail with the reason `error`",
        "cases": cases,
    }))
}
