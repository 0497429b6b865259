//! The shared vector file, run inside headless Chromium through the same
//! exports the widget's JS calls: the WASM build must decide exactly like
//! native for every peek, share and nudge case.

#![cfg(target_arch = "wasm32")]

use referral_wasm::{
    capture_json, peek_json, qr_path_json, referral_url_js, share_action_json, NudgeEngine,
};
use serde_json::Value;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../tests/vectors/vectors.json")).expect("vectors")
}

fn error_code(error: wasm_bindgen::JsValue) -> String {
    let error: js_sys::Error = error.dyn_into().expect("a real Error object");
    assert_eq!(String::from(error.name()), "ReferralError");
    js_sys::Reflect::get(&error, &"code".into())
        .ok()
        .and_then(|c| c.as_string())
        .expect("a code")
}

#[wasm_bindgen_test]
fn peek_cases_decide_like_native() {
    let v = vectors();
    let cases = v["codes"]["peek"]["cases"].as_array().unwrap();
    assert!(cases.len() > 20);
    for case in cases {
        let result = peek_json(case["code"].as_str().unwrap());
        match case.get("error") {
            Some(expected) => assert_eq!(
                &error_code(result.unwrap_err()),
                expected,
                "{}",
                case["name"]
            ),
            None => {
                let claims: Value = serde_json::from_str(&result.unwrap()).unwrap();
                assert_eq!(claims, case["ok"], "{}", case["name"]);
            }
        }
    }
}

#[wasm_bindgen_test]
fn share_cases_decide_like_native() {
    let v = vectors();
    let share = &v["share"];
    let message = share["message"].to_string();
    let vars = share["vars"].to_string();
    for case in share["cases"].as_array().unwrap() {
        let channel = case["channel"].as_str().unwrap();
        let link = referral_url_js(
            &case["link_options"].to_string(),
            case["code"].as_str().unwrap(),
            channel,
        )
        .unwrap();
        assert_eq!(link, case["link"].as_str().unwrap(), "{}", case["name"]);
        let action: Value =
            serde_json::from_str(&share_action_json(channel, &link, &message, &vars).unwrap())
                .unwrap();
        assert_eq!(action, case["action"], "{}", case["name"]);
    }
    for case in share["invalid_base_urls"].as_array().unwrap() {
        let options = serde_json::json!({ "base_url": case["base_url"] }).to_string();
        assert_eq!(
            error_code(referral_url_js(&options, "C", "link").unwrap_err()),
            case["error"].as_str().unwrap()
        );
    }
}

#[wasm_bindgen_test]
fn nudge_cases_decide_like_native() {
    let v = vectors();
    let nudge = &v["nudge"];
    let plain = NudgeEngine::new(&nudge["config"].to_string()).unwrap();
    let with_experiment = NudgeEngine::new(&nudge["config_with_experiment"].to_string()).unwrap();
    for case in nudge["cases"].as_array().unwrap() {
        let engine = if case["experiment"].as_bool().unwrap() {
            &with_experiment
        } else {
            &plain
        };
        let mut state = engine.new_state(case["user_id"].as_str().unwrap()).unwrap();
        for step in case["steps"].as_array().unwrap() {
            let at = step["at"].as_u64().unwrap() as f64;
            if let Some(event) = step.get("event") {
                let out: Value =
                    serde_json::from_str(&engine.evaluate(&state, &event.to_string(), at).unwrap())
                        .unwrap();
                assert_eq!(
                    out["decision"], step["decision"],
                    "{} at {at}",
                    case["name"]
                );
                state = out["state"].to_string();
            } else {
                state = engine
                    .record(&state, step["record"].as_str().unwrap(), at)
                    .unwrap();
            }
        }
        let final_state: Value = serde_json::from_str(&state).unwrap();
        assert_eq!(final_state, case["final_state"], "{}", case["name"]);
    }
    let bad = serde_json::json!({"moments": [{"name": "a", "event": "e", "message": "{nope}"}]})
        .to_string();
    assert_eq!(
        error_code(NudgeEngine::new(&bad).err().unwrap()),
        "invalid_nudge_config"
    );
    assert_eq!(
        error_code(
            plain
                .evaluate("{corrupt", "{\"name\":\"x\"}", 1.0)
                .unwrap_err()
        ),
        "invalid_state"
    );
    assert_eq!(
        error_code(
            plain
                .evaluate(&plain.new_state("u").unwrap(), "{\"name\":\"x\"}", -1.0)
                .unwrap_err()
        ),
        "invalid_input"
    );
}

#[wasm_bindgen_test]
fn capture_reads_the_code_and_cleans_the_url() {
    let v = vectors();
    let code = v["codes"]["mint"]["cases"][0]["code"].as_str().unwrap();
    let url = format!("https://app.example.com/join?utm_source=referral&ref={code}#plans");
    let captured: Value = serde_json::from_str(&capture_json(&url, "ref").unwrap()).unwrap();
    assert_eq!(captured["code"], code);
    assert_eq!(
        captured["clean_url"],
        "https://app.example.com/join?utm_source=referral#plans"
    );
    assert_eq!(captured["claims"], v["codes"]["mint"]["cases"][0]["claims"]);
    assert!(capture_json("https://app.example.com/join?ref=not-a-code", "ref").is_none());
    assert!(capture_json("https://app.example.com/join", "ref").is_none());
}

#[wasm_bindgen_test]
fn qr_codes_are_drawn_as_paths() {
    let qr: Value = serde_json::from_str(
        &qr_path_json("https://app.example.com/join?ref=7n4xfrZR3wlhiF3VmIi0xd").unwrap(),
    )
    .unwrap();
    // Version 4 (33 modules) for a 58-byte URL at medium correction, plus the quiet zone.
    assert_eq!(qr["size"], 41);
    let path = qr["path"].as_str().unwrap();
    assert!(
        path.starts_with("M4 4h1v1h-1z"),
        "the finder pattern's corner is dark"
    );
    assert!(path.len() > 1000);
}
