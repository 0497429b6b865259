//! Nudge vectors: the example config, then scripted users (events and
//! recorded outcomes at given times) with the decision after every event and
//! the final state. Every platform replays the steps and must match.

use referral_core::nudge::{evaluate, record, Event, NudgeConfig, NudgeState, Outcome};
use serde_json::{json, Value};

const DAY: u64 = 86_400;
const T0: u64 = 1_780_000_000;

#[derive(Clone)]
enum Step {
    Event(u64, Event),
    Record(u64, Outcome),
}

fn ev(at: u64, name: &str) -> Step {
    Step::Event(at, Event::new(name))
}

/// An event in the person's language.
fn ev_in(at: u64, name: &str, locale: &str) -> Step {
    Step::Event(at, Event::new(name).in_locale(locale))
}

/// A config whose moment has one variant with its own translations and one
/// without: the untranslated variant shows its own default message.
const LOCALE_CONFIG: &str = r#"product = "Acme Analytics"

[[moments]]
name = "first_report"
event = "report_generated"
message = "Your first report is ready! Share {product}?"
messages = { de = "Ihr erster Bericht ist fertig! {product} weiterempfehlen?", pt-BR = "Seu primeiro relatório está pronto! Indicar o {product}?" }
variants = [
  { name = "translated", message = "Nice report! Invite a colleague.", messages = { de = "Schöner Bericht! Laden Sie jemanden ein." } },
  { name = "english_only", message = "Invite your team to {product}." },
]

[experiment]
name = "locale-vectors"
"#;

pub fn cases() -> Result<Value, String> {
    let source = include_str!("../../../examples/nudge/config.toml");
    let mut config = NudgeConfig::from_toml(source).map_err(|e| e.to_string())?;
    let onboard = || vec![ev(T0, "signup"), ev(T0 + 3600, "onboarding_completed")];
    let t = T0 + 2 * DAY;
    let scripts: Vec<(&str, &str, Vec<Step>)> = vec![
        (
            "asks after a success moment, not during onboarding",
            "user-100",
            vec![
                ev(T0, "signup"),
                ev(T0 + 600, "report_generated"),
                ev(T0 + 3600, "onboarding_completed"),
                ev(T0 + 7200, "integration_connected"),
                ev(t, "integration_connected"),
                Step::Record(t + 5, Outcome::Shown),
                Step::Record(t + 60, Outcome::Shared),
            ],
        ),
        (
            "friction suppresses, then the window passes",
            "user-101",
            [
                onboard(),
                vec![
                    ev(t, "payment_failed"),
                    ev(t + 3600, "seat_added"),
                    ev(t + DAY, "seat_added"),
                ],
            ]
            .concat(),
        ),
        (
            "cooldown, dismissal, cap, opt-out",
            "user-102",
            [
                onboard(),
                vec![
                    ev(t, "seat_added"),
                    ev(t + DAY, "seat_added"),
                    Step::Record(t + 60, Outcome::Dismissed),
                    ev(t + 4 * DAY, "seat_added"),
                    ev(t + 15 * DAY, "seat_added"),
                    ev(t + 19 * DAY, "seat_added"),
                    Step::Record(t + 19 * DAY, Outcome::OptedOut),
                    ev(t + 60 * DAY, "seat_added"),
                ],
            ]
            .concat(),
        ),
        (
            "nth occurrence and NPS predicate",
            "user-103",
            [
                onboard(),
                vec![
                    ev(t, "report_generated"),
                    ev(t + 4 * DAY, "report_generated"),
                    ev(t + 8 * DAY, "report_generated"),
                    Step::Event(t + 40 * DAY, Event::new("nps_submitted").with("score", 6)),
                    Step::Event(
                        t + 40 * DAY + 1,
                        Event::new("nps_submitted")
                            .with("score", 10)
                            .with("comment", "great"),
                    ),
                ],
            ]
            .concat(),
        ),
        (
            "one_of: only the listed plans ask",
            "user-106",
            [
                onboard(),
                vec![
                    Step::Event(t, Event::new("plan_changed").with("plan", "pro")),
                    Step::Event(t + 60, Event::new("plan_changed").with("plan", "team")),
                ],
            ]
            .concat(),
        ),
        (
            "cancel flow bypasses the cooldown",
            "user-104",
            [
                onboard(),
                vec![ev(t, "seat_added"), ev(t + 3600, "cancel_started")],
            ]
            .concat(),
        ),
        (
            "locale: the exact tag, then a region falls back to its language",
            "user-107",
            [
                onboard(),
                vec![
                    ev_in(t, "seat_added", "de"),
                    ev_in(t + 31 * DAY, "integration_connected", "ar-EG"),
                    Step::Event(
                        t + 62 * DAY,
                        Event::new("nps_submitted")
                            .with("score", 10)
                            .in_locale("AR"),
                    ),
                ],
            ]
            .concat(),
        ),
        (
            "locale: an unknown locale shows the default message",
            "user-108",
            [
                onboard(),
                vec![
                    ev_in(t, "seat_added", "fr-FR"),
                    ev_in(t + 31 * DAY, "seat_added", "de-AT"),
                    ev_in(t + 62 * DAY, "seat_added", "ar_EG"),
                    ev_in(t + 93 * DAY, "seat_added", ""),
                ],
            ]
            .concat(),
        ),
        (
            "deferred: the first report, made during onboarding, is asked once the rules clear",
            "user-109",
            vec![
                ev(T0, "signup"),
                ev(T0 + 600, "report_generated"),
                ev(T0 + 3600, "onboarding_completed"),
                ev(T0 + DAY + 1, "page_view"),
                ev(T0 + DAY + 60, "page_view"),
            ],
        ),
        (
            "deferred: a promoter an hour after an error waits out the friction window",
            "user-110",
            [
                onboard(),
                vec![
                    ev(t, "error"),
                    Step::Event(t + 3600, Event::new("nps_submitted").with("score", 10)),
                    ev(t + 20 * 3600, "page_view"),
                    ev(t + 25 * 3600, "page_view"),
                ],
            ]
            .concat(),
        ),
        (
            "deferred: past its window, never asked",
            "user-111",
            [
                onboard(),
                vec![
                    ev(t, "error"),
                    Step::Event(t + 3600, Event::new("nps_submitted").with("score", 9)),
                    ev(t + 3600 + 2 * DAY + 1, "page_view"),
                ],
            ]
            .concat(),
        ),
        (
            "deferred: an opt-out ends the wait, a cooldown holds it",
            "user-112",
            [
                onboard(),
                vec![
                    ev(t, "seat_added"),
                    Step::Event(t + 60, Event::new("nps_submitted").with("score", 10)),
                    ev(t + DAY, "page_view"),
                    Step::Record(t + DAY + 1, Outcome::OptedOut),
                    ev(t + 2 * DAY, "page_view"),
                ],
            ]
            .concat(),
        ),
        (
            "quiet after a referral",
            "user-105",
            [
                onboard(),
                vec![
                    Step::Record(t, Outcome::Referred),
                    ev(t + DAY, "seat_added"),
                    ev(t + 31 * DAY, "seat_added"),
                ],
            ]
            .concat(),
        ),
    ];
    // The holdout case needs the experiment; the rest run without it so the
    // scripts do not depend on which bucket a user falls in.
    let with_experiment = config.clone();
    config.experiment = None;
    let mut out = Vec::new();
    for (name, user, steps) in scripts {
        out.push(run_script(&config, false, name, user, &steps)?);
    }
    let held_user = (0..10_000)
        .map(|i| format!("holdout-{i}"))
        .find(|u| referral_core::nudge::in_holdout(&with_experiment, u))
        .ok_or("no holdout user found")?;
    let variant_users: Vec<String> = (0..40).map(|i| format!("variant-{i}")).collect();
    out.push(run_script(
        &with_experiment,
        true,
        "holdout user is never asked",
        &held_user,
        &[
            onboard(),
            vec![ev(t, "seat_added"), ev(t + 10 * DAY, "cancel_started")],
        ]
        .concat(),
    )?);
    for user in variant_users
        .iter()
        .filter(|u| !referral_core::nudge::in_holdout(&with_experiment, u))
        .take(6)
    {
        out.push(run_script(
            &with_experiment,
            true,
            "experiment variant assignment",
            user,
            &[onboard(), vec![ev(t, "report_generated")]].concat(),
        )?);
    }
    // Translated variants: the example's variant has its own translations.
    for user in variant_users
        .iter()
        .filter(|u| !referral_core::nudge::in_holdout(&with_experiment, u))
        .take(4)
    {
        out.push(run_script(
            &with_experiment,
            true,
            "experiment variant in German",
            user,
            &[onboard(), vec![ev_in(t, "report_generated", "de-CH")]].concat(),
        )?);
    }
    // A variant without translations, under a config of its own (`config`).
    let locale_config = NudgeConfig::from_toml(LOCALE_CONFIG).map_err(|e| e.to_string())?;
    let locale_config_json = serde_json::to_value(&locale_config).map_err(|e| e.to_string())?;
    let mut arms = std::collections::BTreeSet::new();
    for user in &variant_users {
        let probe = Event::new("report_generated");
        let arm = match evaluate(&locale_config, &mut NudgeState::new(user), &probe, T0) {
            referral_core::nudge::Decision::Ask(ask) => ask.variant,
            quiet => return Err(format!("locale config did not ask: {quiet:?}")),
        };
        if !arms.insert(arm) {
            continue;
        }
        for locale in ["de", "pt-BR", "pt"] {
            let mut case = run_script(
                &locale_config,
                true,
                "variant with and without its own translations",
                user,
                &[ev_in(T0, "report_generated", locale)],
            )?;
            case["config"] = locale_config_json.clone();
            out.push(case);
        }
    }
    if arms.len() != 3 {
        return Err(format!("locale config arms not all reached: {arms:?}"));
    }
    let config_with: Value = serde_json::to_value(&with_experiment).map_err(|e| e.to_string())?;
    let config_without: Value = serde_json::to_value(&config).map_err(|e| e.to_string())?;
    Ok(json!({
        "comment": "replay `steps` for `user_id` from an empty state with the case's own `config` if it has one, else `config` (or `config_with_experiment` when `experiment` is true); an event's optional `locale` goes with it; after each event the decision must equal `decision`; at the end the state must equal `final_state`",
        "config": config_without,
        "config_with_experiment": config_with,
        "config_toml": source,
        "cases": out,
        "invalid_configs": invalid_configs(),
        "invalid_json_configs": invalid_json_configs(),
        "merge": super::nudge_merge::cases()?,
    }))
}

fn run_script(
    config: &NudgeConfig,
    experiment: bool,
    name: &str,
    user: &str,
    steps: &[Step],
) -> Result<Value, String> {
    let mut state = NudgeState::new(user);
    let mut rows = Vec::new();
    for step in steps {
        match step {
            Step::Event(at, event) => {
                let decision = evaluate(config, &mut state, event, *at);
                rows.push(json!({ "at": at, "event": event, "decision": decision }));
            }
            Step::Record(at, outcome) => {
                record(&mut state, *outcome, *at);
                rows.push(json!({ "at": at, "record": outcome }));
            }
        }
    }
    Ok(json!({
        "name": name,
        "user_id": user,
        "experiment": experiment,
        "steps": rows,
        "final_state": state,
    }))
}

/// Configs every loader must refuse, with the field it must name.
fn invalid_configs() -> Value {
    let base = r#"[[moments]]
name = "a"
event = "report_generated"
message = "Invite a friend to {product}"
"#;
    let cases = [
        (
            "unknown operator",
            format!("{base}when = [{{ property = \"score\", op = \"greater\", value = 9 }}]\n"),
            "moments[0].when[0].op",
        ),
        (
            "negative window",
            format!("{base}[suppression]\ncooldown_after_shown = \"-3d\"\n"),
            "suppression.cooldown_after_shown",
        ),
        (
            "unknown placeholder",
            base.replace("{product}", "{first_name}"),
            "moments[0].message",
        ),
        (
            "duplicate moment names",
            format!("{base}{base}"),
            "moments[1].name",
        ),
        (
            "locale tag with an underscore",
            format!("{base}messages = {{ de_DE = \"Lade jemanden zu {{product}} ein\" }}\n"),
            "moments[0].messages.de_DE",
        ),
        (
            "locale tag starting with a digit",
            format!("{base}messages = {{ 1de = \"Hallo\" }}\n"),
            "moments[0].messages.1de",
        ),
        (
            "variant locale tag too long",
            // 36 characters.
            format!(
                "{base}variants = [{{ name = \"b\", message = \"Hi\", messages = {{ de-abcdefgh-abcdefgh-abcdefgh-abcdef = \"Hallo\" }} }}]\n"
            ),
            "moments[0].variants[0].messages.de-abcdefgh-abcdefgh-abcdefgh-abcdef",
        ),
        (
            "unknown placeholder in a translation",
            format!("{base}messages = {{ de = \"Lade {{first_name}} zu {{product}} ein\" }}\n"),
            "moments[0].messages.de",
        ),
        (
            "unclosed placeholder in a variant's translation",
            format!(
                "{base}variants = [{{ name = \"b\", message = \"Hi\", messages = {{ ar = \"ادعُ {{product\" }} }}]\n"
            ),
            "moments[0].variants[0].messages.ar",
        ),
    ];
    Value::Array(
        cases
            .into_iter()
            .map(|(name, toml, field)| {
                let error = NudgeConfig::from_toml(&toml).err();
                // The same document as JSON, for loaders that take JSON (the
                // browser reads it as a JS object).
                let as_json: Value = toml_to_json(&toml);
                json!({
                    "name": name,
                    "toml": toml,
                    "json": as_json,
                    "field": error.as_ref().map(|e| e.field.clone()),
                    "expected_field": field,
                })
            })
            .collect(),
    )
}

fn toml_to_json(source: &str) -> Value {
    let table: toml::Table = toml::from_str(source).unwrap_or_default();
    serde_json::to_value(table).unwrap_or(Value::Null)
}

/// JSON configs every JSON loader must refuse, naming the same field as the
/// native `NudgeConfig::from_json` (shape errors TOML cannot express the
/// same way: unknown fields, wrong types, missing fields, `null`).
fn invalid_json_configs() -> Value {
    let moment = json!({"name": "a", "event": "report_generated", "message": "Invite a friend to {product}"});
    let with = |path: &[&str], value: Value| {
        let mut config = json!({ "moments": [moment.clone()] });
        let mut at = &mut config;
        for key in &path[..path.len() - 1] {
            at = if let Ok(i) = key.parse::<usize>() {
                &mut at[i]
            } else {
                &mut at[*key]
            };
        }
        at[path[path.len() - 1]] = value;
        config
    };
    let cases = [
        (
            "unknown top-level field",
            with(&["moment"], json!([])),
            "moment",
        ),
        (
            "unknown moment field",
            with(&["moments", "0", "colour"], json!("red")),
            "moments[0].colour",
        ),
        (
            "priority is not a number",
            with(&["moments", "0", "priority"], json!("high")),
            "moments[0].priority",
        ),
        (
            "occurrence is fractional",
            with(&["moments", "0", "occurrence"], json!(1.5)),
            "moments[0].occurrence",
        ),
        ("moments is not a list", json!({ "moments": {} }), "moments"),
        ("missing moments", json!({ "product": "Acme" }), "moments"),
        (
            "missing message",
            json!({ "moments": [{"name": "a", "event": "e"}] }),
            "moments[0].message",
        ),
        ("null product", with(&["product"], Value::Null), "product"),
        (
            "duration without unit",
            with(&["suppression"], json!({"friction_window": "5"})),
            "suppression.friction_window",
        ),
        (
            "negative seconds",
            with(&["eligibility"], json!({"min_account_age": -60})),
            "eligibility.min_account_age",
        ),
        (
            "cap of zero",
            with(&["suppression"], json!({"max_asks_per_30_days": 0})),
            "suppression.max_asks_per_30_days",
        ),
        (
            "holdout over 100%",
            with(
                &["experiment"],
                json!({"name": "x", "holdout_basis_points": 10001}),
            ),
            "experiment.holdout_basis_points",
        ),
        (
            "one_of with one value",
            with(
                &["moments", "0", "when"],
                json!([{"property": "plan", "op": "one_of", "value": "pro"}]),
            ),
            "moments[0].when[0].value",
        ),
        (
            "at_least with text",
            with(
                &["moments", "0", "when"],
                json!([{"property": "score", "op": "at_least", "value": "9"}]),
            ),
            "moments[0].when[0].value",
        ),
        (
            "reserved variant name",
            with(
                &["moments", "0", "variants"],
                json!([{"name": "control", "message": "Hi"}]),
            ),
            "moments[0].variants[0].name",
        ),
        (
            "moment event is friction",
            with(&["moments", "0", "event"], json!("error")),
            "moments[0].event",
        ),
        ("not an object", json!([1, 2]), "."),
        (
            "cap written as a float",
            with(&["suppression"], json!({"max_asks_per_30_days": 3.0})),
            "suppression.max_asks_per_30_days",
        ),
        (
            "priority over i32",
            with(&["moments", "0", "priority"], json!(3_000_000_000u64)),
            "moments[0].priority",
        ),
        (
            "window written as a float",
            with(&["suppression"], json!({"friction_window": 60.5})),
            "suppression.friction_window",
        ),
        (
            "messages is not an object",
            with(&["moments", "0", "messages"], json!(["de"])),
            "moments[0].messages",
        ),
        (
            "messages is null",
            with(&["moments", "0", "messages"], Value::Null),
            "moments[0].messages",
        ),
        (
            "translation is not text",
            with(&["moments", "0", "messages"], json!({"de": 5})),
            "moments[0].messages.de",
        ),
        (
            "the same locale twice, ignoring case",
            with(
                &["moments", "0", "messages"],
                json!({"de": "Hallo {product}", "DE": "Hallo"}),
            ),
            // Written in key order: `DE` first, so `de` is the repeat.
            "moments[0].messages.de",
        ),
        (
            "empty locale tag",
            with(&["moments", "0", "messages"], json!({"": "Hallo"})),
            "moments[0].messages.",
        ),
        (
            "unknown variant field",
            with(
                &["moments", "0", "variants"],
                json!([{"name": "b", "message": "Hi", "messages": {}, "locale": "de"}]),
            ),
            "moments[0].variants[0].locale",
        ),
        (
            "too many moments",
            json!({ "moments": (0..257).map(|i| json!({"name": format!("m{i}"), "event": "e", "message": "Hi"})).collect::<Vec<_>>() }),
            "moments",
        ),
    ];
    Value::Array(
        cases
            .into_iter()
            .map(|(name, config, field)| {
                let error = NudgeConfig::from_json(&config.to_string()).err();
                json!({
                    "name": name,
                    "json": config,
                    "field": error.as_ref().map(|e| e.field.clone()),
                    "expected_field": field,
                })
            })
            .collect(),
    )
}
