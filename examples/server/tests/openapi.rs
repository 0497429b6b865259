//! The contract, machine-checked: `examples/server/openapi.json` against
//! the router.
//!
//! - Every path the source mounts (each `.route("…")` literal under `src/`,
//!   the demo host's aside) is in the spec and every spec path is mounted;
//!   for each, the methods that reach a handler (not 405, not the fallback's
//!   404) are exactly the spec's.
//! - Representative requests through the router, each response validated
//!   against the spec's schema for its status (a small JSON Schema
//!   validator below: `$ref`, `type`, `properties`, `required`,
//!   `additionalProperties`, `items`, `enum`, `const`, `oneOf`, `anyOf`,
//!   lengths and bounds — what the spec uses).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use common::{service, Call, Reply, Service};
use serde_json::{json, Value};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("openapi.json parses")
}

// ---- the validator ----

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.strip_prefix('#').expect("local $ref");
            resolve(spec, spec.pointer(pointer).expect("$ref resolves"))
        }
        None => schema,
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        other => panic!("unknown type {other} in the spec"),
    }
}

/// The problems of `v` against `schema`, each with its JSON pointer.
fn validate(spec: &Value, schema: &Value, v: &Value, at: &str, problems: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    let mut fail = |what: String| problems.push(format!("{at}: {what}"));
    if let Some(t) = schema.get("type") {
        let ok = match t {
            Value::String(t) => type_matches(t, v),
            Value::Array(ts) => ts.iter().any(|t| type_matches(t.as_str().unwrap(), v)),
            _ => panic!("bad type in the spec"),
        };
        if !ok {
            fail(format!("expected type {t}, got {v}"));
            return;
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if !values.contains(v) {
            fail(format!("{v} is not one of {values:?}"));
        }
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            fail(format!("{v} is not {c}"));
        }
    }
    if let Some(s) = v.as_str() {
        let n = s.chars().count() as u64;
        if schema
            .get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
        {
            fail("shorter than minLength".into());
        }
        if schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n > m)
        {
            fail("longer than maxLength".into());
        }
    }
    if let Some(n) = v.as_f64() {
        if schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
        {
            fail(format!("{n} below minimum"));
        }
        if schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n > m)
        {
            fail(format!("{n} above maximum"));
        }
    }
    if let Some(object) = v.as_object() {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !object.contains_key(name.as_str().unwrap()) {
                problems.push(format!("{at}: missing required {name}"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, value) in object {
            let here = format!("{at}/{k}");
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(spec, s, value, &here, problems),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        problems.push(format!("{at}: unexpected property {k:?}"))
                    }
                    Some(s @ Value::Object(_)) => validate(spec, s, value, &here, problems),
                    _ => {}
                },
            }
        }
    }
    if let Some(items) = v.as_array() {
        if schema
            .get("maxItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| items.len() as u64 > m)
        {
            problems.push(format!("{at}: more than maxItems"));
        }
        if let Some(s) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                validate(spec, s, item, &format!("{at}/{i}"), problems);
            }
        }
    }
    for (key, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let passing = options
                .iter()
                .filter(|o| {
                    let mut p = Vec::new();
                    validate(spec, o, v, at, &mut p);
                    p.is_empty()
                })
                .count();
            if passing == 0 || (exactly_one && passing > 1) {
                problems.push(format!("{at}: {passing} of the {key} options match {v}"));
            }
        }
    }
}

// ---- the spec's operations ----

fn segments_match(template: &str, path: &str) -> bool {
    let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

/// The spec path a concrete path falls under (literal segments win).
fn template_of<'a>(spec: &'a Value, path: &str) -> Option<&'a str> {
    spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|t| segments_match(t, path))
        .max_by_key(|t| t.split('/').filter(|s| !s.starts_with('{')).count())
        .map(String::as_str)
}

/// Checks a reply against the spec: the operation exists, its status is
/// declared (or covered by `default`), and a JSON body fits the schema.
fn conforms(spec: &Value, method: &str, uri: &str, reply: &Reply) {
    let path = uri.split('?').next().unwrap();
    let context = format!("{method} {uri} -> {} {}", reply.status, reply.text);
    let operation = template_of(spec, path)
        .and_then(|t| spec["paths"][t].get(method.to_ascii_lowercase()))
        .unwrap_or_else(|| panic!("not in the spec: {context}"));
    let responses = &operation["responses"];
    let response = responses
        .get(reply.status.as_str())
        .or_else(|| responses.get("default"))
        .unwrap_or_else(|| panic!("status not in the spec: {context}"));
    let response = resolve(spec, response);
    match response.pointer("/content/application~1json/schema") {
        Some(schema) => {
            assert!(
                reply
                    .content_type
                    .as_deref()
                    .is_some_and(|c| c.starts_with("application/json")),
                "not JSON: {context}"
            );
            let body: Value =
                serde_json::from_str(&reply.text).unwrap_or_else(|_| panic!("not JSON: {context}"));
            let mut problems = Vec::new();
            validate(spec, schema, &body, "", &mut problems);
            assert!(
                problems.is_empty(),
                "breaks the contract: {context}\n{}",
                problems.join("\n")
            );
        }
        None if response.get("content").is_none() => {
            assert!(reply.text.is_empty(), "a body the spec has not: {context}")
        }
        None => {}
    }
}

/// Sends a call and checks its reply against the spec.
async fn checked(spec: &Value, s: &Service, call: Call<'_>) -> Reply {
    let (method, uri) = (call.method.to_owned(), call.uri.clone());
    let reply = call.send(&s.router).await;
    conforms(spec, &method, &uri, &reply);
    reply
}

// ---- routes: the source's, the spec's, the router's ----

fn source_paths() -> BTreeSet<String> {
    fn walk(dir: &std::path::Path, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                // The demo host's routes are not the service's contract.
                if path.file_name().unwrap() != "demo" {
                    walk(&path, found);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, _) in text.match_indices(".route(") {
                    let rest = text[i + ".route(".len()..].trim_start();
                    let literal = rest.strip_prefix('"').expect("a route's path is a literal");
                    found.insert(literal[..literal.find('"').unwrap()].to_owned());
                }
            }
        }
    }
    let mut found = BTreeSet::new();
    walk(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
        &mut found,
    );
    found
}

fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "1" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_mounted_route_is_in_the_spec_and_back() {
    let spec = spec();
    assert_eq!(spec["openapi"], "3.1.0");
    let spec_paths: BTreeSet<String> = spec["paths"].as_object().unwrap().keys().cloned().collect();
    let source = source_paths();
    assert!(
        source.len() > 20,
        "the scan found too few routes: {source:?}"
    );
    assert_eq!(
        source.difference(&spec_paths).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "mounted but not in openapi.json"
    );
    assert_eq!(
        spec_paths.difference(&source).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "in openapi.json but not mounted"
    );
    // Per path, the methods that reach a handler are the spec's.
    let s = service(&[]).await;
    let mut mounted = BTreeMap::new();
    let mut declared = BTreeMap::new();
    for path in &spec_paths {
        for method in METHODS {
            let reply = Call::new(&method.to_ascii_uppercase(), concrete(path))
                .send(&s.router)
                .await;
            let fallback = reply.status == StatusCode::NOT_FOUND
                && reply.body["message"] == "no such resource";
            if reply.status != StatusCode::METHOD_NOT_ALLOWED && !fallback {
                mounted.insert(format!("{method} {path}"), reply.status);
            }
            if spec["paths"][path].get(method).is_some() {
                declared.insert(format!("{method} {path}"), ());
            }
        }
    }
    assert_eq!(
        mounted.keys().collect::<Vec<_>>(),
        declared.keys().collect::<Vec<_>>(),
        "the methods the router answers vs the spec's ({mounted:?})"
    );
    // Every operation names its security (an empty list: public).
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                assert!(op.get("security").is_some(), "{method} {path}: no security");
                assert!(op["responses"].get("default").is_some());
            }
        }
    }
}

#[test]
fn the_validator_catches_drift() {
    let spec = spec();
    let user = json!({ "$ref": "#/components/schemas/User" });
    let mut p = Vec::new();
    validate(
        &spec,
        &user,
        &json!({ "id": "u", "display_name": null, "share_name": true, "created": false }),
        "",
        &mut p,
    );
    assert!(p.is_empty(), "{p:?}");
    for wrong in [
        json!({ "id": "u", "display_name": null, "share_name": true }),
        json!({ "id": "u", "display_name": 3, "share_name": true, "created": false }),
        json!({ "id": "u", "display_name": null, "share_name": true, "created": false, "extra": 1 }),
    ] {
        let mut p = Vec::new();
        validate(&spec, &user, &wrong, "", &mut p);
        assert!(!p.is_empty(), "{wrong} passed");
    }
}

// ---- representative requests ----

#[tokio::test]
async fn responses_fit_the_spec() {
    let spec = spec();
    let s = service(&["--allow-private-webhook-urls"]).await;
    let key = s.api_key.clone();
    let spec = &spec;
    let put_user = |id: &str, body: Value| {
        Call::new("PUT", format!("/api/v1/users/{id}"))
            .bearer(&key)
            .json(&body)
    };

    // Server API: users.
    let anna = checked(spec, &s, put_user("u-anna", json!({ "email": "anna@annaco.example", "display_name": "Anna Lind", "share_name": true }))).await;
    assert_eq!(anna.status, StatusCode::OK);
    let again = checked(
        spec,
        &s,
        put_user(
            "u-anna",
            json!({ "email": "anna@annaco.example", "display_name": "Anna Lind", "share_name": true }),
        ),
    )
    .await;
    assert_eq!(again.body["created"], false);
    let extra = checked(
        spec,
        &s,
        put_user("u-x", json!({ "email": "x@x.example", "nope": 1 })),
    )
    .await;
    assert_eq!(extra.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_email = checked(
        spec,
        &s,
        put_user("u-x", json!({ "email": "not an email" })),
    )
    .await;
    assert_eq!(bad_email.status, StatusCode::BAD_REQUEST);
    let no_key = checked(
        spec,
        &s,
        Call::new("PUT", "/api/v1/users/u-x").json(&json!({ "email": "x@x.example" })),
    )
    .await;
    assert_eq!(no_key.status, StatusCode::UNAUTHORIZED);
    let text = checked(
        spec,
        &s,
        Call::new("PUT", "/api/v1/users/u-x")
            .bearer(&key)
            .header("content-type", "text/plain")
            .raw("{}"),
    )
    .await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let links = checked(
        spec,
        &s,
        Call::new("GET", "/api/v1/users/u-anna/referral").bearer(&key),
    )
    .await;
    assert_eq!(links.status, StatusCode::OK);
    let nobody = checked(
        spec,
        &s,
        Call::new("GET", "/api/v1/users/u-nobody/referral").bearer(&key),
    )
    .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    checked(
        spec,
        &s,
        put_user("u-ann2", json!({ "email": "ann2@annaco.example" })),
    )
    .await;

    // Browser API.
    let token = s.user_token("u-anna");
    let mine = checked(
        spec,
        &s,
        Call::new("GET", "/api/v1/me/referral").bearer(&token),
    )
    .await;
    assert_eq!(mine.status, StatusCode::OK);
    let code = mine.body["codes"]["whatsapp"].as_str().unwrap().to_owned();
    let stats = checked(
        spec,
        &s,
        Call::new("GET", "/api/v1/me/stats").bearer(&token),
    )
    .await;
    assert_eq!(stats.status, StatusCode::OK);
    let anonymous = checked(spec, &s, Call::new("GET", "/api/v1/me/stats")).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let events = json!({ "events": [
        { "id": "e1", "type": "share", "at": 1_700_000_000u64, "channel": "whatsapp" },
        { "id": "e1", "type": "share", "at": 1_700_000_000u64 },
    ]});
    let sent = checked(
        spec,
        &s,
        Call::new("POST", "/api/v1/me/events")
            .bearer(&token)
            .json(&events),
    )
    .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED);
    let empty_id = checked(
        spec,
        &s,
        Call::new("POST", "/api/v1/me/events")
            .bearer(&token)
            .json(&json!({ "events": [{ "id": "", "type": "share", "at": 1 }] })),
    )
    .await;
    assert_eq!(empty_id.status, StatusCode::BAD_REQUEST);
    let nudge = checked(
        spec,
        &s,
        Call::new("GET", "/api/v1/me/nudge-state").bearer(&token),
    )
    .await;
    assert_eq!(nudge.status, StatusCode::OK);
    let state: Value =
        serde_json::from_str(&referral_core::nudge::NudgeState::new("u-anna").to_json()).unwrap();
    let no_if_match = checked(
        spec,
        &s,
        Call::new("PUT", "/api/v1/me/nudge-state")
            .bearer(&token)
            .json(&json!({ "state": state })),
    )
    .await;
    assert_eq!(no_if_match.status, StatusCode::PRECONDITION_REQUIRED);
    let write = |version: &str| {
        Call::new("PUT", "/api/v1/me/nudge-state")
            .bearer(&token)
            .header("if-match", format!("\"{version}\""))
            .json(&json!({ "state": state }))
    };
    let written = checked(spec, &s, write("0")).await;
    assert_eq!(written.status, StatusCode::OK, "{}", written.text);
    let stale = checked(spec, &s, write("0")).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);

    // Public.
    let landing = checked(spec, &s, Call::new("GET", format!("/r/{code}"))).await;
    assert_eq!(landing.status, StatusCode::SEE_OTHER);
    let cookie = landing.cookie("referral_ref").unwrap();
    let landing = checked(spec, &s, Call::new("GET", format!("/r?ref={code}"))).await;
    assert_eq!(landing.status, StatusCode::SEE_OTHER);
    let name = checked(
        spec,
        &s,
        Call::new("GET", format!("/api/v1/referrer?code={code}")),
    )
    .await;
    assert_eq!(name.body, json!({ "name": "Anna Lind" }));
    let bad = checked(spec, &s, Call::new("GET", "/api/v1/referrer?code=nonsense")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let served = checked(spec, &s, Call::new("GET", "/api/openapi.json")).await;
    assert_eq!(&served.body, spec, "the served document is openapi.json");
    let config = checked(spec, &s, Call::new("GET", "/api/v1/nudge-config")).await;
    assert_eq!(config.status, StatusCode::OK);
    let missing = checked(spec, &s, Call::new("GET", "/static/no-such-file.js")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Signups.
    let signup = |body: Value| {
        Call::new("POST", "/api/v1/signups")
            .bearer(&key)
            .json(&body)
    };
    let bo = checked(
        spec,
        &s,
        signup(json!({
            "user_id": "u-bo", "email": "bo@boco.example",
            "ref_cookie": cookie.trim_start_matches("referral_ref="),
        }))
        .header("idempotency-key", "k-bo"),
    )
    .await;
    assert_eq!(bo.body["reason"], "attributed", "{}", bo.text);
    let replay = checked(
        spec,
        &s,
        signup(json!({
            "user_id": "u-bo", "email": "bo@boco.example",
            "ref_cookie": cookie.trim_start_matches("referral_ref="),
        }))
        .header("idempotency-key", "k-bo"),
    )
    .await;
    assert_eq!(replay.body, bo.body);
    let twice = checked(
        spec,
        &s,
        signup(json!({ "user_id": "u-bo", "email": "bo@boco.example" })),
    )
    .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    let carl = checked(
        spec,
        &s,
        signup(json!({
            "user_id": "u-carl", "email": "carl@annaco.example", "code": code,
        })),
    )
    .await;
    assert_eq!(
        carl.body["reason"], "attributed_for_review",
        "{}",
        carl.text
    );
    let dana = checked(
        spec,
        &s,
        signup(json!({ "user_id": "u-dana", "email": "dana@danaco.example" })),
    )
    .await;
    assert_eq!(dana.body["attribution"]["outcome"], "not_attributed");

    // Billing.
    let paid = checked(spec, &s, s.webhook_call(&json!({
        "id": "evt-1", "type": "payment", "account_id": "u-bo", "amount_minor": 4900, "currency": "usd",
    })))
    .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
    let pending = checked(spec, &s, s.webhook_call(&json!({
        "id": "evt-2", "type": "payment", "account_id": "u-later", "amount_minor": 4900, "currency": "USD",
    })))
    .await;
    assert_eq!(pending.body["outcome"], "pending");
    let not_referred = checked(
        spec,
        &s,
        s.webhook_call(&json!({ "id": "evt-3", "type": "refund", "account_id": "u-dana" })),
    )
    .await;
    assert_eq!(not_referred.body["outcome"], "not_referred");
    for (i, amount) in [i64::MAX, i64::MIN, 0, -1].into_iter().enumerate() {
        let extreme = checked(
            spec,
            &s,
            s.webhook_call(&json!({
                "id": format!("evt-x{i}"), "type": "payment", "account_id": "u-bo", "amount_minor": amount, "currency": "USD",
            })),
        )
        .await;
        assert!(
            !extreme.status.is_server_error(),
            "{amount}: {}",
            extreme.text
        );
    }
    let unknown = checked(
        spec,
        &s,
        s.webhook_call(&json!({ "id": "evt-4", "type": "gift", "account_id": "u-bo" })),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let unsigned = checked(
        spec,
        &s,
        Call::new("POST", "/api/v1/webhooks/billing")
            .header("content-type", "application/json")
            .raw("{}"),
    )
    .await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    let stripe = checked(
        spec,
        &s,
        Call::new("POST", "/api/v1/webhooks/stripe")
            .header("stripe-signature", "t=1,v1=00")
            .raw("{}"),
    )
    .await;
    assert_eq!(stripe.status, StatusCode::NOT_FOUND);

    // Admin.
    let page = checked(spec, &s, Call::new("GET", "/admin")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let wrong = checked(
        spec,
        &s,
        Call::new("POST", "/api/admin/session")
            .json(&json!({ "email": common::ADMIN_EMAIL, "password": "wrong" })),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let signed_in = checked(
        spec,
        &s,
        Call::new("POST", "/api/admin/session")
            .json(&json!({ "email": common::ADMIN_EMAIL, "password": common::ADMIN_PASSWORD })),
    )
    .await;
    assert_eq!(signed_in.status, StatusCode::OK);
    let cookie = signed_in.cookie("referral_admin").unwrap();
    let csrf = signed_in.body["csrf_token"].as_str().unwrap().to_owned();
    let read =
        |method: &'static str, uri: &str| Call::new(method, uri).header("cookie", cookie.clone());
    let write =
        |method: &'static str, uri: &str| read(method, uri).header("x-csrf-token", csrf.clone());
    for uri in [
        "/api/admin/session",
        "/api/admin/funnel",
        "/api/admin/api-keys",
        "/api/admin/webhooks",
        "/api/admin/webhook-deliveries?limit=5",
    ] {
        let reply = checked(spec, &s, read("GET", uri)).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text);
    }
    let page = checked(spec, &s, read("GET", "/admin")).await;
    assert_eq!(page.status, StatusCode::OK);
    let no_csrf = checked(
        spec,
        &s,
        read("POST", "/api/admin/api-keys").json(&json!({ "name": "ci" })),
    )
    .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let created = checked(
        spec,
        &s,
        write("POST", "/api/admin/api-keys").json(&json!({ "name": "ci" })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let unnamed = checked(
        spec,
        &s,
        write("POST", "/api/admin/api-keys").json(&json!({ "name": " " })),
    )
    .await;
    assert_eq!(unnamed.status, StatusCode::BAD_REQUEST);
    let revoked = checked(
        spec,
        &s,
        write("DELETE", &format!("/api/admin/api-keys/{id}")),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let gone = checked(
        spec,
        &s,
        write("DELETE", &format!("/api/admin/api-keys/{id}")),
    )
    .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let listed = checked(spec, &s, read("GET", "/api/admin/api-keys")).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 2);

    // Review.
    let carl_referral = carl.body["referral_id"].as_str().unwrap();
    let decide = |body: Value| {
        write(
            "POST",
            &format!("/api/admin/referrals/{carl_referral}/decision"),
        )
        .json(&body)
    };
    let odd = checked(
        spec,
        &s,
        decide(json!({ "decision": "maybe", "reason": "?" })),
    )
    .await;
    assert_eq!(odd.status, StatusCode::BAD_REQUEST);
    let approved = checked(
        spec,
        &s,
        decide(json!({ "decision": "approve", "reason": "checked: a colleague" })),
    )
    .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    let other_way = checked(
        spec,
        &s,
        decide(json!({ "decision": "reject", "reason": "changed my mind" })),
    )
    .await;
    assert_eq!(other_way.status, StatusCode::CONFLICT);
    let unknown = checked(
        spec,
        &s,
        write("POST", "/api/admin/referrals/ref-none/decision")
            .json(&json!({ "decision": "approve", "reason": "r" })),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let by_hand = |friend: &str| {
        write("POST", "/api/admin/referrals").json(
            &json!({ "friend": friend, "referrer": "u-anna", "reason": "told us on the phone" }),
        )
    };
    let attributed = checked(spec, &s, by_hand("u-ann2")).await;
    assert_eq!(attributed.status, StatusCode::OK, "{}", attributed.text);
    let already = checked(spec, &s, by_hand("u-ann2")).await;
    assert_eq!(already.status, StatusCode::CONFLICT);
    let stranger = checked(spec, &s, by_hand("u-stranger")).await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND);
    let adjust = |body: Value| {
        write(
            "POST",
            &format!("/api/admin/referrals/{carl_referral}/adjustments"),
        )
        .json(&body)
    };
    let adjusted = checked(
        spec,
        &s,
        adjust(json!({ "adjustment_id": "adj-1", "side": "referrer", "amount_minor": 500, "currency": "USD", "reason": "goodwill" })),
    )
    .await;
    assert_eq!(adjusted.status, StatusCode::OK, "{}", adjusted.text);
    for (i, amount) in [i64::MAX, i64::MAX, i64::MIN, i64::MIN]
        .into_iter()
        .enumerate()
    {
        let extreme = checked(
            spec,
            &s,
            adjust(json!({ "adjustment_id": format!("adj-x{i}"), "side": "referrer", "amount_minor": amount, "currency": "USD", "reason": "extreme" })),
        )
        .await;
        assert!(
            !extreme.status.is_server_error(),
            "{amount}: {}",
            extreme.text
        );
    }
    // The ledger still answers, and fits the contract, after them.
    let anna_token = s.user_token("u-anna");
    for call in [
        Call::new("GET", "/api/v1/users/u-anna/export").bearer(&key),
        Call::new("GET", "/api/v1/me/stats").bearer(&anna_token),
        read("GET", "/api/admin/funnel"),
    ] {
        let reply = checked(spec, &s, call).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    let bad_currency = checked(
        spec,
        &s,
        adjust(json!({ "adjustment_id": "adj-2", "side": "referrer", "amount_minor": 500, "currency": "EURO", "reason": "goodwill" })),
    )
    .await;
    assert_eq!(bad_currency.status, StatusCode::BAD_REQUEST);
    let audit = checked(spec, &s, read("GET", "/api/admin/audit")).await;
    assert_eq!(audit.body.as_array().unwrap().len(), 7);

    // Outbound webhooks.
    let added = checked(
        spec,
        &s,
        write("POST", "/api/admin/webhooks").json(
            &json!({ "url": "http://127.0.0.1:9/hook", "event_types": ["referral.attributed"] }),
        ),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    let endpoint = added.body["id"].as_str().unwrap().to_owned();
    let bad_type = checked(
        spec,
        &s,
        write("POST", "/api/admin/webhooks")
            .json(&json!({ "url": "http://127.0.0.1:9/hook", "event_types": ["nope"] })),
    )
    .await;
    assert_eq!(bad_type.status, StatusCode::BAD_REQUEST);
    let bad_url = checked(
        spec,
        &s,
        write("POST", "/api/admin/webhooks").json(&json!({ "url": "ftp://x" })),
    )
    .await;
    assert_eq!(bad_url.status, StatusCode::UNPROCESSABLE_ENTITY);
    let rotated = checked(
        spec,
        &s,
        write("POST", &format!("/api/admin/webhooks/{endpoint}/rotate")),
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK);
    let listed = checked(spec, &s, read("GET", "/api/admin/webhooks")).await;
    assert_eq!(listed.body[0]["active_secrets"], 2);
    let none = checked(
        spec,
        &s,
        write("POST", "/api/admin/webhook-deliveries/999999/redeliver"),
    )
    .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    let removed = checked(
        spec,
        &s,
        write("DELETE", &format!("/api/admin/webhooks/{endpoint}")),
    )
    .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let removed = checked(
        spec,
        &s,
        write("DELETE", &format!("/api/admin/webhooks/{endpoint}")),
    )
    .await;
    assert_eq!(removed.status, StatusCode::NOT_FOUND);

    // Data rights.
    let export = checked(
        spec,
        &s,
        Call::new("GET", "/api/v1/users/u-anna/export").bearer(&key),
    )
    .await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    let export = checked(
        spec,
        &s,
        Call::new("GET", "/api/v1/users/u-bo/export").bearer(&key),
    )
    .await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    let erased = checked(
        spec,
        &s,
        Call::new("DELETE", "/api/v1/users/u-bo").bearer(&key),
    )
    .await;
    assert_eq!(erased.status, StatusCode::OK);
    let twice = checked(
        spec,
        &s,
        Call::new("DELETE", "/api/v1/users/u-bo").bearer(&key),
    )
    .await;
    assert_eq!(twice.body, erased.body);
    let unknown = checked(
        spec,
        &s,
        Call::new("GET", "/api/v1/users/u-none/export").bearer(&key),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // Signing out.
    let out = checked(spec, &s, write("DELETE", "/api/admin/session")).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let who = checked(spec, &s, read("GET", "/api/admin/session")).await;
    assert_eq!(who.status, StatusCode::UNAUTHORIZED);
    let everywhere = checked(spec, &s, write("DELETE", "/api/admin/sessions")).await;
    assert_eq!(everywhere.status, StatusCode::UNAUTHORIZED);

    // Errors outside any operation are `{error, message}` too.
    for (method, uri, status) in [
        ("GET", "/api/v1/no-such-thing", StatusCode::NOT_FOUND),
        ("PATCH", "/api/v1/signups", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let reply = Call::new(method, uri).send(&s.router).await;
        assert_eq!(reply.status, status);
        let mut problems = Vec::new();
        validate(
            spec,
            &json!({ "$ref": "#/components/schemas/Error" }),
            &reply.body,
            "",
            &mut problems,
        );
        assert!(problems.is_empty(), "{uri}: {problems:?}");
    }
}
