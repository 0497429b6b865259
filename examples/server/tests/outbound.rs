//! Outbound webhooks (Standard Webhooks): the outbox written with the
//! change, signed deliveries to a local receiver (allowed by
//! `--allow-private-webhook-urls`), retries with back-off, redelivery,
//! secret rotation, URL refusals, and several workers on one database
//! delivering each message once. On SQLite, and on PostgreSQL when
//! `TEST_DATABASE_URL` names a server.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::{service, Call, Service, ORIGIN};
use hmac::{Hmac, Mac};
use referral_server::{outbound, AppState, Clock, Db, Secrets, Settings};
use serde_json::{json, Value};

const FAST: [&str; 7] = [
    "--rate-auth-per-minute",
    "10000",
    "--allow-private-webhook-urls",
    "--webhook-retry-base-ms",
    "40",
    "--webhook-poll-ms",
    "20",
];

/// What the receiver got: headers and body of each request.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
    at: std::time::Instant,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A local HTTP receiver on 127.0.0.1; `statuses` are the answers to the
/// first requests in order (then 200).
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    statuses: Arc<Mutex<Vec<u16>>>,
}

async fn receiver(statuses: &[u16]) -> Receiver {
    let got = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(
        statuses.iter().rev().copied().collect::<Vec<_>>(),
    ));
    let (g, sc) = (got.clone(), script.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (g, sc) = (g.clone(), sc.clone());
            async move {
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                g.lock().unwrap().push(Received {
                    id: h("webhook-id"),
                    timestamp: h("webhook-timestamp"),
                    signature: h("webhook-signature"),
                    body,
                    at: std::time::Instant::now(),
                });
                let status = sc.lock().unwrap().pop().unwrap_or(200);
                StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Receiver {
        url: format!("http://127.0.0.1:{port}/hook"),
        got,
        statuses: script,
    }
}

impl Receiver {
    fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
    fn of_type(&self, kind: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| r.json()["type"] == kind)
            .collect()
    }
    async fn wait_for(&self, kind: &str, n: usize) -> Vec<Received> {
        for _ in 0..400 {
            let got = self.of_type(kind);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no {kind} ×{n}; got {:?}", self.all());
    }
}

/// The Standard Webhooks check, written from the specification (the
/// official library checks the same in tests/e2e/outbound.mjs).
fn verifies(secret: &str, r: &Received) -> bool {
    let key = B64.decode(secret.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = format!("v1,{}", B64.encode(mac.finalize().into_bytes()));
    r.signature.split(' ').any(|s| s == expected)
}

async fn add_endpoint(s: &Service, url: &str, types: Value) -> common::Reply {
    let (cookie, csrf) = s.admin().await;
    Call::new("POST", "/api/admin/webhooks")
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", ORIGIN)
        .json(&json!({ "url": url, "event_types": types }))
        .send(&s.router)
        .await
}

async fn admin_call(s: &Service, method: &str, uri: &str) -> common::Reply {
    let (cookie, csrf) = s.admin().await;
    Call::new(method, uri)
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", ORIGIN)
        .send(&s.router)
        .await
}

/// Anna refers Bo; answers Bo's referral id.
async fn referred_signup(s: &Service, friend: &str) -> String {
    if s.register("u-anna", "anna@annaco.example", "Anna Lind")
        .await
        .status
        != StatusCode::OK
    {
        panic!("register");
    }
    let code = s.links("u-anna").await["codes"]["email"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = s
        .signup(
            json!({ "user_id": friend, "email": format!("{friend}@boco.example"), "code": code }),
        )
        .await;
    assert_eq!(reply.body["reason"], "attributed", "{}", reply.text);
    reply.body["referral_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn changes_are_announced_signed_from_attribution_to_reversal() {
    let s = service(&FAST).await;
    outbound::start(s.state.clone());
    let r = receiver(&[]).await;
    let created = add_endpoint(&s, &r.url, json!([])).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));

    let referral = referred_signup(&s, "u-bo").await;
    let attributed = r.wait_for("referral.attributed", 1).await;
    let msg = &attributed[0];
    assert!(verifies(&secret, msg), "{msg:?}");
    assert!(msg.id.starts_with("msg_"));
    let now = Clock::real_now();
    let ts: u64 = msg.timestamp.parse().unwrap();
    assert!(ts.abs_diff(now) < 60);
    let body = msg.json();
    assert_eq!(body["data"]["referral_id"], referral.as_str());
    assert_eq!(body["data"]["referrer_id"], "u-anna");
    assert_eq!(body["data"]["friend_id"], "u-bo");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));

    // A payment holds Anna's (and Bo's) reward.
    let paid = s
        .webhook(json!({ "id": "evt_1", "type": "payment", "account_id": "u-bo", "amount_minor": 9900, "currency": "USD" }))
        .await;
    assert_eq!(paid.body["outcome"], "rewarded", "{}", paid.text);
    let held = r.wait_for("reward.held", 1).await;
    assert!(held.iter().all(|m| verifies(&secret, m)));
    assert!(held
        .iter()
        .any(|m| m.json()["data"]["beneficiary"] == "u-anna"));
    let held_count = held.len();
    // Time passes past the hold: the periodic scan announces each once.
    s.state.clock.advance(31 * 86_400);
    let payable = r.wait_for("reward.payable", held_count).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(r.of_type("reward.payable").len(), payable.len(), "once");
    // A refund inside the clawback window reverses them.
    let refund = s
        .webhook(json!({ "id": "evt_2", "type": "refund", "account_id": "u-bo" }))
        .await;
    assert_eq!(refund.status, StatusCode::OK, "{}", refund.text);
    let reversed = r.wait_for("reward.reversed", held_count).await;
    assert!(reversed.iter().all(|m| verifies(&secret, m)));

    // A flagged referral (same company as Anna): flagged and attributed.
    let code = s.links("u-anna").await["codes"]["email"]
        .as_str()
        .unwrap()
        .to_owned();
    let carl = s
        .signup(json!({ "user_id": "u-carl", "email": "carl@annaco.example", "code": code }))
        .await;
    assert_eq!(
        carl.body["reason"], "attributed_for_review",
        "{}",
        carl.text
    );
    let flagged = r.wait_for("referral.flagged", 1).await;
    assert_eq!(flagged[0].json()["data"]["friend_id"], "u-carl");

    // The admin sees every delivery with its attempts.
    let deliveries = admin_call(&s, "GET", "/api/admin/webhook-deliveries").await;
    assert_eq!(deliveries.status, StatusCode::OK, "{}", deliveries.text);
    let list = deliveries.body.as_array().unwrap();
    assert_eq!(list.len(), r.all().len());
    assert!(list
        .iter()
        .all(|d| d["status"] == "delivered" && d["attempt_log"][0]["status_code"] == 200));
}

#[tokio::test]
async fn an_endpoint_gets_only_the_types_it_asked_for() {
    let s = service(&FAST).await;
    outbound::start(s.state.clone());
    let r = receiver(&[]).await;
    let created = add_endpoint(&s, &r.url, json!(["reward.held"])).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    referred_signup(&s, "u-bo").await;
    s.webhook(json!({ "id": "evt_1", "type": "payment", "account_id": "u-bo", "amount_minor": 9900, "currency": "USD" }))
        .await;
    r.wait_for("reward.held", 1).await;
    assert!(r.of_type("referral.attributed").is_empty());
    let unknown = add_endpoint(&s, &r.url, json!(["referral.nope"])).await;
    assert_eq!(unknown.error(), "unknown_event_type");
}

#[tokio::test]
async fn the_outbox_row_exists_only_if_the_change_committed() {
    let s = service(&FAST).await;
    let count = |db: Db| async move {
        let mut conn = db.pool.acquire().await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbound_events")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        n
    };
    // A transaction that emits and then fails leaves nothing.
    let mut tx = s.state.db.begin().await.unwrap();
    outbound::emit(&mut tx, "referral.attributed", json!({}), 1)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(s.state.db.clone()).await, 0);
    // A signup refused (the same user twice) adds no notification.
    referred_signup(&s, "u-bo").await;
    assert_eq!(count(s.state.db.clone()).await, 1);
    let again = s
        .signup(json!({ "user_id": "u-bo", "email": "bo@boco.example" }))
        .await;
    assert_eq!(again.error(), "already_signed_up");
    assert_eq!(count(s.state.db.clone()).await, 1);
    // The same emit, committed, is there.
    let mut tx = s.state.db.begin().await.unwrap();
    outbound::referral_decided(&mut tx, "ref_x", "u-anna", "u-bo", true, "checked", 1)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(s.state.db.clone()).await, 2);
}

#[tokio::test]
async fn failures_are_retried_with_back_off_then_redelivered_on_request() {
    let s = service(&[
        "--rate-auth-per-minute",
        "10000",
        "--allow-private-webhook-urls",
        "--webhook-retry-base-ms",
        "100",
        "--webhook-poll-ms",
        "20",
        "--webhook-max-attempts",
        "3",
    ])
    .await;
    outbound::start(s.state.clone());
    // 500, 500, then 200.
    let r = receiver(&[500, 500]).await;
    let created = add_endpoint(&s, &r.url, json!(["referral.attributed"])).await;
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    referred_signup(&s, "u-bo").await;
    let got = r.wait_for("referral.attributed", 3).await;
    // Same message id and body each time; waits grow (base 100 ms, ×2, with
    // jitter in the upper half).
    assert!(got
        .iter()
        .all(|m| m.id == got[0].id && m.body == got[0].body));
    assert!(got.iter().all(|m| verifies(&secret, m)));
    let first = got[1].at - got[0].at;
    let second = got[2].at - got[1].at;
    assert!(first >= Duration::from_millis(50), "{first:?}");
    assert!(second >= Duration::from_millis(100), "{second:?}");
    let deliveries = wait_delivery(&s, "delivered").await;
    let log = deliveries["attempt_log"].as_array().unwrap();
    let codes: Vec<i64> = log
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 500, 200]);
    assert!(log.iter().all(|a| a["duration_ms"].as_i64().is_some()));

    // An endpoint that always fails: failed after 3 attempts.
    *r.statuses.lock().unwrap() = vec![503; 3];
    referred_signup(&s, "u-cid").await;
    let failed = wait_delivery(&s, "failed").await;
    assert_eq!(failed["attempts"], 3);
    assert_eq!(failed["attempt_log"].as_array().unwrap().len(), 3);
    // The admin redelivers: now it works, with the same webhook-id.
    let id = failed["id"].as_i64().unwrap();
    let before = r.all().len();
    let redo = admin_call(
        &s,
        "POST",
        &format!("/api/admin/webhook-deliveries/{id}/redeliver"),
    )
    .await;
    assert_eq!(redo.status, StatusCode::ACCEPTED, "{}", redo.text);
    let delivered = wait_delivery(&s, "delivered").await;
    assert_eq!(delivered["id"], id);
    assert_eq!(r.all().len(), before + 1);
    assert_eq!(
        r.all().last().unwrap().id,
        failed["event_id"].as_str().unwrap()
    );
    let missing = admin_call(&s, "POST", "/api/admin/webhook-deliveries/999999/redeliver").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let no_csrf = Call::new(
        "POST",
        format!("/api/admin/webhook-deliveries/{id}/redeliver"),
    )
    .header("cookie", s.admin().await.0)
    .send(&s.router)
    .await;
    assert_eq!(no_csrf.error(), "csrf");
}

/// The newest delivery once it has `status`.
async fn wait_delivery(s: &Service, status: &str) -> Value {
    for _ in 0..400 {
        let list = admin_call(s, "GET", "/api/admin/webhook-deliveries").await;
        let newest = list.body[0].clone();
        if newest["status"] == status {
            return newest;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no delivery {status}");
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one() {
    let s = service(&FAST).await;
    outbound::start(s.state.clone());
    let r = receiver(&[]).await;
    let created = add_endpoint(&s, &r.url, json!([])).await;
    let old = created.body["secret"].as_str().unwrap().to_owned();
    let id = created.body["id"].as_str().unwrap().to_owned();
    let rotated = admin_call(&s, "POST", &format!("/api/admin/webhooks/{id}/rotate")).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    let list = admin_call(&s, "GET", "/api/admin/webhooks").await;
    assert_eq!(list.body[0]["active_secrets"], 2);
    assert!(!list.text.contains("whsec_"), "secrets are never listed");
    referred_signup(&s, "u-bo").await;
    let msg = &r.wait_for("referral.attributed", 1).await[0];
    assert_eq!(msg.signature.split(' ').count(), 2, "{}", msg.signature);
    assert!(verifies(&old, msg) && verifies(&new, msg));
    // Removed: nothing more is sent there.
    let gone = admin_call(&s, "DELETE", &format!("/api/admin/webhooks/{id}")).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let again = admin_call(&s, "DELETE", &format!("/api/admin/webhooks/{id}")).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert!(admin_call(&s, "GET", "/api/admin/webhooks")
        .await
        .body
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn endpoint_urls_must_be_public_https() {
    let s = service(&["--webhook-poll-ms", "20", "--rate-auth-per-minute", "10000"]).await;
    for (url, error) in [
        ("http://93.184.216.34/hook", "url_not_https"),
        ("https://127.0.0.1/hook", "url_private_address"),
        ("https://localhost/hook", "url_private_address"),
        ("https://10.1.2.3/hook", "url_private_address"),
        ("https://192.168.0.10/hook", "url_private_address"),
        ("https://169.254.169.254/latest", "url_private_address"),
        ("https://[::1]/hook", "url_private_address"),
        ("https://[fd00::1]/hook", "url_private_address"),
        ("https://[::ffff:10.0.0.1]/hook", "url_private_address"),
        ("https://user:pw@example.com/hook", "url_credentials"),
        ("ftp://example.com/hook", "invalid_url"),
        ("not a url", "invalid_url"),
    ] {
        let reply = add_endpoint(&s, url, json!([])).await;
        assert_eq!(
            (reply.status, reply.error()),
            (StatusCode::UNPROCESSABLE_ENTITY, error),
            "{url}: {}",
            reply.text
        );
    }
    // A public address literal is accepted (no DNS needed).
    let ok = add_endpoint(&s, "https://93.184.216.34/hook", json!([])).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);

    // At delivery the address is checked again: an endpoint whose name
    // now points at a private address (here written straight into the
    // table, as a rebinding would look) is never connected to.
    let r = receiver(&[]).await;
    let mut conn = s.state.db.pool.acquire().await.unwrap();
    sqlx::query("DELETE FROM webhook_endpoints")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO webhook_endpoints (id, url, event_types, secrets, created_at) VALUES ('we_x', $1, '[]', $2, 0)")
        .bind(r.url.replace("http://127.0.0.1", "https://localhost"))
        .bind(json!([{ "secret": outbound::new_secret() }]).to_string())
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    outbound::start(s.state.clone());
    referred_signup(&s, "u-bo").await;
    let d = wait_attempted(&s).await;
    assert!(d["attempt_log"][0]["error"]
        .as_str()
        .unwrap()
        .contains("private"));
    assert!(r.all().is_empty());
}

async fn wait_attempted(s: &Service) -> Value {
    for _ in 0..400 {
        let list = admin_call(s, "GET", "/api/admin/webhook-deliveries").await;
        if list.body[0]["attempts"].as_i64().unwrap_or(0) > 0 {
            return list.body[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no attempt");
}

/// Several workers (as several processes would) on one database: every
/// message is delivered exactly once.
#[tokio::test]
async fn several_workers_deliver_each_message_once() {
    let url = common::fresh_database_url().await;
    let args = common::args(&FAST);
    let secrets = Secrets::random();
    let mut states: Vec<AppState> = Vec::new();
    for _ in 0..3 {
        let db = Db::connect(&url).await.unwrap();
        let settings = Settings::new(&args, &secrets).unwrap();
        states.push(AppState::new(db, settings, Clock::default()));
    }
    let r = receiver(&[]).await;
    let mut conn = states[0].db.pool.acquire().await.unwrap();
    sqlx::query("INSERT INTO webhook_endpoints (id, url, event_types, secrets, created_at) VALUES ('we_x', $1, '[]', $2, 0)")
        .bind(&r.url)
        .bind(json!([{ "secret": outbound::new_secret() }]).to_string())
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    const N: usize = 60;
    for i in 0..N {
        let mut tx = states[i % 3].db.begin().await.unwrap();
        outbound::emit(&mut tx, "reward.held", json!({ "n": i }), 1)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    for state in &states {
        outbound::start(state.clone());
    }
    for _ in 0..400 {
        if r.all().len() >= N {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for m in r.all() {
        *per_id.entry(m.id).or_default() += 1;
    }
    assert_eq!(per_id.len(), N);
    assert!(per_id.values().all(|n| *n == 1), "{per_id:?}");
}

/// The loop closed: in demo mode the demo host subscribes to its own
/// service; when Bo signs up with Anna's link, Anna's app says so.
#[tokio::test]
async fn the_demo_host_thanks_the_referrer() {
    let s = service(&[
        "--demo",
        "--rate-auth-per-minute",
        "10000",
        "--rate-per-minute",
        "10000",
        "--webhook-poll-ms",
        "20",
    ])
    .await;
    // The service on a real port, as the binary serves it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = s.router.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    referral_server::demo::subscribe_outbound(
        &s.state.db,
        &format!("http://127.0.0.1:{port}"),
        Clock::real_now(),
    )
    .await
    .unwrap();
    outbound::start(s.state.clone());
    let account = |email: &str, code: Option<String>| {
        Call::new("POST", "/demo/api/accounts")
            .header("origin", ORIGIN)
            .json(&json!({ "email": email, "password": "a long demo password", "code": code }))
    };
    let anna = account("anna@annaco.example", None).send(&s.router).await;
    assert!(anna.status.is_success(), "{}", anna.text);
    let cookie = anna.cookie("demo_session").unwrap();
    let me = Call::new("GET", "/demo/api/me")
        .header("cookie", &cookie)
        .send(&s.router)
        .await;
    assert_eq!(me.body["thanks"], json!([]));
    let code = s.links(me.body["user_id"].as_str().unwrap()).await["codes"]["email"]
        .as_str()
        .unwrap()
        .to_owned();
    let bo = account("bo@boco.example", Some(code)).send(&s.router).await;
    assert!(bo.status.is_success(), "{}", bo.text);
    for _ in 0..400 {
        let thanks = Call::new("GET", "/demo/api/thanks")
            .header("cookie", &cookie)
            .send(&s.router)
            .await;
        if thanks.body["thanks"] == json!(["Your friend Bo joined — thank you!"]) {
            // A forged notification is refused.
            let forged = Call::new("POST", "/demo/hooks/referral")
                .header("webhook-id", "msg_x")
                .header("webhook-timestamp", Clock::real_now().to_string())
                .header("webhook-signature", "v1,AAAA")
                .raw(r#"{"type":"referral.attributed","data":{}}"#)
                .send(&s.router)
                .await;
            assert_eq!(forged.error(), "bad_signature");
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no thanks");
}
