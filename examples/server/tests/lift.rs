//! Lift against the holdout on the admin page: every person counts in the
//! groups the engine assigns them (core's `lift::groups_of`), the counters
//! kept with each write equal a count from scratch, and the report is
//! core's.

mod common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use common::{service, Call, ORIGIN};
use referral_core::lift::{experiment_lift, groups_of, GroupTally, UserOutcome};
use serde_json::{json, Value};

#[derive(Default, Clone, Copy)]
struct Expected {
    asked: bool,
    shared: bool,
    signups: u32,
    paid: u32,
}

fn expected_tallies(
    nudge: &referral_core::nudge::NudgeConfig,
    people: &BTreeMap<String, Expected>,
) -> BTreeMap<String, GroupTally> {
    let mut tallies: BTreeMap<String, GroupTally> = BTreeMap::new();
    for (user, e) in people {
        let outcome = UserOutcome {
            holdout: false,
            asked: e.asked,
            shared: e.shared,
            referred_signups: e.signups,
            referred_paid: e.paid,
        };
        for group in groups_of(nudge, user) {
            tallies.entry(group).or_default().add(&outcome);
        }
    }
    tallies
}

async fn admin_lift(s: &common::Service, cookie: &str) -> Value {
    let reply = Call::new("GET", "/api/admin/funnel")
        .header("cookie", cookie)
        .send(&s.router)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["lift"].clone()
}

fn tally_of(report: &Value) -> GroupTally {
    serde_json::from_value(report.clone()).expect("a group report carries its tally")
}

#[tokio::test]
async fn the_admin_sees_lift_counted_per_group_as_the_engine_assigns_it() {
    let s = service(&[]).await;
    let nudge = s.state.settings.nudge.clone();
    let mut people: BTreeMap<String, Expected> = BTreeMap::new();
    // 40 customers; some see the ask, some share, some bring friends who
    // sign up, and some of those pay.
    let mut friend = 0;
    for i in 0..40 {
        let user = format!("lift-user-{i}");
        let reply = s
            .register(&user, &format!("{user}@company{i}.example"), "Pat")
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let mut events = Vec::new();
        let mut e = Expected::default();
        if i % 2 == 0 {
            events.push(json!({ "id": format!("imp-{i}"), "type": "impression", "at": 1, "moment": "first_report" }));
            events.push(json!({ "id": format!("imp2-{i}"), "type": "impression", "at": 2, "moment": "first_report" }));
            e.asked = true;
        }
        if i % 3 == 0 {
            events.push(
                json!({ "id": format!("share-{i}"), "type": "share", "at": 3, "channel": "email" }),
            );
            e.shared = true;
        }
        if !events.is_empty() {
            let posted = Call::new("POST", "/api/v1/me/events")
                .bearer(&s.user_token(&user))
                .header("origin", ORIGIN)
                .json(&json!({ "events": events }))
                .send(&s.router)
                .await;
            assert_eq!(posted.status, StatusCode::ACCEPTED, "{}", posted.text);
        }
        if i % 5 == 0 {
            let code = s.links(&user).await["codes"]["email"]
                .as_str()
                .unwrap()
                .to_owned();
            for k in 0..(i % 3 + 1) {
                friend += 1;
                let id = format!("lift-friend-{friend}");
                let signed = s
                    .signup(json!({ "user_id": id, "email": format!("f{friend}@home{friend}.example"), "code": code }))
                    .await;
                assert_eq!(signed.status, StatusCode::OK, "{}", signed.text);
                e.signups += 1;
                people.insert(id.clone(), Expected::default());
                if k == 0 {
                    let paid = s
                        .webhook(json!({ "id": format!("pay-{friend}"), "type": "payment", "account_id": id, "amount_minor": 9900, "currency": "USD" }))
                        .await;
                    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
                    e.paid += 1;
                }
            }
        }
        people.insert(user, e);
    }
    let expected = expected_tallies(&nudge, &people);
    assert!(expected["holdout"].users > 0 && expected["treatment"].referrers > 0);

    let (cookie, _) = s.admin().await;
    let lift = admin_lift(&s, &cookie).await;
    assert_eq!(
        tally_of(&lift["overall"]["treatment"]),
        expected["treatment"],
        "{lift}"
    );
    assert_eq!(
        tally_of(&lift["overall"]["holdout"]),
        expected["holdout"],
        "{lift}"
    );
    // Per variant of each moment with variants, as the engine assigns them.
    let variants = lift["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2, "{lift}");
    for v in variants {
        let key = format!(
            "variant:{}:{}",
            v["moment"].as_str().unwrap(),
            v["variant"].as_str().unwrap()
        );
        assert_eq!(
            tally_of(&v["report"]["treatment"]),
            expected.get(&key).copied().unwrap_or_default(),
            "{key}"
        );
    }
    // The report is core's, from those tallies.
    let report = experiment_lift(
        &nudge,
        &expected,
        referral_server::store::lift::MIN_RELATIVE_LIFT,
    );
    assert_eq!(lift, serde_json::to_value(&report).unwrap());
    assert_eq!(
        lift["experiment"].as_str(),
        nudge.experiment.as_ref().map(|e| e.name.as_str())
    );
    assert!(lift["overall"]["summary"].as_str().unwrap().len() > 20);

    // Counting from scratch (a new experiment design, or a database from
    // before lift) gives the same counters.
    let db = &s.state.db;
    let mut conn = db.pool.acquire().await.unwrap();
    sqlx::query("DELETE FROM data_migrations WHERE name LIKE 'lift:%'")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("UPDATE lift_counts SET count = count + 7")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    referral_server::store::lift::recount(db, &nudge)
        .await
        .unwrap();
    assert_eq!(admin_lift(&s, &cookie).await, lift);
    // Once counted for a design, a restart does not count again.
    let mut conn = db.pool.acquire().await.unwrap();
    sqlx::query(
        "UPDATE lift_counts SET count = count + 1 WHERE grp = 'holdout' AND metric = 'users'",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    referral_server::store::lift::recount(db, &nudge)
        .await
        .unwrap();
    assert_ne!(admin_lift(&s, &cookie).await, lift);

    // Another design (a renamed experiment reassigns everyone) is counted
    // again by the new assignment.
    let mut renamed = (*nudge).clone();
    renamed.experiment.as_mut().unwrap().name = "nudge-v2".into();
    referral_server::store::lift::recount(db, &renamed)
        .await
        .unwrap();
    let mut conn = db.read_snapshot().await.unwrap();
    let counted = referral_server::store::lift::tallies(&mut conn)
        .await
        .unwrap();
    assert_eq!(counted, expected_tallies(&renamed, &people));
}
