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
        // Every page view shows the launcher: an impression, not an ask.
        let mut events =
            vec![json!({ "id": format!("launcher-{i}"), "type": "impression", "at": 1 })];
        let mut e = Expected::default();
        if i % 2 == 0 {
            events.push(json!({ "id": format!("imp-{i}"), "type": "nudge_shown", "at": 1, "moment": "first_report" }));
            events.push(json!({ "id": format!("imp2-{i}"), "type": "nudge_shown", "at": 2, "moment": "first_report" }));
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

/// The demo's admin tool adds simulated customers through the host's and
/// the browser's calls; the engine never asks the holdout, and the lift
/// report shows the groups apart.
#[tokio::test]
async fn the_demo_simulation_gives_the_admin_a_program_to_measure() {
    let s = common::service(&["--demo"]).await;
    let (cookie, csrf) = s.admin().await;
    let simulate = |customers: u32| {
        Call::new("POST", "/demo/api/simulate")
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .header("origin", ORIGIN)
            .json(&json!({ "customers": customers }))
    };
    let anonymous = Call::new("POST", "/demo/api/simulate")
        .json(&json!({ "customers": 5 }))
        .send(&s.router)
        .await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.text
    );
    let too_many = simulate(5_000).send(&s.router).await;
    assert_eq!(too_many.error(), "invalid_customers");
    let done = simulate(300).send(&s.router).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.body["customers"], 300);
    let lift = admin_lift(&s, &cookie).await;
    let treatment = tally_of(&lift["overall"]["treatment"]);
    let holdout = tally_of(&lift["overall"]["holdout"]);
    // Customers and their referred friends are users of their groups.
    let signups = done.body["referred_signups"].as_u64().unwrap();
    assert_eq!(treatment.users + holdout.users, 300 + signups, "{lift}");
    assert!(holdout.users > 10, "{lift}");
    // The engine asked every customer who can be asked, and no one else.
    assert_eq!(holdout.asked, 0, "{lift}");
    assert_eq!(treatment.asked, done.body["asked"].as_u64().unwrap());
    assert_eq!(treatment.signups + holdout.signups, signups);
    assert!(treatment.referrers > holdout.referrers, "{lift}");
    assert_eq!(lift["variants"].as_array().unwrap().len(), 2);
}
