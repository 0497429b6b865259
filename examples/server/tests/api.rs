//! The service's three faces end to end, in process through the router, on
//! SQLite (and PostgreSQL when `TEST_DATABASE_URL` names a server).

mod common;

use axum::http::StatusCode;
use common::{service, Call, ORIGIN};
use serde_json::json;

#[tokio::test]
async fn the_whole_referral_loop() {
    let s = service(&[]).await;
    // The host registers Anna and shows her the widget with a user token.
    let anna = s
        .register("u-anna", "anna@annaco.example", "Anna Lind")
        .await;
    assert_eq!(anna.status, StatusCode::OK, "{}", anna.text);
    let links = s.links("u-anna").await;
    let whatsapp = links["codes"]["whatsapp"].as_str().unwrap().to_owned();
    assert!(links["links"]["email"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{ORIGIN}/r?ref=")));
    assert_eq!(links["name"], "Anna Lind");
    // The server API gives the host's backend the same links (mobile apps).
    let same = Call::new("GET", "/api/v1/users/u-anna/referral")
        .bearer(&s.api_key)
        .send(&s.router)
        .await;
    assert_eq!(same.body["typed_code"], links["typed_code"]);

    // A friend lands: a first-party HttpOnly cookie, then the host's signup page.
    let landing = Call::new("GET", format!("/r/{whatsapp}"))
        .send(&s.router)
        .await;
    assert_eq!(landing.status, StatusCode::SEE_OTHER);
    assert_eq!(
        landing.location.as_deref(),
        Some(format!("/signup?ref={whatsapp}").as_str())
    );
    let cookie = landing.cookie("referral_ref").unwrap();
    assert!(landing.cookies[0].contains("HttpOnly"));
    let name = Call::new("GET", format!("/api/v1/referrer?code={whatsapp}"))
        .send(&s.router)
        .await;
    assert_eq!(name.body, json!({ "name": "Anna Lind" }));

    // The host's backend reports the signup with the cookie's value.
    let bo = s
        .signup(json!({
            "user_id": "u-bo", "email": "bo@boco.example",
            "ref_cookie": cookie.trim_start_matches("referral_ref="),
        }))
        .await;
    assert_eq!(bo.status, StatusCode::OK, "{}", bo.text);
    assert_eq!(bo.body["reason"], "attributed");
    assert_eq!(bo.body["attribution"]["channel"], "whatsapp");

    // A colleague of Anna's: attributed for review (same company).
    let carl = s
        .signup(json!({ "user_id": "u-carl", "email": "carl@annaco.example", "code": whatsapp }))
        .await;
    assert_eq!(
        carl.body["reason"], "attributed_for_review",
        "{}",
        carl.text
    );

    // Billing: a signed payment holds Anna's reward; past the hold it is
    // payable; a refund reverses it; redelivery is a no-op.
    let paid = s
        .webhook(json!({ "id": "evt_1", "type": "payment", "account_id": "u-bo", "amount_minor": 9900, "currency": "USD" }))
        .await;
    assert_eq!(paid.body["outcome"], "rewarded", "{}", paid.text);
    let again = s
        .webhook(json!({ "id": "evt_1", "type": "payment", "account_id": "u-bo", "amount_minor": 9900, "currency": "USD" }))
        .await;
    assert_eq!(again.body["outcome"], "duplicate");
    let stats =
        |s: &common::Service| Call::new("GET", "/api/v1/me/stats").bearer(&s.user_token("u-anna"));
    let held = stats(&s).send(&s.router).await;
    assert_eq!(held.body["entries"][0]["status"], "held", "{}", held.text);
    assert_eq!(held.body["signups"], 2);
    s.state.clock.advance(31 * 86_400);
    let payable = stats(&s).send(&s.router).await;
    assert_eq!(payable.body["entries"][0]["status"], "payable");
    let refund = s
        .webhook(json!({ "id": "evt_2", "type": "refund", "account_id": "u-bo" }))
        .await;
    assert_eq!(refund.body["outcome"], "reversed");

    // The admin sees the funnel and the review queue, and only what it shows.
    let (cookie, _) = s.admin().await;
    let funnel = Call::new("GET", "/api/admin/funnel")
        .header("cookie", &cookie)
        .send(&s.router)
        .await;
    assert_eq!(funnel.status, StatusCode::OK);
    assert_eq!(funnel.body["funnel"]["total"]["counts"]["signup"], 2);
    assert_eq!(
        funnel.body["review_queue"],
        json!([{ "referral_id": funnel.body["review_queue"][0]["referral_id"], "friend": "u-carl", "referrer": "u-anna", "flags": ["same_company_domain"] }])
    );
    assert!(
        !funnel.text.contains("annaco.example"),
        "emails leak: {}",
        funnel.text
    );
}

#[tokio::test]
async fn events_are_idempotent_per_user() {
    let s = service(&[]).await;
    let post = |user: &str, events: serde_json::Value| {
        Call::new("POST", "/api/v1/me/events")
            .bearer(&s.user_token(user))
            .header("origin", ORIGIN)
            .json(&json!({ "events": events }))
    };
    let first = post("u-a", json!([{ "id": "e1", "type": "share", "at": 1, "channel": "email" }, { "id": "e2", "type": "impression", "at": 1 }]))
        .send(&s.router)
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    assert_eq!(first.body, json!({ "accepted": 2, "duplicates": 0 }));
    let retry = post("u-a", json!([{ "id": "e1", "type": "share", "at": 1 }]))
        .send(&s.router)
        .await;
    assert_eq!(retry.body, json!({ "accepted": 0, "duplicates": 1 }));
    // Another user's event with the same id is that user's own.
    let other = post("u-b", json!([{ "id": "e1", "type": "share", "at": 1 }]))
        .send(&s.router)
        .await;
    assert_eq!(other.body, json!({ "accepted": 1, "duplicates": 0 }));
    let stats = Call::new("GET", "/api/v1/me/stats")
        .bearer(&s.user_token("u-b"))
        .send(&s.router)
        .await;
    assert_eq!(stats.body["invites"], 1);
}

#[tokio::test]
async fn api_keys_are_created_listed_and_revoked_by_admins() {
    let s = service(&[]).await;
    let (cookie, csrf) = s.admin().await;
    let created = Call::new("POST", "/api/admin/api-keys")
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", ORIGIN)
        .json(&json!({ "name": "backend" }))
        .send(&s.router)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let key = created.body["key"].as_str().unwrap().to_owned();
    let register = |key: &str| {
        Call::new("PUT", "/api/v1/users/u-1")
            .bearer(key)
            .json(&json!({ "email": "one@one.example" }))
    };
    assert_eq!(register(&key).send(&s.router).await.status, StatusCode::OK);
    let list = Call::new("GET", "/api/admin/api-keys")
        .header("cookie", &cookie)
        .send(&s.router)
        .await;
    assert!(!list.text.contains(&key[10..]), "a key's secret is listed");
    let id = created.body["id"].as_str().unwrap();
    let revoked = Call::new("DELETE", format!("/api/admin/api-keys/{id}"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send(&s.router)
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let refused = register(&key).send(&s.router).await;
    assert_eq!(
        (refused.status, refused.error()),
        (StatusCode::UNAUTHORIZED, "invalid_api_key")
    );
}

#[tokio::test]
async fn signups_with_an_idempotency_key_answer_once() {
    let s = service(&[]).await;
    s.register("u-anna", "anna@annaco.example", "Anna").await;
    let code = s.links("u-anna").await["code"].as_str().unwrap().to_owned();
    let body = json!({ "user_id": "u-bo", "email": "bo@boco.example", "code": code });
    let send = |body: &serde_json::Value, key: &str| {
        Call::new("POST", "/api/v1/signups")
            .bearer(&s.api_key)
            .header("idempotency-key", key)
            .json(body)
    };
    let first = send(&body, "k1").send(&s.router).await;
    let second = send(&body, "k1").send(&s.router).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.text, second.text);
    let other = json!({ "user_id": "u-bo", "email": "other@boco.example" });
    let misuse = send(&other, "k1").send(&s.router).await;
    assert_eq!(misuse.error(), "idempotency_key_reused");
    // Without the key, a repeated signup is a conflict, not a second referral.
    let repeat = s.signup(body.clone()).await;
    assert_eq!(
        (repeat.status, repeat.error()),
        (StatusCode::CONFLICT, "already_signed_up")
    );
}

#[tokio::test]
async fn the_nudge_state_follows_the_person_with_optimistic_concurrency() {
    let s = service(&[]).await;
    let token = s.user_token("u-anna");
    let get = || Call::new("GET", "/api/v1/me/nudge-state").bearer(&token);
    let put = |version: &str, state: serde_json::Value| {
        Call::new("PUT", "/api/v1/me/nudge-state")
            .bearer(&token)
            .header("if-match", format!("\"{version}\""))
            .json(&json!({ "state": state }))
    };
    let empty = get().send(&s.router).await;
    assert_eq!(empty.body, json!({ "state": null, "version": 0 }));
    let laptop = json!({ "v": 2, "user_id": "u-anna", "opted_out_at": 1_780_000_000u64, "counts": { "report_generated": 1 } });
    let first = put("0", laptop.clone()).send(&s.router).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["version"], 1);
    // The phone writes from the empty state it read: refused with what is stored.
    let phone = json!({ "v": 2, "user_id": "u-anna", "counts": { "report_generated": 2 } });
    let stale = put("0", phone.clone()).send(&s.router).await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        stale.text
    );
    assert_eq!(stale.body["state"]["opted_out_at"], 1_780_000_000u64);
    // Merged by core's rule and sent again with the version it saw.
    let merged = referral_core::nudge::merge_states(
        &referral_core::nudge::NudgeState::from_json(&phone.to_string()).unwrap(),
        &referral_core::nudge::NudgeState::from_json(&stale.body["state"].to_string()).unwrap(),
    )
    .unwrap();
    let again = put("1", serde_json::from_str(&merged.to_json()).unwrap())
        .send(&s.router)
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let now = get().send(&s.router).await;
    assert_eq!(now.body["version"], 2);
    assert_eq!(
        now.body["state"]["opted_out_at"], 1_780_000_000u64,
        "the opt-out survived"
    );
    assert_eq!(now.body["state"]["counts"]["report_generated"], 2);
    // A client that lost its copy and writes a fresh one at the current
    // version cannot take the opt-out back: what is stored is merged in.
    let fresh = put("2", json!({ "v": 2, "user_id": "u-anna" }))
        .send(&s.router)
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    assert_eq!(
        fresh.body["state"]["opted_out_at"], 1_780_000_000u64,
        "{}",
        fresh.text
    );
    // Another person's state, a broken state, no If-Match: refused.
    let other = put("2", json!({ "v": 2, "user_id": "u-bob" }))
        .send(&s.router)
        .await;
    assert_eq!(
        (other.status, other.error()),
        (StatusCode::FORBIDDEN, "wrong_user")
    );
    let broken = put("2", json!({ "v": 99, "user_id": "u-anna" }))
        .send(&s.router)
        .await;
    assert_eq!(
        (broken.status, broken.error()),
        (StatusCode::UNPROCESSABLE_ENTITY, "future_state_version")
    );
    let missing = Call::new("PUT", "/api/v1/me/nudge-state")
        .bearer(&token)
        .json(&json!({ "state": laptop }))
        .send(&s.router)
        .await;
    assert_eq!(
        (missing.status, missing.error()),
        (StatusCode::PRECONDITION_REQUIRED, "if_match_required")
    );
    // Each person sees only their own.
    let bob = Call::new("GET", "/api/v1/me/nudge-state")
        .bearer(&s.user_token("u-bob"))
        .send(&s.router)
        .await;
    assert_eq!(bob.body["state"], serde_json::Value::Null);
}

#[tokio::test]
async fn files_are_compressed_and_revalidated() {
    let s = service(&[]).await;
    let plain = Call::new("GET", "/static/admin.js").send(&s.router).await;
    assert_eq!(plain.status, StatusCode::OK);
    let raw = Call::new("GET", "/static/admin.js")
        .header("accept-encoding", "br, gzip")
        .send_raw(&s.router)
        .await;
    assert_eq!(raw.headers().get("content-encoding").unwrap(), "br");
    assert_eq!(raw.headers().get("cache-control").unwrap(), "no-cache");
    let etag = raw
        .headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body = http_body_util::BodyExt::collect(raw.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(
        body.len() * 2 < plain.text.len(),
        "{} compressed vs {} plain",
        body.len(),
        plain.text.len()
    );
    let again = Call::new("GET", "/static/admin.js")
        .header("if-none-match", &etag)
        .send(&s.router)
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.text.is_empty());
}

#[tokio::test]
async fn pages_name_the_package_by_its_content_and_it_is_cached_for_a_year() {
    let pkg = std::env::temp_dir().join(format!("referral-pkg-{}", common::unique()));
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("widget.min.js"), "export const v = 1;").unwrap();
    std::fs::write(pkg.join("stub.js"), "// stub").unwrap();
    let s = common::service_with(&["--demo"], Some(pkg.clone())).await;
    let version = |page: &common::Reply| {
        page.text
            .split("/pkg/v/")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .map(str::to_owned)
            .expect("a content-named package URL")
    };
    let page = Call::new("GET", "/").send(&s.router).await;
    assert_eq!(page.status, StatusCode::OK);
    let v1 = version(&page);
    assert!(
        !page.text.contains("\"/pkg/stub.js"),
        "an unversioned package URL is left"
    );
    let file = Call::new("GET", format!("/pkg/v/{v1}/widget.min.js"))
        .send_raw(&s.router)
        .await;
    assert_eq!(
        file.headers().get("cache-control").unwrap(),
        "public, max-age=31536000, immutable"
    );
    let page_headers = Call::new("GET", "/").send_raw(&s.router).await;
    assert_eq!(
        page_headers.headers().get("cache-control").unwrap(),
        "no-cache"
    );
    // The page's script imports the same URL (one module instance).
    let script = Call::new("GET", "/demo/static/app.js")
        .send(&s.router)
        .await;
    assert!(
        script.text.contains(&format!("/pkg/v/{v1}/widget.min.js")),
        "{}",
        &script.text[..200]
    );
    // A new build: a new name at once, and the old name is gone.
    std::fs::write(pkg.join("widget.min.js"), "export const v = 2;").unwrap();
    let v2 = version(&Call::new("GET", "/").send(&s.router).await);
    assert_ne!(v1, v2);
    let old = Call::new("GET", format!("/pkg/v/{v1}/widget.min.js"))
        .send(&s.router)
        .await;
    assert_eq!(old.status, StatusCode::NOT_FOUND);
    let new = Call::new("GET", format!("/pkg/v/{v2}/widget.min.js"))
        .send(&s.router)
        .await;
    assert_eq!(new.text, "export const v = 2;");
    let _ = std::fs::remove_dir_all(&pkg);
}
