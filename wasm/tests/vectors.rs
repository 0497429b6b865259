//! The shared vector file, run inside headless Chromium through the same
//! exports the widget's JS calls, with the same JSON text: the WASM build
//! must decide exactly like native for every peek, share, config and nudge
//! case.
#![allow(clippy::unwrap_used)]
// The widget's module only: the capture's (`--no-default-features`) has no
// wasm-bindgen exports; the e2e suite and core's fuzz test cover it.
#![cfg(all(target_arch = "wasm32", feature = "widget"))]

use referral_wasm::{peek, qr_path, referral_url_js, share_action_js, NudgeEngine};
use serde_json::{json, Value};
use wasm_bindgen::{JsCast, JsValue};

const NOW: f64 = 1_780_000_000.0;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../tests/vectors/vectors.json")).expect("vectors")
}

fn value(json: &str) -> Value {
    serde_json::from_str(json).expect("the module returns JSON")
}

fn error_field(error: &JsValue, field: &str) -> Option<String> {
    js_sys::Reflect::get(error, &field.into())
        .ok()
        .and_then(|c| c.as_string())
}

fn error_code(error: JsValue) -> String {
    let error: js_sys::Error = error.dyn_into().expect("a real Error object");
    assert_eq!(String::from(error.name()), "ReferralError");
    error_field(&error, "code").expect("a code")
}

#[wasm_bindgen_test]
fn peek_cases_decide_like_native() {
    let v = vectors();
    let cases = v["codes"]["peek"]["cases"].as_array().unwrap();
    assert!(cases.len() > 20);
    for case in cases {
        let result = peek(case["code"].as_str().unwrap());
        match case.get("error") {
            Some(expected) => assert_eq!(
                &error_code(result.unwrap_err()),
                expected,
                "{}",
                case["name"]
            ),
            None => assert_eq!(value(&result.unwrap()), case["ok"], "{}", case["name"]),
        }
    }
}

fn url_for(options: &Value, code: &str, channel: &str) -> Result<String, JsValue> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    referral_url_js(
        options["base_url"].as_str().unwrap(),
        text(&options["param"]),
        text(&options["utm"]["source"]),
        text(&options["utm"]["campaign"]),
        code,
        channel,
    )
}

fn share(channel: &str, link: &str, message: &Value, vars: &Value) -> Result<String, JsValue> {
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    share_action_js(
        channel,
        link,
        &text(&message["subject"]),
        &text(&message["body"]),
        &text(&vars["referrer_name"]),
        &text(&vars["product"]),
        &text(&vars["reward"]),
    )
}

#[wasm_bindgen_test]
fn share_cases_decide_like_native() {
    let v = vectors();
    let shared = &v["share"];
    let message = &shared["message"];
    let vars = &shared["vars"];
    for case in shared["cases"].as_array().unwrap() {
        let channel = case["channel"].as_str().unwrap();
        let link = url_for(
            &case["link_options"],
            case["code"].as_str().unwrap(),
            channel,
        )
        .unwrap();
        assert_eq!(link, case["link"].as_str().unwrap(), "{}", case["name"]);
        let action = share(channel, &link, message, vars).unwrap();
        assert_eq!(value(&action), case["action"], "{}", case["name"]);
    }
    for case in shared["invalid_base_urls"].as_array().unwrap() {
        let options = json!({ "base_url": case["base_url"] });
        assert_eq!(
            error_code(url_for(&options, "C", "link").unwrap_err()),
            case["error"].as_str().unwrap()
        );
    }
    for case in shared["invalid_templates"].as_array().unwrap() {
        let bad = json!({ "subject": "Hi", "body": case["template"] });
        assert_eq!(
            error_code(share("email", "https://a.example/", &bad, vars).unwrap_err()),
            case["error"].as_str().unwrap()
        );
    }
    assert_eq!(
        error_code(share("fax", "https://a.example/", message, vars).unwrap_err()),
        "invalid_input"
    );
}

#[wasm_bindgen_test]
fn nudge_cases_decide_like_native() {
    let v = vectors();
    let nudge = &v["nudge"];
    let plain = NudgeEngine::new(&nudge["config"].to_string()).unwrap();
    let with_experiment = NudgeEngine::new(&nudge["config_with_experiment"].to_string()).unwrap();
    let mut translated = 0;
    for case in nudge["cases"].as_array().unwrap() {
        // A case may bring its own config (translations per variant).
        let own = case
            .get("config")
            .map(|c| NudgeEngine::new(&c.to_string()).unwrap());
        let engine = if let Some(own) = &own {
            own
        } else if case["experiment"].as_bool().unwrap() {
            &with_experiment
        } else {
            &plain
        };
        // The state goes round as text, as localStorage keeps it.
        let mut state = engine.new_state(case["user_id"].as_str().unwrap());
        for step in case["steps"].as_array().unwrap() {
            let at = step["at"].as_u64().unwrap() as f64;
            if let Some(event) = step.get("event") {
                let out = value(&engine.evaluate(&state, &event.to_string(), at).unwrap());
                assert_eq!(
                    out["decision"], step["decision"],
                    "{} at {at}",
                    case["name"]
                );
                translated += usize::from(out["decision"].get("locale").is_some());
                state = out["state"].to_string();
            } else {
                state = engine
                    .record(&state, step["record"].as_str().unwrap(), at)
                    .unwrap();
            }
        }
        assert_eq!(value(&state), case["final_state"], "{}", case["name"]);
    }
    assert!(translated >= 8, "too few translated asks: {translated}");
}

#[wasm_bindgen_test]
fn invalid_configs_are_refused_naming_the_field_like_native() {
    let v = vectors();
    let nudge = &v["nudge"];
    let cases: Vec<&Value> = nudge["invalid_configs"]
        .as_array()
        .unwrap()
        .iter()
        .chain(nudge["invalid_json_configs"].as_array().unwrap())
        .collect();
    assert!(cases.len() >= 20);
    for case in cases {
        let err = NudgeEngine::new(&case["json"].to_string())
            .err()
            .unwrap_or_else(|| panic!("{} must be refused", case["name"]));
        assert_eq!(
            error_field(&err, "field").as_deref(),
            case["expected_field"].as_str(),
            "{}",
            case["name"]
        );
        assert_eq!(error_code(err), "invalid_nudge_config", "{}", case["name"]);
    }
    // Fields given twice are refused naming the field, as natively
    // (`core/tests/nudge_vectors.rs` checks the same texts there).
    let moment = r#"{"name": "a", "event": "e", "message": "Hi"}"#;
    for (text, field) in [
        (
            format!(r#"{{"moments": [{moment}], "product": "a", "product": "b"}}"#),
            "product",
        ),
        (
            r#"{"moments": [{"name": "a", "name": "b", "event": "e", "message": "Hi"}]}"#
                .to_owned(),
            "moments[0].name",
        ),
    ] {
        let err = NudgeEngine::new(&text).err().unwrap();
        assert_eq!(error_field(&err, "field").as_deref(), Some(field), "{text}");
    }
    for text in ["", "null", "\"moments\"", "{\"moments\": [", "[]"] {
        let err = NudgeEngine::new(text).err().unwrap();
        assert_eq!(error_field(&err, "field").as_deref(), Some("."), "{text}");
        assert_eq!(error_code(err), "invalid_nudge_config", "{text}");
    }
}

#[wasm_bindgen_test]
fn stored_states_of_every_version_read_back() {
    let v = vectors();
    let engine = NudgeEngine::new(&v["nudge"]["config"].to_string()).unwrap();
    let report = json!({"name": "report_generated"}).to_string();
    let evaluate = |state: &Value| engine.evaluate(&state.to_string(), &report, NOW);
    // Version 1 (no `v`, or `v: 1`) is migrated by core: the opt-out survives.
    let v1 = json!({"v": 1, "user_id": "u1", "last_friction": {"event": "error", "at": 100}, "asked_at": [90, 50], "dismissed_at": 95, "opted_out": true});
    let out = value(&evaluate(&v1).unwrap());
    assert_eq!(out["decision"]["reason"]["code"], "opted_out");
    assert_eq!(out["state"]["v"], 2);
    assert_eq!(out["state"]["asks"], json!([50, 90]));
    assert_eq!(out["state"]["last_dismissed"], 95);
    assert_eq!(out["state"]["opted_out_at"], 0);
    // Integers past 2^53 (a native SDK may store them) read and write back
    // exactly; unknown fields inside a friction mark are ignored, as in serde.
    let big = r#"{"v": 2, "user_id": "u", "first_seen": 9007199254740993, "friction": [{"event": "error", "at": 5, "note": "x"}]}"#;
    let written = engine.record(big, "shown", NOW).unwrap();
    assert!(
        written.contains("\"first_seen\":9007199254740993"),
        "{written}"
    );
    assert_eq!(value(&written)["friction"][0]["at"], 5);
    // Numbers written as floats are not integers, as in serde.
    for text in [
        r#"{"v": 2.0, "user_id": "u"}"#,
        r#"{"v": 2, "user_id": "u", "asks": [1e2]}"#,
        r#"{"v": 2, "user_id": "u", "total_asks": -0}"#,
    ] {
        assert_eq!(
            error_code(engine.evaluate(text, &report, NOW).unwrap_err()),
            "invalid_state",
            "{text}"
        );
    }
    // More counters than any config can have moments: refused, not read.
    let counts: Vec<String> = (0..=256).map(|i| format!("\"e{i}\": 1")).collect();
    let crowded = format!(
        r#"{{"v": 2, "user_id": "u", "counts": {{{}}}}}"#,
        counts.join(", ")
    );
    assert_eq!(
        error_code(engine.evaluate(&crowded, &report, NOW).unwrap_err()),
        "invalid_state"
    );
    // A repeated event in the counts map keeps its last value, as serde's map.
    let repeated = r#"{"v": 2, "user_id": "u", "counts": {"seat_added": 1, "seat_added": 7}}"#;
    let out = value(&engine.record(repeated, "shown", NOW).unwrap());
    assert_eq!(out["counts"]["seat_added"], 7);
    let unversioned = json!({"user_id": "u2"}).to_string();
    assert_eq!(
        value(&engine.record(&unversioned, "shown", NOW).unwrap())["user_id"],
        "u2"
    );
    // A newer version, or anything unreadable, is refused with a reason.
    assert_eq!(
        error_code(evaluate(&json!({"v": 99, "user_id": "u"})).unwrap_err()),
        "future_state_version"
    );
    for corrupt in [
        json!(null),
        json!({"v": 2}),
        json!({"v": 2, "user_id": "u", "asks": [-1]}),
        json!({"v": 2, "user_id": "u", "counts": {"x": "many"}}),
        json!({"v": 2, "user_id": "u", "friction": [{"event": "error"}]}),
    ] {
        assert_eq!(
            error_code(evaluate(&corrupt).unwrap_err()),
            "invalid_state",
            "{corrupt}"
        );
    }
    for text in ["{corrupt", "", "{\"v\": 2, \"user_id\": \"u\"} trailing"] {
        assert_eq!(
            error_code(engine.evaluate(text, &report, NOW).unwrap_err()),
            "invalid_state",
            "{text}"
        );
    }
    let state = engine.new_state("u");
    assert_eq!(
        error_code(engine.evaluate(&state, &report, -1.0).unwrap_err()),
        "invalid_input"
    );
    assert_eq!(
        error_code(
            engine
                .evaluate(&state, "{\"properties\": {}}", NOW)
                .unwrap_err()
        ),
        "invalid_input"
    );
    assert_eq!(
        error_code(engine.record(&state, "liked", NOW).unwrap_err()),
        "invalid_input"
    );
    // Float properties go through the JS engine's parseFloat: 9.5 ≥ 9 asks.
    let nps = json!({"name": "nps_submitted", "properties": {"score": 9.5}}).to_string();
    let fresh = json!({"v": 2, "user_id": "u", "profile": {"signed_up_at": 1, "onboarding_completed_at": 2}}).to_string();
    let out = value(&engine.evaluate(&fresh, &nps, NOW).unwrap());
    assert_eq!(out["decision"]["moment"], "nps_promoter", "{out}");
    let low = json!({"name": "nps_submitted", "properties": {"score": 8.75e0}}).to_string();
    let out = value(&engine.evaluate(&fresh, &low, NOW).unwrap());
    assert_eq!(out["decision"]["decision"], "quiet", "{out}");
}

#[wasm_bindgen_test]
fn merge_cases_merge_like_native_in_either_order() {
    let v = vectors();
    let nudge = &v["nudge"];
    let engine = NudgeEngine::new(&nudge["config"].to_string()).unwrap();
    let cases = nudge["merge"]["cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for case in cases {
        let name = &case["name"];
        // Both copies go in as the text storage or the backend holds.
        let (a, b) = (case["a"].to_string(), case["b"].to_string());
        for (first, second, order) in [(&a, &b, "(a, b)"), (&b, &a, "(b, a)")] {
            let merged = engine.merge(first, second);
            match case.get("error") {
                Some(reason) => {
                    assert_eq!(&error_code(merged.unwrap_err()), reason, "{name} {order}")
                }
                None => assert_eq!(value(&merged.unwrap()), case["merged"], "{name} {order}"),
            }
        }
    }
}

#[wasm_bindgen_test]
fn qr_codes_are_drawn_as_paths() {
    let qr = value(&qr_path("https://app.example.com/join?ref=7n4xfrZR3wlhiF3VmIi0xd").unwrap());
    // Version 4 (33 modules) for a 58-byte URL at medium correction, plus the quiet zone.
    assert_eq!(qr["size"], 41);
    let path = qr["path"].as_str().unwrap();
    assert!(
        path.starts_with("M4 4h1v1h-1z"),
        "the finder pattern's corner is dark"
    );
    assert!(path.len() > 1000);
}
