//! Data rights: the host exports what the service keeps about a person,
//! and erases it — after which no table holds the person's email or name,
//! while the program's accounting still adds up.

mod common;

use axum::http::StatusCode;
use common::{service, Call, ORIGIN};
use serde_json::json;
use sqlx::{Column, Row};

const EMAIL: &str = "anna.lind@annaco.example";
const NAME: &str = "Anna Lind";

/// Every text value in every table, with where it is.
async fn every_text(s: &common::Service) -> Vec<(String, String)> {
    let mut conn = s.state.db.pool.acquire().await.unwrap();
    let list = if s.state.db.backend == referral_server::store::Backend::Sqlite {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'"
    } else {
        "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'"
    };
    let tables: Vec<String> = sqlx::query(list)
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>(0).unwrap())
        .collect();
    assert!(tables.len() > 10, "{tables:?}");
    let mut out = Vec::new();
    for table in tables {
        for row in sqlx::query(&format!("SELECT * FROM {table}"))
            .fetch_all(&mut *conn)
            .await
            .unwrap()
        {
            for (i, column) in row.columns().iter().enumerate() {
                if let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) {
                    out.push((format!("{table}.{}", column.name()), text));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn a_person_is_exported_then_erased() {
    let s = service(&[]).await;
    assert_eq!(
        s.register("u-anna", EMAIL, NAME).await.status,
        StatusCode::OK
    );
    let code = s.links("u-anna").await["codes"]["email"]
        .as_str()
        .unwrap()
        .to_owned();
    let bo = s
        .signup(json!({ "user_id": "u-bo", "email": "bo@boco.example", "code": code }))
        .await;
    assert_eq!(bo.body["reason"], "attributed", "{}", bo.text);
    let shared = Call::new("POST", "/api/v1/me/events")
        .bearer(&s.user_token("u-anna"))
        .header("origin", ORIGIN)
        .json(&json!({ "events": [{ "id": "e1", "type": "share", "at": 5, "channel": "email" }] }))
        .send(&s.router)
        .await;
    assert_eq!(shared.status, StatusCode::ACCEPTED, "{}", shared.text);
    let state = Call::new("PUT", "/api/v1/me/nudge-state")
        .bearer(&s.user_token("u-anna"))
        .header("origin", ORIGIN)
        .header("if-match", "\"0\"")
        .json(&json!({ "state": { "v": 2, "user_id": "u-anna", "profile": { "display_name": NAME } } }))
        .send(&s.router)
        .await;
    assert!(state.status.is_success(), "{}", state.text);
    let paid = s
        .webhook(json!({ "id": "evt_p", "type": "payment", "account_id": "u-bo", "amount_minor": 9900, "currency": "USD" }))
        .await;
    assert_eq!(paid.body["outcome"], "rewarded", "{}", paid.text);

    let export =
        |id: &str| Call::new("GET", format!("/api/v1/users/{id}/export")).bearer(&s.api_key);
    let anonymous = Call::new("GET", "/api/v1/users/u-anna/export")
        .send(&s.router)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let anna = export("u-anna").send(&s.router).await;
    assert_eq!(anna.status, StatusCode::OK, "{}", anna.text);
    assert_eq!(anna.body["user"]["email"], EMAIL);
    assert_eq!(anna.body["user"]["display_name"], NAME);
    assert_eq!(anna.body["referrals"][0]["friend"], "u-bo");
    assert_eq!(anna.body["rewards"][0]["status"], "held");
    assert_eq!(anna.body["events"][0]["type"], "share");
    assert_eq!(anna.body["nudge_state"]["profile"]["display_name"], NAME);
    // Only hers: Bo's email is not in it.
    assert!(!anna.text.contains("bo@boco.example"), "{}", anna.text);
    let bo = export("u-bo").send(&s.router).await;
    assert_eq!(bo.body["referred_by"]["referrer"], "u-anna");
    let nobody = export("u-nobody").send(&s.router).await;
    assert_eq!(
        (nobody.status, nobody.error()),
        (StatusCode::NOT_FOUND, "unknown_user")
    );

    // Before: her email and name are stored; after: nowhere.
    let holds = |texts: &[(String, String)]| -> Vec<String> {
        texts
            .iter()
            .filter(|(_, t)| t.contains(EMAIL) || t.contains(NAME) || t.contains("annaco.example"))
            .map(|(at, _)| at.clone())
            .collect()
    };
    assert!(!holds(&every_text(&s).await).is_empty());
    let erase = || Call::new("DELETE", "/api/v1/users/u-anna").bearer(&s.api_key);
    let erased = erase().send(&s.router).await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.text);
    let left = holds(&every_text(&s).await);
    assert!(left.is_empty(), "still stored in {left:?}");
    // Erasing again answers the same.
    let again = erase().send(&s.router).await;
    assert_eq!(again.body, erased.body);
    let after = export("u-anna").send(&s.router).await;
    assert_eq!(after.body["user"]["email"], "");
    assert_eq!(after.body["user"]["erased_at"], erased.body["erased_at"]);
    assert_eq!(after.body["events"], json!([]));
    assert_eq!(after.body["nudge_state"], serde_json::Value::Null);
    // The accounting still adds up: her reward and Bo's referral stay.
    assert_eq!(after.body["rewards"][0]["status"], "held");
    let (cookie, _) = s.admin().await;
    let funnel = Call::new("GET", "/api/admin/funnel")
        .header("cookie", &cookie)
        .send(&s.router)
        .await;
    assert_eq!(funnel.body["funnel"]["total"]["counts"]["signup"], 1);
    // The erased email is free: someone can sign up with it again.
    let back = s.register("u-anna-2", EMAIL, "Anna L.").await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.text);
}
