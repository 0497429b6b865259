//! Replays the shared vector file's `nudge` section.
#![allow(clippy::unwrap_used)]

use referral_core::nudge::{
    evaluate, merge_states, record, Decision, Event, NudgeConfig, NudgeState, Outcome,
};
use serde_json::Value;

#[test]
fn nudge_cases_decide_identically() {
    let vectors: Value =
        serde_json::from_str(include_str!("../../tests/vectors/vectors.json")).unwrap();
    let nudge = &vectors["nudge"];
    let plain: NudgeConfig = serde_json::from_value(nudge["config"].clone()).unwrap();
    plain.validate().unwrap();
    let with_experiment: NudgeConfig =
        serde_json::from_value(nudge["config_with_experiment"].clone()).unwrap();
    let from_toml = NudgeConfig::from_toml(nudge["config_toml"].as_str().unwrap()).unwrap();
    assert_eq!(from_toml, with_experiment);
    let mut variants = std::collections::BTreeSet::new();
    let cases = nudge["cases"].as_array().unwrap();
    assert!(cases.len() >= 8);
    let mut locales = std::collections::BTreeSet::new();
    for case in cases {
        // A case may bring its own config (translations per variant).
        let own: Option<NudgeConfig> = case
            .get("config")
            .map(|c| NudgeConfig::from_json(&c.to_string()).unwrap());
        let config = if let Some(own) = &own {
            own
        } else if case["experiment"].as_bool().unwrap() {
            &with_experiment
        } else {
            &plain
        };
        let mut state = NudgeState::new(case["user_id"].as_str().unwrap());
        for step in case["steps"].as_array().unwrap() {
            let at = step["at"].as_u64().unwrap();
            if let Some(event) = step.get("event") {
                let event: Event = serde_json::from_value(event.clone()).unwrap();
                let decision = evaluate(config, &mut state, &event, at);
                let expected: Decision = serde_json::from_value(step["decision"].clone()).unwrap();
                assert_eq!(decision, expected, "{} at {at}", case["name"]);
                if let Decision::Ask(ask) = decision {
                    variants.insert(ask.variant);
                    locales.insert((event.locale, ask.locale));
                }
            } else {
                let outcome: Outcome = serde_json::from_value(step["record"].clone()).unwrap();
                record(&mut state, outcome, at);
            }
        }
        let expected: NudgeState = serde_json::from_value(case["final_state"].clone()).unwrap();
        assert_eq!(state, expected, "{}", case["name"]);
    }
    assert!(
        variants.len() >= 2,
        "vectors must exercise more than one variant: {variants:?}"
    );
    // Exact tag, case-insensitive tag, region fallback, unknown locale.
    for (asked, shown) in [
        ("de", Some("de")),
        ("AR", Some("ar")),
        ("ar-EG", Some("ar")),
        ("pt-BR", Some("pt-BR")),
        ("fr-FR", None),
    ] {
        assert!(
            locales.contains(&(Some(asked.to_owned()), shown.map(str::to_owned))),
            "vectors must pick {shown:?} for {asked}: {locales:?}"
        );
    }
    for case in nudge["invalid_configs"].as_array().unwrap() {
        let expected = case["expected_field"].as_str().unwrap();
        let error =
            NudgeConfig::from_toml(case["toml"].as_str().unwrap()).expect_err("invalid config");
        assert_eq!(error.field, expected, "{} (TOML)", case["name"]);
        let error = NudgeConfig::from_json(&case["json"].to_string()).expect_err("invalid config");
        assert_eq!(error.field, expected, "{} (JSON)", case["name"]);
    }
    let json_cases = nudge["invalid_json_configs"].as_array().unwrap();
    assert!(json_cases.len() >= 15);
    for case in json_cases {
        let error = NudgeConfig::from_json(&case["json"].to_string()).expect_err("invalid config");
        assert_eq!(
            error.field,
            case["expected_field"].as_str().unwrap(),
            "{}",
            case["name"]
        );
    }
}

/// `nudge.merge`: two stored copies of one person's state, read as any
/// stored state is read, merge to `merged` in either order (or fail with
/// `error` in either order).
#[test]
fn merge_cases_merge_identically_in_either_order() {
    let vectors: Value =
        serde_json::from_str(include_str!("../../tests/vectors/vectors.json")).unwrap();
    let cases = vectors["nudge"]["merge"]["cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    assert!(cases
        .iter()
        .any(|c| c["a"]["v"] == 1 || c["a"].get("v").is_none()));
    assert!(cases.iter().any(|c| c["error"] == "invalid_state"));
    for case in cases {
        let name = &case["name"];
        let a = NudgeState::from_json(&case["a"].to_string()).unwrap();
        let b = NudgeState::from_json(&case["b"].to_string()).unwrap();
        let (ab, ba) = (merge_states(&a, &b), merge_states(&b, &a));
        if let Some(reason) = case.get("error") {
            assert_eq!(ab.unwrap_err().reason(), reason, "{name} (a, b)");
            assert_eq!(ba.unwrap_err().reason(), reason, "{name} (b, a)");
            continue;
        }
        let (ab, ba) = (ab.unwrap(), ba.unwrap());
        // The exact stored JSON, and the state it reads back as.
        assert_eq!(
            serde_json::to_value(&ab).unwrap(),
            case["merged"],
            "{name} (a, b)"
        );
        assert_eq!(
            serde_json::to_value(&ba).unwrap(),
            case["merged"],
            "{name} (b, a)"
        );
        let expected = NudgeState::from_json(&case["merged"].to_string()).unwrap();
        assert_eq!(ab, expected, "{name}");
        assert_eq!(ba, expected, "{name}");
        // Merging the result again with either copy changes nothing.
        assert_eq!(merge_states(&ab, &a).unwrap(), ab, "{name} (ab, a)");
        assert_eq!(merge_states(&ab, &b).unwrap(), ab, "{name} (ab, b)");
    }
}

#[test]
fn duplicate_fields_are_refused_naming_the_field() {
    // Every JSON loader (native serde, the browser's reader) refuses these.
    let moment = r#"{"name": "a", "event": "e", "message": "Hi"}"#;
    let cases = [
        (
            format!(r#"{{"moments": [{moment}], "product": "a", "product": "b"}}"#),
            "product",
        ),
        (
            r#"{"moments": [{"name": "a", "name": "b", "event": "e", "message": "Hi"}]}"#
                .to_owned(),
            "moments[0].name",
        ),
    ];
    for (text, field) in cases {
        let error = NudgeConfig::from_json(&text).expect_err("duplicate field");
        assert_eq!(error.field, field, "{text}");
    }
}

#[test]
fn wire_names_parse_as_serde_writes_them() {
    use referral_core::nudge::Operator;
    for outcome in Outcome::ALL {
        let name = serde_json::to_value(outcome).unwrap();
        assert_eq!(name, outcome.as_str());
        assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
    }
    for op in Operator::ALL {
        let name = serde_json::to_value(op).unwrap();
        assert_eq!(name, op.as_str());
        assert_eq!(Operator::parse(op.as_str()), Some(op));
    }
    assert_eq!(Outcome::parse("liked"), None);
    assert_eq!(Operator::parse("greater"), None);
    // Utm::new's source is serde's default source.
    let utm: referral_core::Utm = serde_json::from_str(r#"{"campaign": "spring"}"#).unwrap();
    assert_eq!(utm, referral_core::Utm::new("spring"));
}
