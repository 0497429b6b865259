//! The HTTP API end to end (in process, through the router), on SQLite by
//! default and on PostgreSQL when `TEST_DATABASE_URL` is set.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use referral_core::attribution::AttributionPolicy;
use referral_core::rewards::{Money, Program, ProgramKind, QualifyingEvent, RewardRule};
use referral_core::{Keyring, Verifier, VerifyPolicy};
use referral_server::{app, connect, Clock, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

const WEBHOOK_SECRET: [u8; 32] = [7u8; 32];

async fn server() -> (Router, Clock) {
    let url = match std::env::var("TEST_DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            let dir = std::env::temp_dir().join(format!(
                "referral-server-test-{}-{}",
                std::process::id(),
                rand_suffix()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            format!("sqlite://{}?mode=rwc", dir.join("test.db").display())
        }
    };
    let pool = connect(&url).await.expect("database");
    let config = Config {
        nudge_config_json: "{}".into(),
        web_dir: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web"),
        pkg_dir: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/npm/widget"),
        demo: true,
        verifier: Verifier::new(
            Keyring::new(1, &[3u8; 32]).unwrap(),
            VerifyPolicy {
                program_id: 1,
                max_age_secs: 365 * 86_400,
                max_clock_skew_secs: 300,
            },
        ),
        program: Program {
            id: 1,
            kind: ProgramKind::Customer,
            qualifying_event: QualifyingEvent::FirstPayment,
            referrer_reward: RewardRule::AccountCredit {
                amount: Money::new(5_000, "USD"),
            },
            friend_reward: Some(RewardRule::FreeMonths { months: 1 }),
            tiers: vec![],
            cap: None,
            hold_days: 30,
            clawback_days: 90,
        },
        policy: AttributionPolicy::default(),
        link_base: "http://127.0.0.1:8080/r".into(),
        session_secret: vec![5u8; 32],
        webhook_secret: WEBHOOK_SECRET.to_vec(),
        rate_per_minute: 10,
        rate_burst: 5,
    };
    let clock = Clock::default();
    (app(pool, config, clock.clone()), clock)
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

struct Reply {
    status: StatusCode,
    cookie: Option<String>,
    location: Option<String>,
    body: Value,
}

async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    cookie: Option<&str>,
    body: Option<Value>,
    extra: &[(&str, String)],
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    for (k, v) in extra {
        req = req.header(*k, v);
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    let location = res
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        cookie,
        location,
        body,
    }
}

fn signature(body: &str, t: u64) -> String {
    let tag =
        referral_core::keyring::hmac_sha256(&WEBHOOK_SECRET, format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(tag))
}

async fn webhook(router: &Router, clock: &Clock, event: Value) -> Reply {
    let body = event.to_string();
    let mut req = Request::builder()
        .method("POST")
        .uri("/api/webhooks/billing")
        .header(header::CONTENT_TYPE, "application/json");
    req = req.header("referral-signature", signature(&body, clock.now()));
    let res = router
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        cookie: None,
        location: None,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

#[tokio::test]
async fn the_whole_referral_loop() {
    let (router, clock) = server().await;
    let anna = call(
        &router,
        "POST",
        "/api/demo/sign-in",
        None,
        Some(json!({"email": "anna@annaco.example"})),
        &[],
    )
    .await;
    assert_eq!(anna.status, StatusCode::OK);
    let anna_cookie = anna.cookie.unwrap();
    let code = call(
        &router,
        "GET",
        "/api/referral-code",
        Some(&anna_cookie),
        None,
        &[],
    )
    .await;
    assert_eq!(code.status, StatusCode::OK);
    let whatsapp_code = code.body["codes"]["whatsapp"].as_str().unwrap().to_owned();
    assert!(code.body["links"]["email"]
        .as_str()
        .unwrap()
        .contains("ref="));

    // The friend lands, gets a first-party cookie, signs up at another company.
    let landing = call(
        &router,
        "GET",
        &format!("/r/{whatsapp_code}"),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(landing.status, StatusCode::SEE_OTHER);
    assert_eq!(
        landing.location,
        Some(format!("/signup?ref={whatsapp_code}"))
    );
    let ref_cookie = landing.cookie.unwrap();
    let bo = call(
        &router,
        "POST",
        "/api/signup",
        Some(&ref_cookie),
        Some(json!({"email": "bo@boco.example"})),
        &[],
    )
    .await;
    assert_eq!(bo.status, StatusCode::OK, "{}", bo.body);
    assert_eq!(bo.body["reason"], "attributed");
    assert_eq!(bo.body["attribution"]["channel"], "whatsapp");
    let bo_id = bo.body["account_id"].as_str().unwrap().to_owned();

    // A self-referral from the same company domain goes to review.
    let carl = call(
        &router,
        "POST",
        "/api/signup",
        None,
        Some(json!({"email": "carl@annaco.example", "code": whatsapp_code})),
        &[],
    )
    .await;
    assert_eq!(
        carl.body["reason"], "attributed_for_review",
        "{}",
        carl.body
    );
    let funnel = call(&router, "GET", "/api/admin/funnel", None, None, &[]).await;
    assert_eq!(funnel.body["review_queue"].as_array().unwrap().len(), 1);
    assert_eq!(
        funnel.body["review_queue"][0]["flags"][0]["flag"],
        "same_company_domain"
    );

    // Billing: signature checked; first payment holds the reward.
    let stale = call(
        &router,
        "POST",
        "/api/webhooks/billing",
        None,
        Some(json!({})),
        &[("referral-signature", "t=1,v1=00".into())],
    )
    .await;
    assert_eq!(
        (stale.status, stale.body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("stale_signature"))
    );
    let forged = call(
        &router,
        "POST",
        "/api/webhooks/billing",
        None,
        Some(json!({"id": "x"})),
        &[(
            "referral-signature",
            format!("t={},v1={}", clock.now(), "ab".repeat(32)),
        )],
    )
    .await;
    assert_eq!(forged.body["error"], "bad_signature");
    let paid = webhook(&router, &clock, json!({"id": "evt_1", "type": "payment", "account_id": bo_id, "amount_minor": 9900, "currency": "USD"})).await;
    assert_eq!(paid.body["outcome"], "rewarded", "{}", paid.body);
    let again = webhook(&router, &clock, json!({"id": "evt_1", "type": "payment", "account_id": bo_id, "amount_minor": 9900, "currency": "USD"})).await;
    assert_eq!(again.body["outcome"], "duplicate");
    let stats = call(&router, "GET", "/api/stats", Some(&anna_cookie), None, &[]).await;
    assert_eq!(stats.body["entries"][0]["status"], "held", "{}", stats.body);
    clock.advance(31 * 86_400);
    let stats = call(&router, "GET", "/api/stats", Some(&anna_cookie), None, &[]).await;
    assert_eq!(stats.body["entries"][0]["status"], "payable");
    let refund = webhook(
        &router,
        &clock,
        json!({"id": "evt_2", "type": "refund", "account_id": bo_id}),
    )
    .await;
    assert_eq!(refund.body["outcome"], "reversed");
    let stats = call(&router, "GET", "/api/stats", Some(&anna_cookie), None, &[]).await;
    assert_eq!(stats.body["entries"][0]["status"], "reversed");
    assert_eq!(stats.body["signups"], 2);
}

#[tokio::test]
async fn events_are_idempotent_by_id() {
    let (router, _) = server().await;
    let cookie = call(
        &router,
        "POST",
        "/api/demo/sign-in",
        None,
        Some(json!({"email": "e@events.example"})),
        &[],
    )
    .await
    .cookie
    .unwrap();
    let batch = json!({"events": [
        {"id": "e1", "type": "impression", "at": 1_780_000_000},
        {"id": "e2", "type": "share", "at": 1_780_000_001, "channel": "email"},
        {"id": "e3", "type": "copy", "at": 1_780_000_002, "channel": "link"},
    ]});
    let first = call(
        &router,
        "POST",
        "/api/events",
        Some(&cookie),
        Some(batch.clone()),
        &[],
    )
    .await;
    assert_eq!(
        (first.status, first.body["accepted"].as_i64()),
        (StatusCode::ACCEPTED, Some(3))
    );
    let replay = call(
        &router,
        "POST",
        "/api/events",
        Some(&cookie),
        Some(batch),
        &[],
    )
    .await;
    assert_eq!(
        (
            replay.body["accepted"].as_i64(),
            replay.body["duplicates"].as_i64()
        ),
        (Some(0), Some(3))
    );
    let stats = call(&router, "GET", "/api/stats", Some(&cookie), None, &[]).await;
    assert_eq!(stats.body["invites"], 1);
}

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_problem() {
    let (router, _) = server().await;
    let no_session = call(&router, "GET", "/api/referral-code", None, None, &[]).await;
    assert_eq!(
        (no_session.status, no_session.body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("not_signed_in"))
    );
    let forged = call(
        &router,
        "GET",
        "/api/referral-code",
        Some("referral_session=acct_x.00"),
        None,
        &[],
    )
    .await;
    assert_eq!(forged.body["error"], "bad_session");
    let email = call(
        &router,
        "POST",
        "/api/signup",
        None,
        Some(json!({"email": "not an email"})),
        &[],
    )
    .await;
    assert_eq!(
        (email.status, email.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_email"))
    );
    let cookie = call(
        &router,
        "POST",
        "/api/demo/sign-in",
        None,
        Some(json!({"email": "z@z.example"})),
        &[],
    )
    .await
    .cookie
    .unwrap();
    let junk = call(
        &router,
        "POST",
        "/api/events",
        Some(&cookie),
        Some(json!({"events": "nope"})),
        &[],
    )
    .await;
    assert_eq!(
        (junk.status, junk.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body"))
    );
    let landing = call(&router, "GET", "/r/%3Cscript%3E", None, None, &[]).await;
    assert_eq!(
        (landing.status, landing.cookie),
        (StatusCode::SEE_OTHER, None)
    );
    let big = "x".repeat(100 * 1024);
    let too_big = call(
        &router,
        "POST",
        "/api/events",
        Some(&cookie),
        Some(json!({ "events": [], "pad": big })),
        &[],
    )
    .await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn signup_and_code_lookups_are_rate_limited() {
    let (router, _) = server().await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            call(&router, "GET", "/r/not-a-code", None, None, &[])
                .await
                .status,
        );
    }
    assert_eq!(statuses[..5], [StatusCode::SEE_OTHER; 5]);
    assert_eq!(statuses[5..], [StatusCode::TOO_MANY_REQUESTS; 2]);
    let signup = call(
        &router,
        "POST",
        "/api/signup",
        None,
        Some(json!({"email": "x@y.example"})),
        &[],
    )
    .await;
    assert_eq!(
        (signup.status, signup.body["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
}
