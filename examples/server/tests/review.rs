//! Review decisions: a flagged referral approved (its rewards go on) or
//! rejected (reversed as fraud, for good), a signup attributed by hand,
//! each in the audit log with who, when and why; admins only, with CSRF.

mod common;

use axum::http::StatusCode;
use common::{service, Call, ORIGIN};
use serde_json::{json, Value};

async fn flagged(s: &common::Service, referrer: &str, friend: &str) -> String {
    let domain = format!("{referrer}co.example");
    assert_eq!(
        s.register(referrer, &format!("{referrer}@{domain}"), "Anna")
            .await
            .status,
        StatusCode::OK
    );
    let code = s.links(referrer).await["codes"]["email"]
        .as_str()
        .unwrap()
        .to_owned();
    // A colleague at the same company: attributed for review.
    let signup = s
        .signup(json!({ "user_id": friend, "email": format!("{friend}@{domain}"), "code": code }))
        .await;
    assert_eq!(
        signup.body["reason"], "attributed_for_review",
        "{}",
        signup.text
    );
    signup.body["referral_id"].as_str().unwrap().to_owned()
}

async fn statuses(s: &common::Service, referrer: &str) -> Vec<Value> {
    Call::new("GET", "/api/v1/me/stats")
        .bearer(&s.user_token(referrer))
        .send(&s.router)
        .await
        .body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].clone())
        .collect()
}

#[tokio::test]
async fn admins_approve_reject_and_attribute_with_an_audit_trail() {
    let s = service(&[]).await;
    let (cookie, csrf) = s.admin().await;
    let admin = |method: &'static str, uri: String, body: Value| {
        Call::new(method, uri)
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .header("origin", ORIGIN)
            .json(&body)
    };
    let approve_me = flagged(&s, "anna", "bo").await;
    let reject_me = flagged(&s, "cy", "di").await;
    for friend in ["bo", "di"] {
        let paid = s
            .webhook(json!({ "id": format!("pay-{friend}"), "type": "payment", "account_id": friend, "amount_minor": 9900, "currency": "USD" }))
            .await;
        assert_eq!(paid.body["outcome"], "rewarded", "{}", paid.text);
    }
    assert_eq!(statuses(&s, "anna").await, vec![json!("pending")]);
    let queue = || Call::new("GET", "/api/admin/funnel").header("cookie", cookie.clone());
    assert_eq!(
        queue().send(&s.router).await.body["review_queue"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Without the CSRF token, or without a session: refused.
    let forged = Call::new(
        "POST",
        format!("/api/admin/referrals/{approve_me}/decision"),
    )
    .header("cookie", &cookie)
    .header("origin", ORIGIN)
    .json(&json!({ "decision": "approve", "reason": "known colleague" }))
    .send(&s.router)
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
    let anonymous = Call::new(
        "POST",
        format!("/api/admin/referrals/{approve_me}/decision"),
    )
    .json(&json!({ "decision": "approve", "reason": "x" }))
    .send(&s.router)
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let no_reason = admin(
        "POST",
        format!("/api/admin/referrals/{approve_me}/decision"),
        json!({ "decision": "approve", "reason": " " }),
    )
    .send(&s.router)
    .await;
    assert_eq!(no_reason.error(), "invalid_reason");

    // Approve: the held-for-review reward goes on (held, then payable).
    let approved = admin(
        "POST",
        format!("/api/admin/referrals/{approve_me}/decision"),
        json!({ "decision": "approve", "reason": "a different team, checked" }),
    )
    .send(&s.router)
    .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    assert_eq!(approved.body["applied"]["outcome"], "approved");
    assert_eq!(statuses(&s, "anna").await, vec![json!("held")]);
    // Announced: the decision, and the rewards it released as held.
    let announced = |kind: &'static str| {
        let db = s.state.db.clone();
        let referral = approve_me.clone();
        async move {
            use sqlx::Row;
            let mut conn = db.pool.acquire().await.unwrap();
            sqlx::query("SELECT body FROM outbound_events WHERE event_type = $1")
                .bind(kind)
                .fetch_all(&mut *conn)
                .await
                .unwrap()
                .iter()
                .filter(|r| r.get::<String, _>("body").contains(&referral))
                .count()
        }
    };
    assert_eq!(announced("referral.approved").await, 1);
    assert_eq!(
        announced("reward.held").await,
        2,
        "the referrer's and the friend's"
    );
    let again = admin(
        "POST",
        format!("/api/admin/referrals/{approve_me}/decision"),
        json!({ "decision": "approve", "reason": "again" }),
    )
    .send(&s.router)
    .await;
    assert_eq!(
        again.body["applied"]["outcome"], "duplicate",
        "{}",
        again.text
    );
    let flip = admin(
        "POST",
        format!("/api/admin/referrals/{approve_me}/decision"),
        json!({ "decision": "reject", "reason": "changed my mind" }),
    )
    .send(&s.router)
    .await;
    assert_eq!(
        (flip.status, flip.error()),
        (StatusCode::CONFLICT, "already_decided")
    );

    // Reject: reversed as fraud, and it earns nothing more.
    let rejected = admin(
        "POST",
        format!("/api/admin/referrals/{reject_me}/decision"),
        json!({ "decision": "reject", "reason": "same person, two accounts" }),
    )
    .send(&s.router)
    .await;
    assert_eq!(
        rejected.body["applied"]["outcome"], "reversed",
        "{}",
        rejected.text
    );
    assert_eq!(statuses(&s, "cy").await, vec![json!("reversed")]);
    let later = s
        .webhook(json!({ "id": "pay-di-2", "type": "payment", "account_id": "di", "amount_minor": 9900, "currency": "USD" }))
        .await;
    assert_eq!(later.body["outcome"], "not_qualifying", "{}", later.text);
    assert_eq!(
        queue().send(&s.router).await.body["review_queue"],
        json!([])
    );

    // By hand: a signup the attribution missed.
    assert_eq!(
        s.register("ed", "ed@edco.example", "Ed").await.status,
        StatusCode::OK
    );
    let plain = s
        .signup(json!({ "user_id": "fay", "email": "fay@fayco.example" }))
        .await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.text);
    let by_hand = admin(
        "POST",
        "/api/admin/referrals".into(),
        json!({ "friend": "fay", "referrer": "ed", "reason": "told us in support ticket 42" }),
    )
    .send(&s.router)
    .await;
    assert_eq!(by_hand.status, StatusCode::OK, "{}", by_hand.text);
    let twice = admin(
        "POST",
        "/api/admin/referrals".into(),
        json!({ "friend": "fay", "referrer": "ed", "reason": "again" }),
    )
    .send(&s.router)
    .await;
    assert_eq!(twice.error(), "already_attributed");
    let paid = s
        .webhook(json!({ "id": "pay-fay", "type": "payment", "account_id": "fay", "amount_minor": 9900, "currency": "USD" }))
        .await;
    assert_eq!(paid.body["outcome"], "rewarded", "{}", paid.text);
    assert_eq!(statuses(&s, "ed").await, vec![json!("held")]);

    // A manual adjustment: payable at once, a retry is a duplicate.
    let adjust = |body: Value| {
        admin(
            "POST",
            format!("/api/admin/referrals/{approve_me}/adjustments"),
            body,
        )
    };
    let goodwill = json!({ "adjustment_id": "a1", "side": "referrer", "amount_minor": 2500, "currency": "usd", "reason": "goodwill after an outage" });
    let adjusted = adjust(goodwill.clone()).send(&s.router).await;
    assert_eq!(
        adjusted.body["applied"]["outcome"], "rewarded",
        "{}",
        adjusted.text
    );
    assert_eq!(
        adjust(goodwill).send(&s.router).await.body["applied"]["outcome"],
        "duplicate"
    );
    assert_eq!(
        statuses(&s, "anna").await,
        vec![json!("held"), json!("payable")]
    );
    let zero = adjust(json!({ "adjustment_id": "a2", "side": "referrer", "amount_minor": 0, "currency": "USD", "reason": "nothing" }))
        .send(&s.router)
        .await;
    assert_eq!(
        (zero.status, zero.error()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_event")
    );

    // For finance: every referral and every reward entry with its status,
    // as CSV a spreadsheet opens safely.
    let formula = adjust(json!({ "adjustment_id": "a3", "side": "friend", "amount_minor": -100, "currency": "USD", "reason": "=HYPERLINK(\"x\")" }))
        .send(&s.router)
        .await;
    assert_eq!(formula.status, StatusCode::OK, "{}", formula.text);
    let csv = |name: &str| {
        Call::new("GET", format!("/api/admin/exports/{name}")).header("cookie", &cookie)
    };
    let referrals = csv("referrals.csv").send(&s.router).await;
    assert_eq!(
        referrals.content_type.as_deref(),
        Some("text/csv; charset=utf-8")
    );
    let lines: Vec<&str> = referrals.text.lines().collect();
    assert_eq!(
        lines[0],
        "referral_id,friend,referrer,channel,outcome,review,decision,created_at"
    );
    assert!(lines.iter().any(|l| l.starts_with(&format!("{reject_me},di,cy,")) && l.contains(",true,rejected,")), "{}", referrals.text);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(",fay,ed,,attributed_by_hand,false,,")),
        "{}",
        referrals.text
    );
    let rewards = csv("rewards.csv").send(&s.router).await;
    assert!(
        rewards.text.starts_with(
            "entry_id,referral_id,beneficiary,side,kind,amount_minor,currency,status,"
        ),
        "{}",
        rewards.text
    );
    assert!(
        rewards
            .text
            .contains(",cy,referrer,credit,5000,USD,reversed,"),
        "{}",
        rewards.text
    );
    assert!(
        rewards
            .text
            .contains(",anna,referrer,credit,2500,USD,payable,"),
        "{}",
        rewards.text
    );
    // A formula is quoted: it shows as text.
    assert!(
        rewards.text.contains("\"'=HYPERLINK(\"\"x\"\")\""),
        "{}",
        rewards.text
    );
    let anonymous = Call::new("GET", "/api/admin/exports/rewards.csv")
        .send(&s.router)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // The audit trail: who, when, what, why, newest first.
    let audit = Call::new("GET", "/api/admin/audit")
        .header("cookie", &cookie)
        .send(&s.router)
        .await;
    let entries = audit.body.as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "referral.adjust",
            "referral.adjust",
            "referral.attribute",
            "referral.reject",
            "referral.approve"
        ]
    );
    assert!(entries
        .iter()
        .all(|e| e["admin"] == common::ADMIN_EMAIL && e["at"].as_i64().unwrap() > 0));
    assert_eq!(entries[3]["reason"], "same person, two accounts");
    assert_eq!(entries[3]["subject"], reject_me);
}
