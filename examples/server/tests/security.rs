//! The security suite: each test is an attack or a failure a deployment
//! meets, and each failed on the service as it was before the split (see
//! the issue it closes). SQLite by default; PostgreSQL with
//! `TEST_DATABASE_URL`.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{service, Call, Service, ADMIN_EMAIL, ADMIN_PASSWORD, ORIGIN};
use referral_core::{Keyring, UserTokenRequest};
use serde_json::json;

fn assert_json_error(reply: &common::Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert!(
        reply
            .content_type
            .as_deref()
            .unwrap_or("")
            .starts_with("application/json"),
        "not JSON: {:?} {}",
        reply.content_type,
        reply.text
    );
    assert_eq!(reply.error(), code, "{}", reply.text);
    assert!(reply.body["message"].is_string(), "{}", reply.text);
}

async fn demo_account(s: &Service, email: &str) -> common::Reply {
    Call::new("POST", "/demo/api/accounts")
        .header("origin", ORIGIN)
        .json(&json!({ "email": email, "password": "correct horse battery" }))
        .send(&s.router)
        .await
}

#[tokio::test]
async fn nobody_can_sign_in_as_somebody_else() {
    let s = service(&["--demo"]).await;
    // The old password-less route is gone.
    let old = Call::new("POST", "/api/demo/sign-in")
        .json(&json!({ "email": "anna@annaco.example" }))
        .send(&s.router)
        .await;
    assert_json_error(&old, StatusCode::NOT_FOUND, "not_found");

    let anna = demo_account(&s, "anna@annaco.example").await;
    assert_eq!(anna.status, StatusCode::OK, "{}", anna.text);
    let set = anna
        .cookies
        .iter()
        .find(|c| c.starts_with("demo_session="))
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let session = anna.cookie("demo_session").unwrap();

    // Her email without her password: refused, and no cookie.
    for password in ["", "wrong password!!", "correct horse batter"] {
        let attempt = Call::new("POST", "/demo/api/session")
            .json(&json!({ "email": "anna@annaco.example", "password": password }))
            .send(&s.router)
            .await;
        assert_json_error(&attempt, StatusCode::UNAUTHORIZED, "invalid_credentials");
        assert!(attempt.cookies.is_empty());
    }
    // Re-creating her account does not hand it over.
    let again = demo_account(&s, "anna@annaco.example").await;
    assert_json_error(&again, StatusCode::CONFLICT, "email_taken");
    // A made-up session value means nothing.
    let forged = Call::new("GET", "/demo/api/me")
        .header("cookie", format!("demo_session={}", "0".repeat(64)))
        .send(&s.router)
        .await;
    assert_json_error(&forged, StatusCode::UNAUTHORIZED, "not_signed_in");
    // Her session works until she signs out; then it is dead.
    let me = Call::new("GET", "/demo/api/me")
        .header("cookie", &session)
        .send(&s.router)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    Call::new("DELETE", "/demo/api/session")
        .header("cookie", &session)
        .send(&s.router)
        .await;
    let after = Call::new("GET", "/demo/api/me")
        .header("cookie", &session)
        .send(&s.router)
        .await;
    assert_json_error(&after, StatusCode::UNAUTHORIZED, "not_signed_in");
}

#[tokio::test]
async fn sessions_expire_and_cookies_are_secure_behind_tls() {
    let s = service(&["--public-url", "https://referrals.acme.example"]).await;
    let signed = Call::new("POST", "/api/admin/session")
        .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
        .send(&s.router)
        .await;
    let set = signed
        .cookies
        .iter()
        .find(|c| c.starts_with("referral_admin="))
        .unwrap();
    assert!(
        set.contains("; Secure") && set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    // A session past its end is refused even with the right cookie.
    let token = "ab".repeat(32);
    let mut conn = s.state.db.pool.acquire().await.unwrap();
    referral_server::store::access::insert_session(
        &mut conn,
        &referral_server::store::sha256_hex(token.as_bytes()),
        "admin",
        ADMIN_EMAIL,
        "csrf",
        1,
        2,
    )
    .await
    .unwrap();
    drop(conn);
    let expired = Call::new("GET", "/api/admin/funnel")
        .header("cookie", format!("referral_admin={token}"))
        .send(&s.router)
        .await;
    assert_json_error(&expired, StatusCode::UNAUTHORIZED, "not_signed_in");
}

#[tokio::test]
async fn the_admin_is_locked() {
    let s = service(&[]).await;
    for (method, path) in [
        ("GET", "/api/admin/funnel"),
        ("GET", "/api/admin/api-keys"),
        ("POST", "/api/admin/api-keys"),
        ("DELETE", "/api/admin/api-keys/x"),
        ("GET", "/api/admin/session"),
        ("DELETE", "/api/admin/sessions"),
    ] {
        let anonymous = Call::new(method, path).send(&s.router).await;
        assert_json_error(&anonymous, StatusCode::UNAUTHORIZED, "not_signed_in");
        // An API key or a user token is not an admin.
        let keyed = Call::new(method, path)
            .bearer(&s.api_key)
            .send(&s.router)
            .await;
        assert_eq!(keyed.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    let page = Call::new("GET", "/admin").send(&s.router).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/admin/sign-in"));
    let wrong = Call::new("POST", "/api/admin/session")
        .json(&json!({ "email": ADMIN_EMAIL, "password": "not it" }))
        .send(&s.router)
        .await;
    assert_json_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let unknown = Call::new("POST", "/api/admin/session")
        .json(&json!({ "email": "nobody@acme.example", "password": ADMIN_PASSWORD }))
        .send(&s.router)
        .await;
    assert_json_error(&unknown, StatusCode::UNAUTHORIZED, "invalid_credentials");

    let (cookie, csrf) = s.admin().await;
    // State changes need the CSRF token, and an Origin of ours when sent.
    let create = |csrf: Option<&str>, origin: Option<&str>| {
        let mut call = Call::new("POST", "/api/admin/api-keys")
            .header("cookie", &cookie)
            .json(&json!({ "name": "x" }));
        if let Some(c) = csrf {
            call = call.header("x-csrf-token", c);
        }
        if let Some(o) = origin {
            call = call.header("origin", o);
        }
        call
    };
    assert_json_error(
        &create(None, None).send(&s.router).await,
        StatusCode::FORBIDDEN,
        "csrf",
    );
    assert_json_error(
        &create(Some("0000"), None).send(&s.router).await,
        StatusCode::FORBIDDEN,
        "csrf",
    );
    assert_json_error(
        &create(Some(&csrf), Some("https://evil.example"))
            .send(&s.router)
            .await,
        StatusCode::FORBIDDEN,
        "origin_not_allowed",
    );
    assert_eq!(
        create(Some(&csrf), Some(ORIGIN))
            .send(&s.router)
            .await
            .status,
        StatusCode::CREATED
    );
    let page = Call::new("GET", "/admin")
        .header("cookie", &cookie)
        .send(&s.router)
        .await;
    assert_eq!(page.status, StatusCode::OK);

    // Sign out everywhere revokes every session of this admin.
    let (other, _) = s.admin().await;
    let out = Call::new("DELETE", "/api/admin/sessions")
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send(&s.router)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    for c in [&cookie, &other] {
        let after = Call::new("GET", "/api/admin/funnel")
            .header("cookie", c)
            .send(&s.router)
            .await;
        assert_json_error(&after, StatusCode::UNAUTHORIZED, "not_signed_in");
    }
}

#[tokio::test]
async fn demo_routes_and_clock_exist_only_in_demo_mode() {
    let s = service(&[]).await;
    let before = s.state.clock.now();
    for (method, path) in [
        ("POST", "/demo/api/advance-time"),
        ("POST", "/demo/api/accounts"),
        ("POST", "/demo/api/session"),
        ("GET", "/demo/api/me"),
        ("POST", "/api/demo/advance-time"),
        ("GET", "/"),
        ("GET", "/signup"),
        ("GET", "/demo/static/app.js"),
        ("GET", "/static/index.html"),
        ("GET", "/static/app.js"),
    ] {
        let reply = Call::new(method, path)
            .json(&json!({ "days": 3650 }))
            .send(&s.router)
            .await;
        assert_json_error(&reply, StatusCode::NOT_FOUND, "not_found");
    }
    assert!(s.state.clock.now() - before < 5, "the clock moved");

    // In demo mode, only a signed-in admin moves it.
    let demo = service(&["--demo"]).await;
    let user = demo_account(&demo, "erin@erinco.example")
        .await
        .cookie("demo_session")
        .unwrap();
    for cookie in [None, Some(user.as_str())] {
        let mut call = Call::new("POST", "/demo/api/advance-time").json(&json!({ "days": 3650 }));
        if let Some(c) = cookie {
            call = call.header("cookie", c);
        }
        assert_eq!(
            call.send(&demo.router).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let (admin, csrf) = demo.admin().await;
    let moved = Call::new("POST", "/demo/api/advance-time")
        .header("cookie", &admin)
        .header("x-csrf-token", &csrf)
        .json(&json!({ "days": 1 }))
        .send(&demo.router)
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_signups_all_succeed() {
    let s = std::sync::Arc::new(service(&[]).await);
    s.register("u-anna", "anna@annaco.example", "Anna").await;
    let code = s.links("u-anna").await["code"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for n in 0..200 {
        let s = s.clone();
        let code = code.clone();
        tasks.push(tokio::spawn(async move {
            s.signup(json!({ "user_id": format!("f-{n}"), "email": format!("f{n}@f{n}.example"), "code": if n % 2 == 0 { Some(code) } else { None } }))
                .await
        }));
    }
    let mut failures = Vec::new();
    for t in tasks {
        let reply = t.await.unwrap();
        if reply.status != StatusCode::OK {
            failures.push(format!("{} {}", reply.status, reply.text));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 200 failed: {:?}",
        failures.len(),
        failures.first()
    );
    // Every friend got a distinct numeric id: distinct typed codes.
    let mut typed = std::collections::HashSet::new();
    for n in 0..200 {
        let links = Call::new("GET", format!("/api/v1/users/f-{n}/referral"))
            .bearer(&s.api_key)
            .send(&s.router)
            .await;
        assert!(typed.insert(links.body["typed_code"].as_str().unwrap().to_owned()));
    }
    // The same user reported 20 times at once: one signup, 19 conflicts.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.signup(json!({ "user_id": "same", "email": "same@same.example" }))
                .await
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        let reply = t.await.unwrap();
        if reply.status != StatusCode::OK {
            assert_json_error(&reply, StatusCode::CONFLICT, "already_signed_up");
        }
        statuses.push(reply.status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1);
}

#[tokio::test]
async fn limits_are_per_client_and_trust_only_configured_proxies() {
    let s = service(&[
        "--rate-per-minute",
        "5",
        "--rate-auth-per-minute",
        "3",
        "--trusted-proxy",
        "10.0.0.1",
    ])
    .await;
    let lookup = |ip: &str| Call::new("GET", "/api/v1/referrer?code=x").from(ip);
    for _ in 0..5 {
        assert_ne!(
            lookup("198.51.100.1").send(&s.router).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    assert_json_error(
        &lookup("198.51.100.1").send(&s.router).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
    // Another client is not blocked by the first.
    assert_ne!(
        lookup("198.51.100.2").send(&s.router).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A direct client cannot pick another bucket with X-Forwarded-For.
    let spoofed = lookup("198.51.100.1")
        .header("x-forwarded-for", "203.0.113.77")
        .send(&s.router)
        .await;
    assert_eq!(spoofed.status, StatusCode::TOO_MANY_REQUESTS);
    // Behind the trusted proxy, each forwarded client has its own bucket.
    for _ in 0..5 {
        let via = lookup("10.0.0.1")
            .header("x-forwarded-for", "203.0.113.5")
            .send(&s.router)
            .await;
        assert_ne!(via.status, StatusCode::TOO_MANY_REQUESTS);
    }
    let sixth = lookup("10.0.0.1")
        .header("x-forwarded-for", "203.0.113.5")
        .send(&s.router)
        .await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
    let other = lookup("10.0.0.1")
        .header("x-forwarded-for", "203.0.113.6")
        .send(&s.router)
        .await;
    assert_ne!(other.status, StatusCode::TOO_MANY_REQUESTS);
    // Sign-in is limited too: even the right password is refused past it.
    let sign_in = || {
        Call::new("POST", "/api/admin/session")
            .from("192.0.2.9")
            .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
    };
    for _ in 0..3 {
        assert_eq!(sign_in().send(&s.router).await.status, StatusCode::OK);
    }
    assert_json_error(
        &sign_in().send(&s.router).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
}

#[tokio::test]
async fn referrer_lookups_need_a_signed_code_and_reveal_only_an_agreed_name() {
    let s = service(&[]).await;
    s.register("u-anna", "anna.lind@annaco.example", "Anna Lind")
        .await;
    Call::new("PUT", "/api/v1/users/u-quiet")
        .bearer(&s.api_key)
        .json(&json!({ "email": "quinn@quietco.example", "display_name": "Quinn" }))
        .send(&s.router)
        .await;
    let anna_code = s.links("u-anna").await["code"].as_str().unwrap().to_owned();
    let quiet_code = s.links("u-quiet").await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let lookup = |code: &str| Call::new("GET", format!("/api/v1/referrer?code={code}"));
    assert_eq!(
        lookup(&anna_code).send(&s.router).await.body,
        json!({ "name": "Anna Lind" })
    );
    // Did not agree: no name, and never one made from the email.
    let quiet = lookup(&quiet_code).send(&s.router).await;
    assert_eq!(quiet.body, json!({ "name": null }));
    // A code minted with another key for the same referrer id: refused.
    let forger = referral_core::Verifier::new(
        Keyring::new(1, &[9u8; 32]).unwrap(),
        referral_core::VerifyPolicy::for_program(1),
    );
    for numeric in 1..5u64 {
        let forged = forger
            .mint(
                &referral_core::MintRequest {
                    program_id: 1,
                    referrer: referral_core::ReferrerId::Numeric(numeric),
                    channel: referral_core::Channel::Link,
                    campaign: None,
                },
                common_now(),
            )
            .unwrap();
        let reply = lookup(forged.as_str()).send(&s.router).await;
        assert_json_error(&reply, StatusCode::BAD_REQUEST, "bad_signature");
        // The landing sets no referral cookie for it either.
        let landing = Call::new("GET", format!("/r/{}", forged.as_str()))
            .send(&s.router)
            .await;
        assert!(landing.cookie("referral_ref").is_none());
    }
}

fn common_now() -> u64 {
    referral_server::Clock::real_now()
}

#[tokio::test]
async fn every_error_is_json() {
    let s = service(&[]).await;
    let token = s.user_token("u-1");
    let cases: Vec<(Call, StatusCode, &str)> = vec![
        (
            Call::new("GET", "/no/such/path"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Call::new("DELETE", "/api/v1/signups"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Call::new("POST", "/api/v1/signups")
                .bearer(&s.api_key)
                .json(&json!({ "pad": "x".repeat(70_000) })),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            Call::new("POST", "/api/v1/signups")
                .bearer(&s.api_key)
                .header("content-type", "text/plain")
                .raw("{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            Call::new("POST", "/api/v1/signups")
                .bearer(&s.api_key)
                .header("content-type", "application/json")
                .raw("{not json"),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Call::new("POST", "/api/v1/signups")
                .bearer(&s.api_key)
                .json(&json!({ "email": "a@b.example" })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            Call::new("GET", "/api/v1/referrer"),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            Call::new("POST", "/api/v1/me/events")
                .bearer(&token)
                .header("content-type", "text/plain")
                .raw("{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            Call::new("GET", "/pkg/..%2Fsecrets.json"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (call, status, code) in cases {
        let reply = call.send(&s.router).await;
        assert_json_error(&reply, status, code);
    }
}

#[tokio::test]
async fn database_text_never_reaches_a_client() {
    let s = service(&[]).await;
    s.register("u-anna", "anna@annaco.example", "Anna").await;
    let token = s.user_token("u-anna");
    let nul = "a\u{0}b";
    let replies = vec![
        s.signup(json!({ "user_id": nul, "email": "x@x.example" })).await,
        s.signup(json!({ "user_id": "u-x", "email": format!("x{nul}@x.example") })).await,
        s.signup(json!({ "user_id": "u-y", "email": "y@y.example", "display_name": nul })).await,
        s.signup(json!({ "user_id": "u-z", "email": "z@z.example", "company_domain": nul, "code": nul, "typed_code": nul, "ref_cookie": format!("{nul}.1") })).await,
        Call::new("POST", "/api/v1/me/events")
            .bearer(&token)
            .json(&json!({ "events": [{ "id": nul, "type": "share", "at": 1 }] }))
            .send(&s.router)
            .await,
        Call::new("POST", "/api/v1/me/events")
            .bearer(&token)
            .json(&json!({ "events": [{ "id": "e1", "type": "share", "at": 1, "channel": nul }] }))
            .send(&s.router)
            .await,
        Call::new("POST", "/api/v1/me/events")
            .bearer(&token)
            .json(&json!({ "events": [{ "id": "e2", "type": "share", "at": u64::MAX }] }))
            .send(&s.router)
            .await,
        s.webhook(json!({ "id": nul, "type": "payment", "account_id": nul, "amount_minor": 1, "currency": "USD" })).await,
        Call::new("GET", format!("/api/v1/users/{}/referral", "%00")).bearer(&s.api_key).send(&s.router).await,
        Call::new("POST", "/api/admin/session")
            .json(&json!({ "email": format!("admin@acme.example{nul}"), "password": "x" }))
            .send(&s.router)
            .await,
        Call::new("POST", "/api/admin/session")
            .json(&json!({ "email": "admin@acme.example\nforged log line", "password": "x" }))
            .send(&s.router)
            .await,
    ];
    for (i, reply) in replies.into_iter().enumerate() {
        assert!(
            reply.status.is_client_error() || reply.status == StatusCode::OK,
            "case {i}: {} {}",
            reply.status,
            reply.text
        );
        let lower = reply.text.to_lowercase();
        for leak in [
            "sqlx",
            "database",
            "byte sequence",
            "constraint",
            "sqlite",
            "postgres",
            "syntax",
        ] {
            assert!(!lower.contains(leak), "leaked {leak:?}: {}", reply.text);
        }
    }
}

#[tokio::test]
async fn the_browser_api_needs_a_valid_token_json_and_our_origin() {
    let s = service(&[]).await;
    s.register("u-anna", "anna@annaco.example", "Anna").await;
    let events = json!({ "events": [] });
    let post = |token: &str| {
        Call::new("POST", "/api/v1/me/events")
            .bearer(token)
            .json(&events)
    };
    assert_json_error(
        &Call::new("GET", "/api/v1/me/referral")
            .send(&s.router)
            .await,
        StatusCode::UNAUTHORIZED,
        "missing_user_token",
    );
    let other_audience = s
        .state
        .settings
        .user_tokens
        .mint_user_token(
            &UserTokenRequest {
                subject: "u-anna".into(),
                audience: "https://elsewhere.example".into(),
                ttl_secs: 60,
            },
            common_now(),
        )
        .unwrap();
    assert_json_error(
        &post(&other_audience).send(&s.router).await,
        StatusCode::UNAUTHORIZED,
        "user_token_wrong_audience",
    );
    let expired = s
        .state
        .settings
        .user_tokens
        .mint_user_token(
            &UserTokenRequest {
                subject: "u-anna".into(),
                audience: ORIGIN.into(),
                ttl_secs: 60,
            },
            common_now() - 3600,
        )
        .unwrap();
    assert_json_error(
        &post(&expired).send(&s.router).await,
        StatusCode::UNAUTHORIZED,
        "user_token_expired",
    );
    let foreign = Keyring::new(1, &[4u8; 32])
        .unwrap()
        .mint_user_token(
            &UserTokenRequest {
                subject: "u-anna".into(),
                audience: ORIGIN.into(),
                ttl_secs: 60,
            },
            common_now(),
        )
        .unwrap();
    assert_json_error(
        &post(&foreign).send(&s.router).await,
        StatusCode::UNAUTHORIZED,
        "invalid_user_token",
    );
    // An API key is not a user token.
    assert_json_error(
        &post(&s.api_key).send(&s.router).await,
        StatusCode::UNAUTHORIZED,
        "invalid_user_token",
    );
    let token = s.user_token("u-anna");
    let evil = post(&token)
        .header("origin", "https://evil.example")
        .send(&s.router)
        .await;
    assert_json_error(&evil, StatusCode::FORBIDDEN, "origin_not_allowed");
    let ours = post(&token).header("origin", ORIGIN).send(&s.router).await;
    assert_eq!(ours.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_stated_company_and_a_foreign_currency_change_nothing() {
    let s = service(&[]).await;
    s.register("u-anna", "anna@annaco.example", "Anna").await;
    let code = s.links("u-anna").await["code"].as_str().unwrap().to_owned();
    // A colleague types another company: still flagged for review.
    let carl = s
        .signup(json!({ "user_id": "u-carl", "email": "carl@annaco.example", "company_domain": "elsewhere.example", "code": code }))
        .await;
    assert_eq!(
        carl.body["reason"], "attributed_for_review",
        "{}",
        carl.text
    );
    let bo = s
        .signup(json!({ "user_id": "u-bo", "email": "bo@boco.example", "code": code }))
        .await;
    assert_eq!(bo.body["reason"], "attributed");
    let xyz = s
        .webhook(json!({ "id": "p1", "type": "payment", "account_id": "u-bo", "amount_minor": 100, "currency": "XYZ" }))
        .await;
    assert_json_error(&xyz, StatusCode::UNPROCESSABLE_ENTITY, "currency_mismatch");
    let missing = s
        .webhook(
            json!({ "id": "p2", "type": "payment", "account_id": "u-bo", "amount_minor": 100 }),
        )
        .await;
    assert_json_error(&missing, StatusCode::BAD_REQUEST, "missing_currency");
    let usd = s
        .webhook(json!({ "id": "p3", "type": "payment", "account_id": "u-bo", "amount_minor": 100, "currency": "USD" }))
        .await;
    assert_eq!(usd.body["outcome"], "rewarded", "{}", usd.text);
}

/// The real binary: silent and idle connections are closed after the
/// header timeout, so a flood of them cannot lock everyone out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_time_out_and_cannot_lock_the_server() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let data = std::env::temp_dir().join(format!("referral-timeouts-{}", common::unique()));
    std::fs::create_dir_all(&data).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_referral-server"))
        .env("DATA_DIR", &data)
        .env_remove("DATABASE_URL")
        .env("PORT", port.to_string())
        .env("HEADER_TIMEOUT_SECS", "1")
        .env("MAX_CONNECTIONS", "16")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(up, "server did not listen");
    // 40 connections that never send a byte, more than the server allows.
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap(),
        );
    }
    // A real client still gets an answer, within a few header timeouts.
    let started = std::time::Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        s.write_all(b"GET /api/v1/nudge-config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).await.unwrap();
        text
    })
    .await
    .expect("locked out by idle connections");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    println!(
        "answered after {:?} behind 40 idle connections",
        started.elapsed()
    );
    // And the silent ones were closed by the server.
    let mut first = idle.remove(0);
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(5), first.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(_)) | Ok(Err(_))),
        "an idle connection stayed open"
    );
    // A kept-alive connection that goes quiet after a request is closed too.
    let mut kept = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    kept.write_all(b"GET /api/v1/nudge-config HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut total = 0;
    let quiet = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match kept.read(&mut buf).await {
                Ok(0) | Err(_) => return total,
                Ok(n) => total += n,
            }
        }
    })
    .await;
    assert!(
        matches!(quiet, Ok(n) if n > 0),
        "a quiet keep-alive connection stayed open"
    );
    child.kill().ok();
    child.wait().ok();
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registering_a_user_while_reporting_its_signup_loses_nothing() {
    let s = std::sync::Arc::new(service(&[]).await);
    s.register("u-anna", "anna@annaco.example", "Anna").await;
    let code = s.links("u-anna").await["code"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for n in 0..30 {
        let id = format!("race-{n}");
        for _ in 0..3 {
            let (s, id) = (s.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                s.register(&id, &format!("{id}@race.example"), "R").await
            }));
        }
        let (s, id, code) = (s.clone(), id.clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            s.signup(json!({ "user_id": id, "email": format!("{id}@race.example"), "code": code }))
                .await
        }));
    }
    for t in tasks {
        let reply = t.await.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    let funnel_signups = {
        let (cookie, _) = s.admin().await;
        Call::new("GET", "/api/admin/funnel")
            .header("cookie", &cookie)
            .send(&s.router)
            .await
    };
    assert_eq!(
        funnel_signups.body["funnel"]["total"]["counts"]["signup"], 30,
        "{}",
        funnel_signups.text
    );
}

#[tokio::test]
async fn billing_before_the_signup_report_waits_for_it() {
    let s = service(&[]).await;
    s.register("u-anna", "anna@annaco.example", "Anna").await;
    let code = s.links("u-anna").await["code"].as_str().unwrap().to_owned();
    let early = s
        .webhook(json!({ "id": "early-1", "type": "payment", "account_id": "u-late", "amount_minor": 9900, "currency": "USD" }))
        .await;
    assert_eq!(early.body["outcome"], "pending", "{}", early.text);
    let late = s
        .signup(json!({ "user_id": "u-late", "email": "late@lateco.example", "code": code }))
        .await;
    assert_eq!(late.body["reason"], "attributed");
    let stats = Call::new("GET", "/api/v1/me/stats")
        .bearer(&s.user_token("u-anna"))
        .send(&s.router)
        .await;
    assert_eq!(stats.body["entries"][0]["status"], "held", "{}", stats.text);
    // A redelivery now is a duplicate, not a second payment.
    let again = s
        .webhook(json!({ "id": "early-1", "type": "payment", "account_id": "u-late", "amount_minor": 9900, "currency": "USD" }))
        .await;
    assert_eq!(again.body["outcome"], "duplicate", "{}", again.text);
    // A customer whose signup was reported without a referral: not referred.
    s.signup(json!({ "user_id": "u-plain", "email": "plain@plainco.example" }))
        .await;
    let plain = s
        .webhook(json!({ "id": "plain-1", "type": "payment", "account_id": "u-plain", "amount_minor": 100, "currency": "USD" }))
        .await;
    assert_eq!(plain.body["outcome"], "not_referred");
}

#[tokio::test]
async fn a_ref_cookie_the_service_did_not_sign_counts_for_nothing() {
    let s = service(&[]).await;
    s.register("u-anna", "anna@annaco.example", "Anna").await;
    let code = s.links("u-anna").await["code"].as_str().unwrap().to_owned();
    let landing = Call::new("GET", format!("/r/{code}")).send(&s.router).await;
    let value = landing
        .cookie("referral_ref")
        .unwrap()
        .trim_start_matches("referral_ref=")
        .to_owned();
    let (body, tag) = value.rsplit_once('.').unwrap();
    let (code_part, at) = body.rsplit_once('.').unwrap();
    let earlier = at.parse::<u64>().unwrap() - 200 * 86_400;
    let forgeries = [
        format!("{code_part}.{earlier}.{tag}"),
        format!("{code_part}.{at}"),
        format!("{code_part}.{at}.{}", "0".repeat(32)),
    ];
    for (n, forged) in forgeries.into_iter().enumerate() {
        let reply = s
            .signup(json!({ "user_id": format!("u-{n}"), "email": format!("f{n}@fco.example"), "ref_cookie": forged }))
            .await;
        assert_eq!(
            reply.body["reason"], "no_referral",
            "{forged}: {}",
            reply.text
        );
    }
    let genuine = s
        .signup(json!({ "user_id": "u-real", "email": "real@realco.example", "ref_cookie": value }))
        .await;
    assert_eq!(genuine.body["reason"], "attributed", "{}", genuine.text);
}

#[tokio::test]
async fn the_browser_api_answers_cors_preflights_for_allowed_origins_only() {
    let s = service(&["--allowed-origin", "https://app.acme.example"]).await;
    let preflight = |origin: &str| {
        Call::new("OPTIONS", "/api/v1/me/events")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
    };
    let allowed = preflight("https://app.acme.example").send(&s.router).await;
    assert!(allowed.status.is_success(), "{}", allowed.status);
    let reply = axum::http::Request::builder()
        .method("OPTIONS")
        .uri("/api/v1/me/events")
        .header("origin", "https://app.acme.example")
        .header("access-control-request-method", "POST")
        .body(axum::body::Body::empty())
        .unwrap();
    let raw = tower::ServiceExt::oneshot(s.router.clone(), reply)
        .await
        .unwrap();
    assert_eq!(
        raw.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://app.acme.example")
    );
    let req = axum::http::Request::builder()
        .method("OPTIONS")
        .uri("/api/v1/me/events")
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .body(axum::body::Body::empty())
        .unwrap();
    let evil = tower::ServiceExt::oneshot(s.router.clone(), req)
        .await
        .unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    // And the request itself from the allowed origin passes the Origin check.
    let post = Call::new("POST", "/api/v1/me/events")
        .bearer(&s.user_token("u-1"))
        .header("origin", "https://app.acme.example")
        .json(&json!({ "events": [] }))
        .send(&s.router)
        .await;
    assert_eq!(post.status, StatusCode::ACCEPTED, "{}", post.text);
}

#[tokio::test]
async fn one_user_cannot_flood_events_or_stats() {
    let s = service(&["--rate-events-per-minute", "1000"]).await;
    let token = s.user_token("u-flood");
    let mut last = None;
    for batch in 0..11 {
        let events: Vec<_> = (0..500)
            .map(|i| json!({ "id": format!("b{batch}-{i}"), "type": "impression", "at": 1 }))
            .collect();
        last = Some(
            Call::new("POST", "/api/v1/me/events")
                .bearer(&token)
                .json(&json!({ "events": events }))
                .send(&s.router)
                .await,
        );
        if last.as_ref().unwrap().status != StatusCode::ACCEPTED {
            break;
        }
    }
    assert_json_error(
        last.as_ref().unwrap(),
        StatusCode::TOO_MANY_REQUESTS,
        "event_quota",
    );
    // Reads are limited per client and per user too.
    let s = service(&["--rate-events-per-minute", "5"]).await;
    let token = s.user_token("u-reader");
    let mut statuses = Vec::new();
    for n in 0..7 {
        let reply = Call::new("GET", "/api/v1/me/stats")
            .bearer(&token)
            .from(&format!("198.51.100.{n}"))
            .send(&s.router)
            .await;
        statuses.push(reply.status);
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        2,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_event_batches_never_fail() {
    let s = std::sync::Arc::new(service(&[]).await);
    let token = s.user_token("u-overlap");
    let ids: Vec<String> = (0..40).map(|i| format!("e{i:02}")).collect();
    let mut tasks = Vec::new();
    for round in 0..20 {
        for reverse in [false, true] {
            let mut ids = ids.clone();
            if reverse {
                ids.reverse();
            }
            let (s, token) = (s.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                let events: Vec<_> = ids
                    .iter()
                    .map(|id| json!({ "id": format!("{round}-{id}"), "type": "share", "at": 1 }))
                    .collect();
                Call::new("POST", "/api/v1/me/events")
                    .bearer(&token)
                    .json(&json!({ "events": events }))
                    .send(&s.router)
                    .await
            }));
        }
    }
    for t in tasks {
        let reply = t.await.unwrap();
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    }
}

#[tokio::test]
async fn a_refused_demo_signup_leaves_no_half_made_account() {
    let s = service(&["--demo"]).await;
    let refused = Call::new("POST", "/demo/api/accounts")
        .json(&json!({ "email": "gail@gailco.example", "password": "correct horse battery", "company_domain": "x".repeat(300) }))
        .send(&s.router)
        .await;
    assert!(refused.status.is_client_error(), "{}", refused.text);
    let again = demo_account(&s, "gail@gailco.example").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let cookie = again.cookie("demo_session").unwrap();
    let me = Call::new("GET", "/demo/api/me")
        .header("cookie", &cookie)
        .send(&s.router)
        .await;
    let links = Call::new("GET", "/api/v1/me/referral")
        .bearer(me.body["user_token"].as_str().unwrap())
        .send(&s.router)
        .await;
    assert_eq!(links.status, StatusCode::OK, "{}", links.text);
}

async fn http_get(stream: &mut tokio::net::TcpStream, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text).await;
    text
}

/// One client reconnecting as fast as it can cannot keep another out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_cannot_hold_every_connection() {
    let server = common::Binary::start(&[
        ("HEADER_TIMEOUT_SECS", "5"),
        ("MAX_CONNECTIONS", "32"),
        ("MAX_CONNECTIONS_PER_CLIENT", "8"),
    ]);
    let port = server.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attacker = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(s) = common::connect_from("127.0.0.1", port).await {
                    held.push(s);
                }
                if held.len() > 200 {
                    held.remove(0);
                }
                tokio::task::yield_now().await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(3), async {
            let mut s = common::connect_from("127.0.0.2", port).await.unwrap();
            http_get(&mut s, "/api/v1/nudge-config").await
        })
        .await
        .expect("another client was locked out");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    attacker.await.unwrap();
}

/// SIGTERM lets a request in flight finish; a body that never completes
/// gets a JSON 408.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight_and_slow_bodies_time_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = common::Binary::start(&[("REQUEST_TIMEOUT_SECS", "2")]);
    let mut slow = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    // The webhook reads the whole body before it answers.
    let body = r#"{"id":"e1","type":"refund","account_id":"u-1"}"#;
    slow.write_all(
        format!("POST /api/v1/webhooks/billing HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", body.len(), &body[..10]).as_bytes(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    slow.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).await.unwrap();
    // Answered (401: this test signs nothing), not cut off.
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer:?}");

    let server = common::Binary::start(&[("REQUEST_TIMEOUT_SECS", "1")]);
    let mut stalled = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    stalled
        .write_all(b"POST /api/v1/webhooks/billing HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"user")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), stalled.read_to_string(&mut answer))
        .await
        .expect("a stalled body held the request open")
        .unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 408") || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    assert!(
        answer.contains("application/json") && answer.contains("\"error\""),
        "{answer}"
    );
}
