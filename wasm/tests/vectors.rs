//! The shared vector file, run inside headless Chromium through the same
//! exports the widget's JS calls, with the same JS objects: the WASM build
//! must decide exactly like native for every peek, share, config and nudge
//! case.

#![cfg(target_arch = "wasm32")]

use referral_wasm::{capture, peek, qr_path, referral_url_js, share_action_js, NudgeEngine};
use serde_json::{json, Value};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../tests/vectors/vectors.json")).expect("vectors")
}

/// A JSON value as the JS object `JSON.parse` gives the widget.
fn js(value: &Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).expect("valid JSON")
}

/// A JS value back as JSON, as `JSON.stringify` would store it.
fn json_of(value: &JsValue) -> Value {
    let text: String = js_sys::JSON::stringify(value).expect("serialisable").into();
    serde_json::from_str(&text).expect("JSON")
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
            None => assert_eq!(json_of(&result.unwrap()), case["ok"], "{}", case["name"]),
        }
    }
}

#[wasm_bindgen_test]
fn share_cases_decide_like_native() {
    let v = vectors();
    let share = &v["share"];
    let message = js(&share["message"]);
    let vars = js(&share["vars"]);
    for case in share["cases"].as_array().unwrap() {
        let channel = case["channel"].as_str().unwrap();
        let link = referral_url_js(
            js(&case["link_options"]),
            case["code"].as_str().unwrap(),
            channel,
        )
        .unwrap();
        assert_eq!(link, case["link"].as_str().unwrap(), "{}", case["name"]);
        let action = share_action_js(channel, &link, message.clone(), vars.clone()).unwrap();
        assert_eq!(json_of(&action), case["action"], "{}", case["name"]);
    }
    for case in share["invalid_base_urls"].as_array().unwrap() {
        let options = js(&json!({ "base_url": case["base_url"] }));
        assert_eq!(
            error_code(referral_url_js(options, "C", "link").unwrap_err()),
            case["error"].as_str().unwrap()
        );
    }
    for case in share["invalid_templates"].as_array().unwrap() {
        let bad = js(&json!({ "subject": "Hi", "body": case["template"] }));
        assert_eq!(
            error_code(
                share_action_js("email", "https://a.example/", bad, vars.clone()).unwrap_err()
            ),
            case["error"].as_str().unwrap()
        );
    }
    let missing_body = js(&json!({ "subject": "Hi" }));
    assert_eq!(
        error_code(share_action_js("email", "https://a.example/", missing_body, vars).unwrap_err()),
        "invalid_input"
    );
}

#[wasm_bindgen_test]
fn nudge_cases_decide_like_native() {
    let v = vectors();
    let nudge = &v["nudge"];
    let plain = NudgeEngine::new(js(&nudge["config"])).unwrap();
    let with_experiment = NudgeEngine::new(js(&nudge["config_with_experiment"])).unwrap();
    for case in nudge["cases"].as_array().unwrap() {
        let engine = if case["experiment"].as_bool().unwrap() {
            &with_experiment
        } else {
            &plain
        };
        // Stored and read back as text each step, as localStorage does.
        let mut state = json_of(&engine.new_state(case["user_id"].as_str().unwrap()));
        for step in case["steps"].as_array().unwrap() {
            let at = step["at"].as_u64().unwrap() as f64;
            if let Some(event) = step.get("event") {
                let out = json_of(&engine.evaluate(js(&state), js(event), at).unwrap());
                assert_eq!(
                    out["decision"], step["decision"],
                    "{} at {at}",
                    case["name"]
                );
                state = out["state"].clone();
            } else {
                let record = step["record"].as_str().unwrap();
                state = json_of(&engine.record(js(&state), record, at).unwrap());
            }
        }
        assert_eq!(state, case["final_state"], "{}", case["name"]);
    }
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
        let err = NudgeEngine::new(js(&case["json"]))
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
    // Not even an object.
    for value in [
        JsValue::NULL,
        JsValue::UNDEFINED,
        JsValue::from_str("moments"),
    ] {
        assert_eq!(
            error_code(NudgeEngine::new(value).err().unwrap()),
            "invalid_nudge_config"
        );
    }
}

#[wasm_bindgen_test]
fn stored_states_of_every_version_read_back() {
    let v = vectors();
    let engine = NudgeEngine::new(js(&v["nudge"]["config"])).unwrap();
    let now = 1_780_000_000.0;
    let report = js(&json!({"name": "report_generated"}));
    // Version 1 (no `v`, or `v: 1`) is migrated by core: the opt-out survives.
    let v1 = json!({"v": 1, "user_id": "u1", "last_friction": {"event": "error", "at": 100}, "asked_at": [90, 50], "dismissed_at": 95, "opted_out": true});
    let out = json_of(&engine.evaluate(js(&v1), report.clone(), now).unwrap());
    assert_eq!(out["decision"]["reason"]["code"], "opted_out");
    assert_eq!(out["state"]["v"], 2);
    assert_eq!(out["state"]["asks"], json!([50, 90]));
    assert_eq!(out["state"]["last_dismissed"], 95);
    assert_eq!(out["state"]["opted_out_at"], 0);
    let unversioned = json!({"user_id": "u2"});
    assert_eq!(
        json_of(&engine.record(js(&unversioned), "shown", now).unwrap())["user_id"],
        "u2"
    );
    // A newer version, or anything unreadable, is refused with a reason.
    let future = json!({"v": 99, "user_id": "u"});
    assert_eq!(
        error_code(
            engine
                .evaluate(js(&future), report.clone(), now)
                .unwrap_err()
        ),
        "future_state_version"
    );
    for corrupt in [
        json!("{corrupt"),
        json!(null),
        json!({"v": 2}),
        json!({"v": 2, "user_id": "u", "asks": [-1]}),
        json!({"v": 2, "user_id": "u", "counts": {"x": "many"}}),
    ] {
        assert_eq!(
            error_code(
                engine
                    .evaluate(js(&corrupt), report.clone(), now)
                    .unwrap_err()
            ),
            "invalid_state",
            "{corrupt}"
        );
    }
    let state = engine.new_state("u");
    assert_eq!(
        error_code(
            engine
                .evaluate(state.clone(), report.clone(), -1.0)
                .unwrap_err()
        ),
        "invalid_input"
    );
    assert_eq!(
        error_code(
            engine
                .evaluate(state.clone(), js(&json!({"properties": {}})), now)
                .unwrap_err()
        ),
        "invalid_input"
    );
    assert_eq!(
        error_code(engine.record(state, "liked", now).unwrap_err()),
        "invalid_input"
    );
}

#[wasm_bindgen_test]
fn capture_reads_the_code_and_cleans_the_url() {
    let v = vectors();
    let code = v["codes"]["mint"]["cases"][0]["code"].as_str().unwrap();
    let url = format!("https://app.example.com/join?utm_source=referral&ref={code}#plans");
    let captured = json_of(&capture(&url, "ref"));
    assert_eq!(captured["code"], code);
    assert_eq!(
        captured["clean_url"],
        "https://app.example.com/join?utm_source=referral#plans"
    );
    assert_eq!(captured["claims"], v["codes"]["mint"]["cases"][0]["claims"]);
    assert!(capture("https://app.example.com/join?ref=not-a-code", "ref").is_undefined());
    assert!(capture("https://app.example.com/join", "ref").is_undefined());
}

#[wasm_bindgen_test]
fn qr_codes_are_drawn_as_paths() {
    let qr = json_of(&qr_path("https://app.example.com/join?ref=7n4xfrZR3wlhiF3VmIi0xd").unwrap());
    // Version 4 (33 modules) for a 58-byte URL at medium correction, plus the quiet zone.
    assert_eq!(qr["size"], 41);
    let path = qr["path"].as_str().unwrap();
    assert!(
        path.starts_with("M4 4h1v1h-1z"),
        "the finder pattern's corner is dark"
    );
    assert!(path.len() > 1000);
}
