//! Scale (issue 14): the admin funnel's counters and the per-referrer
//! ledgers equal an independent recount — core's `funnel` over the raw
//! tables, and `store::ledger::recount`, which replays the whole event log
//! into one `ProgramLedger` — and a request costs the same on a big program
//! as on a small one. On SQLite, and on PostgreSQL when `TEST_DATABASE_URL`
//! names a server.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{service, Call, Reply, Service, ORIGIN};
use referral_core::funnel::{funnel, Customer, FunnelEvent, FunnelReport, Stage};
use referral_core::funnel::{funnel_channel, funnel_moment};
use referral_core::rewards::{Ledger, LedgerEvent, Money, ProgramLedger, Side};
use referral_server::store::{aggregates, ledger, random_id};
use serde_json::{json, Value};
use sqlx::Row;

const DAY: u64 = 86_400;

fn expect(reply: &Reply, status: StatusCode, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.text);
}

/// A registered user's signed codes and typed code (server API).
async fn codes(s: &Service, user: &str) -> Value {
    let reply = Call::new("GET", format!("/api/v1/users/{user}/referral"))
        .bearer(&s.api_key)
        .send(&s.router)
        .await;
    expect(&reply, StatusCode::OK, "codes");
    reply.body
}

fn code(codes: &Value, channel: &str) -> String {
    codes["codes"][channel].as_str().unwrap().to_owned()
}

/// A widget batch, as the widget posts it with its user token.
async fn upload(s: &Service, user: &str, events: Value) -> Reply {
    Call::new("POST", "/api/v1/me/events")
        .bearer(&s.user_token(user))
        .header("origin", ORIGIN)
        .json(&json!({ "events": events }))
        .send(&s.router)
        .await
}

fn payment(id: &str, account: &str, currency: &str) -> Value {
    json!({ "id": id, "type": "payment", "account_id": account, "amount_minor": 9_900, "currency": currency })
}

fn billing(id: &str, kind: &str, account: &str) -> Value {
    json!({ "id": id, "type": kind, "account_id": account })
}

async fn webhook_outcome(s: &Service, event: Value, outcome: &str) {
    let reply = s.webhook(event.clone()).await;
    expect(&reply, StatusCode::OK, &event.to_string());
    assert_eq!(reply.body["outcome"], outcome, "{event}: {}", reply.text);
}

async fn signup(s: &Service, body: Value, reason: &str) -> Reply {
    let reply = s.signup(body.clone()).await;
    expect(&reply, StatusCode::OK, &body.to_string());
    assert_eq!(reply.body["reason"], reason, "{body}: {}", reply.text);
    reply
}

/// What the raw tables say, counted independently of the counters: the
/// whole event log replayed into one program ledger, and core's funnel
/// over the stored widget events, the attributed referrals, the recount's
/// paid referrals and live referrer rewards, and the users.
struct Recount {
    ledger: ProgramLedger,
    report: FunnelReport,
}

async fn recount(s: &Service) -> Recount {
    let mut conn = s.state.db.read.acquire().await.unwrap();
    let all = ledger::recount(&mut conn, &s.state.settings.program)
        .await
        .unwrap();
    let mut events = Vec::new();
    for row in sqlx::query("SELECT user_id, type, channel, moment, at FROM events")
        .fetch_all(&mut *conn)
        .await
        .unwrap()
    {
        let Some(stage) = Stage::of_widget_event(&row.get::<String, _>("type")) else {
            continue;
        };
        events.push(FunnelEvent {
            stage,
            at: row.get::<i64, _>("at") as u64,
            referrer: row.get("user_id"),
            // Core's rule for what a browser sends: the program's channels
            // and moments, anything else as `other`.
            channel: row
                .get::<Option<String>, _>("channel")
                .map(|c| funnel_channel(&c).to_owned()),
            moment: row
                .get::<Option<String>, _>("moment")
                .map(|m| funnel_moment(&m, &s.state.settings.nudge).to_owned()),
            program: None,
        });
    }
    for row in sqlx::query(
        "SELECT referrer_account, channel, created_at FROM referrals WHERE referrer_account IS NOT NULL",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap()
    {
        events.push(FunnelEvent {
            stage: Stage::Signup,
            at: row.get::<i64, _>("created_at") as u64,
            referrer: row.get("referrer_account"),
            channel: row.get("channel"),
            moment: None,
            program: None,
        });
    }
    for (referrer, l) in all.ledgers() {
        for r in l.referrals.values().filter(|r| r.payments > 0) {
            events.push(FunnelEvent {
                stage: Stage::Paid,
                at: r.attributed_at,
                referrer: referrer.clone(),
                channel: None,
                moment: None,
                program: None,
            });
        }
        for e in l
            .entries
            .iter()
            .filter(|e| e.side == Side::Referrer && e.reversal.is_none())
        {
            events.push(FunnelEvent {
                stage: Stage::Reward,
                at: e.created_at,
                referrer: e.beneficiary.clone(),
                channel: None,
                moment: None,
                program: None,
            });
        }
    }
    let customers: Vec<Customer> = sqlx::query("SELECT external_id, created_at FROM users")
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .iter()
        .map(|row| Customer {
            account: row.get("external_id"),
            since: row.get::<i64, _>("created_at") as u64,
            active: true,
        })
        .collect();
    Recount {
        report: funnel(&events, &customers),
        ledger: all,
    }
}

/// Every referrer's stored ledger row.
async fn stored_ledgers(s: &Service) -> BTreeMap<String, Ledger> {
    let mut conn = s.state.db.read.acquire().await.unwrap();
    sqlx::query("SELECT referrer, ledger FROM referrer_ledgers")
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let text: String = row.get("ledger");
            (row.get("referrer"), serde_json::from_str(&text).unwrap())
        })
        .collect()
}

/// (entry id, beneficiary, side, status, reversal reason): sorted by id.
type EntryLine = (String, String, Side, String, Option<String>);

fn entry_lines<'a>(
    entries: impl Iterator<
        Item = (
            &'a referral_core::rewards::Entry,
            referral_core::rewards::EntryStatus,
        ),
    >,
) -> Vec<EntryLine> {
    let mut lines: Vec<EntryLine> = entries
        .map(|(e, status)| {
            (
                e.id.clone(),
                e.beneficiary.clone(),
                e.side,
                format!("{status:?}"),
                e.reversal.as_ref().map(|r| format!("{:?}", r.reason)),
            )
        })
        .collect();
    lines.sort();
    lines
}

/// The per-referrer rows, together, are the recount: each non-empty row
/// equals the recount's ledger for that referrer (referrals, entries,
/// applied event ids), every recounted referrer has its row, the union of
/// entries (sorted by id, with statuses now) is the recount's, no entry is
/// in two rows, and `ledger_entries` routes each entry to its row.
async fn assert_ledgers_equal_recount(s: &Service, recount: &Recount) {
    let stored = stored_ledgers(s).await;
    for (referrer, l) in &stored {
        if l.is_empty() {
            // A signup locks each candidate referrer's row (creating it
            // empty), attributed to them or not.
            assert!(
                recount.ledger.ledger(referrer).is_none_or(Ledger::is_empty),
                "{referrer}: an empty row, a non-empty recount"
            );
            continue;
        }
        assert_eq!(
            Some(l),
            recount.ledger.ledger(referrer),
            "{referrer}'s stored ledger differs from the recount"
        );
    }
    for (referrer, _) in recount.ledger.ledgers() {
        assert!(stored.contains_key(referrer), "{referrer}: no stored row");
    }
    let now = s.state.clock.now();
    let union = entry_lines(
        stored
            .values()
            .flat_map(|l| l.entries.iter().map(move |e| (e, l.status(e, now)))),
    );
    assert_eq!(union, entry_lines(recount.ledger.entries(now)));
    let ids: BTreeSet<&String> = union.iter().map(|l| &l.0).collect();
    assert_eq!(ids.len(), union.len(), "an entry is in two ledgers");
    let mut conn = s.state.db.read.acquire().await.unwrap();
    let routes: BTreeMap<String, String> = sqlx::query("SELECT id, referrer FROM ledger_entries")
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("id"), r.get("referrer")))
        .collect();
    let expected: BTreeMap<String, String> = stored
        .iter()
        .flat_map(|(referrer, l)| l.entries.iter().map(|e| (e.id.clone(), referrer.clone())))
        .collect();
    assert_eq!(routes, expected, "ledger_entries does not route as stored");
}

/// A user's `GET /api/v1/me/stats` entries are the recount's entries for
/// that beneficiary (ids, statuses now, values); signups and invites are
/// the raw rows'.
async fn assert_stats_equal_recount(s: &Service, recount: &Recount, user: &str) {
    let reply = Call::new("GET", "/api/v1/me/stats")
        .bearer(&s.user_token(user))
        .send(&s.router)
        .await;
    expect(&reply, StatusCode::OK, "stats");
    let mut got: Vec<Value> = reply.body["entries"].as_array().unwrap().clone();
    got.sort_by_key(|e| e["id"].as_str().unwrap().to_owned());
    let now = s.state.clock.now();
    let mut want: Vec<Value> = recount
        .ledger
        .entries(now)
        .filter(|(e, _)| e.beneficiary == user)
        .map(|(e, status)| json!({ "id": e.id, "status": status, "value": e.value }))
        .collect();
    want.sort_by_key(|e| e["id"].as_str().unwrap().to_owned());
    assert_eq!(got, want, "{user}'s stats entries");
    assert_eq!(reply.body["rewards"], want.len());
    let mut conn = s.state.db.read.acquire().await.unwrap();
    let signups: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM referrals WHERE referrer_account = $1")
            .bind(user)
            .fetch_one(&mut *conn)
            .await
            .unwrap()
            .get("n");
    // Invites are the events core counts as shares (`share` and `copy`).
    let invites: i64 = sqlx::query("SELECT type FROM events WHERE user_id = $1")
        .bind(user)
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .iter()
        .filter(|r| Stage::of_widget_event(&r.get::<String, _>("type")) == Some(Stage::Share))
        .count() as i64;
    assert_eq!(reply.body["signups"], signups, "{user}'s signups");
    assert_eq!(reply.body["invites"], invites, "{user}'s invites");
}

/// The report with its zero counts left out. A counter that went up and
/// back down (a referrer's only reward reversed) is a stored 0, which the
/// report shows as `"reward": 0`; core's funnel over events has no such
/// key. The conversions are the same either way.
fn without_zero_counts(report: &Value) -> Value {
    let mut report = report.clone();
    let strip = |stages: &mut Value| {
        if let Some(counts) = stages["counts"].as_object_mut() {
            counts.retain(|_, n| n.as_u64() != Some(0));
        }
    };
    strip(&mut report["total"]);
    for field in ["by_channel", "by_moment", "by_program", "by_referrer"] {
        if let Some(map) = report[field].as_object_mut() {
            map.values_mut().for_each(strip);
        }
    }
    report
}

async fn admin_funnel(s: &Service, cookie: &str) -> Value {
    let reply = Call::new("GET", "/api/admin/funnel")
        .header("cookie", cookie)
        .send(&s.router)
        .await;
    expect(&reply, StatusCode::OK, "funnel");
    reply.body["funnel"].clone()
}

/// The admin's report equals core's funnel over the recount: totals,
/// channels, moments, customers, the referral rate, the time to first
/// referral, and each referrer the report lists (all with a share or a
/// signup when there are fewer than its top list holds).
fn assert_funnel_equals_recount(admin: &Value, recount: &Recount) {
    let admin = &without_zero_counts(admin);
    let want = serde_json::to_value(&recount.report).unwrap();
    for field in [
        "total",
        "by_channel",
        "by_moment",
        "by_program",
        "active_customers",
        "referring_customers",
        "referral_rate_bp",
        "time_to_first_referral_median_secs",
        "time_to_first_referral_p90_secs",
    ] {
        assert_eq!(admin[field], want[field], "funnel {field}");
    }
    let listed = admin["by_referrer"].as_object().unwrap();
    for (referrer, counts) in listed {
        assert_eq!(
            counts, &want["by_referrer"][referrer],
            "funnel by_referrer {referrer}"
        );
    }
    // Fewer referrers than the report's top list: it lists every referrer
    // with a share or a signup.
    let active: BTreeSet<&String> = recount
        .report
        .by_referrer
        .iter()
        .filter(|(_, c)| {
            [Stage::Share, Stage::Signup]
                .iter()
                .any(|s| c.counts.get(s).is_some_and(|n| *n > 0))
        })
        .map(|(r, _)| r)
        .collect();
    if active.len() <= aggregates::TOP_REFERRERS as usize {
        assert_eq!(
            listed.keys().collect::<BTreeSet<_>>(),
            active,
            "referrers listed"
        );
    } else {
        assert_eq!(listed.len(), aggregates::TOP_REFERRERS as usize);
    }
}

async fn assert_all_equal_recount(s: &Service, cookie: &str, users: &[&str]) -> Recount {
    let recount = recount(s).await;
    assert_ledgers_equal_recount(s, &recount).await;
    for user in users {
        assert_stats_equal_recount(s, &recount, user).await;
    }
    assert_funnel_equals_recount(&admin_funnel(s, cookie).await, &recount);
    recount
}

#[tokio::test]
async fn funnel_counters_and_referrer_ledgers_equal_an_independent_recount() {
    let s = service(&[]).await;
    let (cookie, _) = s.admin().await;
    // Referrers become customers on different days (the time to first
    // referral differs per referrer).
    for (id, email, wait_days) in [
        ("r-anna", "anna@annaco.example", 1),
        ("r-bo", "bo@boco.example", 2),
        ("r-cleo", "cleo@cleo.example", 0),
        ("r-dan", "dan@dan.example", 3),
        ("r-eve", "eve@eve.example", 1),
    ] {
        let reply = s.register(id, email, &id[2..]).await;
        expect(&reply, StatusCode::OK, id);
        s.state.clock.advance(wait_days * DAY);
    }
    let at = s.state.clock.now();

    // The widgets' batches: impressions, shares and copies with channels
    // and moments, events outside the funnel, repeats in a batch and
    // across batches; one person the host never registered.
    let batches = [
        (
            "r-anna",
            json!([
                { "id": "a1", "type": "impression", "at": at, "moment": "report_generated" },
                { "id": "a2", "type": "share", "at": at, "channel": "email", "moment": "report_generated" },
                { "id": "a3", "type": "copy", "at": at, "channel": "link", "moment": "report_generated" },
                { "id": "a4", "type": "dismiss", "at": at, "moment": "report_generated" },
                { "id": "a2", "type": "share", "at": at, "channel": "email", "moment": "report_generated" },
            ]),
            (4, 1),
        ),
        (
            "r-anna",
            json!([
                { "id": "a1", "type": "impression", "at": at, "moment": "report_generated" },
                { "id": "a5", "type": "impression", "at": at + 60, "moment": "milestone" },
                { "id": "a6", "type": "share", "at": at + 60, "channel": "whatsapp", "moment": "milestone" },
            ]),
            (2, 1),
        ),
        (
            "r-bo",
            json!([
                { "id": "b1", "type": "impression", "at": at, "moment": "milestone" },
                { "id": "b2", "type": "share", "at": at, "channel": "linkedin", "moment": "milestone" },
                { "id": "b3", "type": "share", "at": at, "channel": "whatsapp" },
                { "id": "b4", "type": "impression", "at": at },
                { "id": "b5", "type": "open", "at": at, "surface": "panel" },
            ]),
            (5, 0),
        ),
        (
            "r-cleo",
            json!([{ "id": "c1", "type": "impression", "at": at, "moment": "report_generated" }]),
            (1, 0),
        ),
        (
            "r-dan",
            json!([
                { "id": "d1", "type": "share", "at": at, "channel": "sms", "moment": "milestone" },
                { "id": "d2", "type": "copy", "at": at, "channel": "link" },
            ]),
            (2, 0),
        ),
        (
            "u-ghost",
            json!([
                { "id": "g1", "type": "share", "at": at, "channel": "email" },
                { "id": "g2", "type": "impression", "at": at, "moment": "milestone" },
            ]),
            (2, 0),
        ),
    ];
    for (user, events, (accepted, duplicates)) in batches {
        let reply = upload(&s, user, events).await;
        expect(&reply, StatusCode::ACCEPTED, user);
        assert_eq!(
            reply.body,
            json!({ "accepted": accepted, "duplicates": duplicates })
        );
    }
    s.state.clock.advance(DAY);

    // Billing can come before the host reports the signup.
    webhook_outcome(&s, payment("evt_g4_a", "g-4", "USD"), "pending").await;
    webhook_outcome(&s, payment("evt_g4_a", "g-4", "USD"), "pending").await;
    webhook_outcome(&s, payment("evt_n5_a", "n-5", "USD"), "pending").await;

    // Anna's friends: by a WhatsApp code, by the landing's cookie, by the
    // typed code, and a colleague (for review).
    let anna = codes(&s, "r-anna").await;
    signup(
        &s,
        json!({ "user_id": "f-1", "email": "f1@f1.example", "code": code(&anna, "whatsapp") }),
        "attributed",
    )
    .await;
    let landing = Call::new("GET", format!("/r/{}", code(&anna, "email")))
        .send(&s.router)
        .await;
    let cookie_value = landing.cookie("referral_ref").unwrap();
    signup(
        &s,
        json!({ "user_id": "f-2", "email": "f2@f2.example", "ref_cookie": cookie_value.trim_start_matches("referral_ref=") }),
        "attributed",
    )
    .await;
    s.state.clock.advance(2 * DAY);
    signup(
        &s,
        json!({ "user_id": "f-3", "email": "f3@f3.example", "typed_code": anna["typed_code"] }),
        "attributed",
    )
    .await;
    signup(
        &s,
        json!({ "user_id": "f-4", "email": "colleague@annaco.example", "code": code(&anna, "link") }),
        "attributed_for_review",
    )
    .await;

    // Bo's friends, one with an Idempotency-Key sent twice; the account
    // that paid before its signup was reported.
    let bo = codes(&s, "r-bo").await;
    s.state.clock.advance(DAY);
    signup(
        &s,
        json!({ "user_id": "g-1", "email": "g1@g1.example", "code": code(&bo, "linkedin") }),
        "attributed",
    )
    .await;
    signup(
        &s,
        json!({ "user_id": "g-2", "email": "g2@g2.example", "code": code(&bo, "email") }),
        "attributed",
    )
    .await;
    let g3 = json!({ "user_id": "g-3", "email": "g3@g3.example", "code": code(&bo, "link") });
    let mut answers = Vec::new();
    for _ in 0..2 {
        let reply = Call::new("POST", "/api/v1/signups")
            .bearer(&s.api_key)
            .header("idempotency-key", "g-3-signup")
            .json(&g3)
            .send(&s.router)
            .await;
        expect(&reply, StatusCode::OK, "g-3");
        assert_eq!(reply.body["reason"], "attributed");
        answers.push(reply.text);
    }
    assert_eq!(answers[0], answers[1], "the retry is the first answer");
    signup(
        &s,
        json!({ "user_id": "g-4", "email": "g4@g4.example", "code": code(&bo, "sms") }),
        "attributed",
    )
    .await;
    // Cleo's only friend; and signups without a usable referral.
    s.state.clock.advance(3 * DAY);
    let cleo = codes(&s, "r-cleo").await;
    signup(
        &s,
        json!({ "user_id": "h-1", "email": "h1@h1.example", "code": code(&cleo, "x") }),
        "attributed",
    )
    .await;
    signup(
        &s,
        json!({ "user_id": "n-1", "email": "n1@n1.example" }),
        "no_referral",
    )
    .await;
    let mut forged = code(&anna, "email");
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for (user, code) in [("n-2", "not-a-code".to_owned()), ("n-3", forged)] {
        let reply = s
            .signup(
                json!({ "user_id": user, "email": format!("{user}@{user}.example"), "code": code }),
            )
            .await;
        expect(&reply, StatusCode::OK, user);
        assert!(reply.body["referral_id"].is_string());
        assert_eq!(reply.body["attribution"]["outcome"], "not_attributed");
    }
    signup(
        &s,
        json!({ "user_id": "n-5", "email": "n5@n5.example" }),
        "no_referral",
    )
    .await;

    // Billing: payments, a redelivery, a second payment, a refund, a
    // cancellation inside the clawback window, a foreign currency (refused,
    // then paid), an account that was not referred, a refund without a
    // payment.
    s.state.clock.advance(DAY);
    webhook_outcome(&s, payment("evt_f1_a", "f-1", "USD"), "rewarded").await;
    webhook_outcome(&s, payment("evt_f1_a", "f-1", "USD"), "duplicate").await;
    webhook_outcome(&s, payment("evt_f1_b", "f-1", "usd"), "not_qualifying").await;
    webhook_outcome(&s, payment("evt_f2_a", "f-2", "USD"), "rewarded").await;
    webhook_outcome(&s, billing("evt_f2_r", "refund", "f-2"), "reversed").await;
    webhook_outcome(&s, payment("evt_f3_a", "f-3", "USD"), "rewarded").await;
    webhook_outcome(&s, billing("evt_f3_c", "cancellation", "f-3"), "reversed").await;
    webhook_outcome(&s, payment("evt_f4_a", "f-4", "USD"), "rewarded").await;
    let eur = s.webhook(payment("evt_g1_eur", "g-1", "EUR")).await;
    assert_eq!(
        (eur.status, eur.error()),
        (StatusCode::UNPROCESSABLE_ENTITY, "currency_mismatch")
    );
    webhook_outcome(&s, payment("evt_g1_a", "g-1", "USD"), "rewarded").await;
    webhook_outcome(&s, billing("evt_g2_r", "refund", "g-2"), "reversed").await;
    webhook_outcome(&s, payment("evt_h1_a", "h-1", "USD"), "rewarded").await;
    webhook_outcome(&s, billing("evt_h1_c", "cancellation", "h-1"), "reversed").await;
    webhook_outcome(&s, payment("evt_n1_a", "n-1", "USD"), "not_referred").await;

    let users = [
        "r-anna", "r-bo", "r-cleo", "r-dan", "r-eve", "f-1", "f-2", "f-3", "f-4", "g-1", "g-2",
        "g-3", "g-4", "h-1", "n-1", "n-5", "u-ghost",
    ];
    let first = assert_all_equal_recount(&s, &cookie, &users).await;
    // The scenario is what it says (the comparisons are not vacuous).
    let total = &first.report.total.counts;
    assert_eq!(total.get(&Stage::Impression), Some(&6));
    assert_eq!(total.get(&Stage::Share), Some(&8));
    assert_eq!(total.get(&Stage::Signup), Some(&9));
    // f-1, f-2, f-3, f-4, g-1, g-4 (applied at its signup), h-1.
    assert_eq!(total.get(&Stage::Paid), Some(&7));
    // f-1, f-4, g-1, g-4 live; f-2, f-3 and h-1 reversed.
    assert_eq!(total.get(&Stage::Reward), Some(&4));
    assert_eq!(first.report.active_customers, 18);
    // Anna, Bo, Cleo (a signup), Dan (shares); not the unregistered ghost.
    assert_eq!(first.report.referring_customers, 4);
    assert!(first.report.time_to_first_referral_median_secs.is_some());
    assert_eq!(first.ledger.entries(0).count(), 14);

    // Past the hold: statuses move (held → payable), a later payment
    // rewards, a payout of nothing is refused; all still equal.
    s.state.clock.advance(31 * DAY);
    webhook_outcome(&s, payment("evt_g2_a", "g-2", "USD"), "rewarded").await;
    webhook_outcome(&s, payment("evt_g3_a", "g-3", "USD"), "rewarded").await;
    let again = assert_all_equal_recount(&s, &cookie, &users).await;
    assert!(again
        .ledger
        .entries(s.state.clock.now())
        .any(|(_, status)| status == referral_core::rewards::EntryStatus::Payable));
    assert_eq!(again.report.total.counts.get(&Stage::Reward), Some(&6));
}

/// Someone whose widget shared before the host registered them, then
/// registered: a customer who shared, so core's funnel counts them as
/// referring; the counters only mark people who were customers when they
/// shared (`aggregates::mark_referring` finds no user row and does nothing,
/// and registering did not look back before `aggregates::user_registered`).
#[tokio::test]
async fn a_person_who_shared_before_being_registered_is_a_referring_customer() {
    let s = service(&[]).await;
    let (cookie, _) = s.admin().await;
    let at = s.state.clock.now();
    let reply = upload(
        &s,
        "u-early",
        json!([{ "id": "s1", "type": "share", "at": at, "channel": "email" }]),
    )
    .await;
    expect(&reply, StatusCode::ACCEPTED, "share");
    let reply = s.register("u-early", "early@early.example", "Early").await;
    expect(&reply, StatusCode::OK, "register");
    let recount = recount(&s).await;
    assert_eq!(recount.report.referring_customers, 1);
    assert_funnel_equals_recount(&admin_funnel(&s, &cookie).await, &recount);
}

// ---------------------------------------------------------------------
// Cost independent of size.

/// A value for a bulk insert.
enum Cell {
    Text(String),
    Null,
    Int(i64),
}

/// `INSERT INTO <head> VALUES (…), (…)`, 400 rows a statement.
async fn insert_rows(conn: &mut sqlx::AnyConnection, head: &str, rows: Vec<Vec<Cell>>) {
    for chunk in rows.chunks(400) {
        let mut sql = format!("INSERT INTO {head} VALUES ");
        let mut n = 0;
        for (i, row) in chunk.iter().enumerate() {
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for j in 0..row.len() {
                n += 1;
                sql.push_str(&format!("{}${n}", if j == 0 { "" } else { ", " }));
            }
            sql.push(')');
        }
        let mut query = sqlx::query(&sql);
        for cell in chunk.iter().flatten() {
            query = match cell {
                Cell::Text(t) => query.bind(t.clone()),
                Cell::Null => query.bind(None::<String>),
                Cell::Int(i) => query.bind(*i),
            };
        }
        query.execute(&mut *conn).await.unwrap();
    }
}

/// Seeds a program of `referrers` referrers, each with 5 widget events and
/// 4 attributed friends (3 paid, one of them twice; every 4th referrer's
/// first friend refunded): about 8 ledger events and 5 users a referrer.
/// The raw rows (users, referrals, widget events, the ledger's event log)
/// go in with bulk inserts, as an earlier version stored them; then the
/// service's own start-up migration (`aggregates::backfill`,
/// `aggregates::rebuild_ledgers`) builds the per-referrer ledgers, the entry
/// routes and the counters from them, as it does for an upgraded
/// database. (Seeding through `ledger::apply`, 7 statements an event, took
/// 10–50 s in a debug build.) The test checks the result against the
/// recount at the end.
async fn seed(s: &Service, referrers: usize) -> usize {
    use referral_core::rewards::ReversalReason;
    let db = &s.state.db;
    let program = &s.state.settings.program;
    let now = s.state.clock.now().saturating_sub(10 * DAY);
    let user = |id: &str, referred_by: Option<&str>, at: u64| {
        let email = format!("{id}@{id}.example");
        vec![
            Cell::Text(id.to_owned()),
            Cell::Text(email.clone()),
            Cell::Text(email),
            Cell::Text(format!("{id}.example")),
            Cell::Null,
            Cell::Int(0),
            referred_by.map_or(Cell::Null, |r| Cell::Text(r.to_owned())),
            Cell::Int(at as i64),
        ]
    };
    let (mut users, mut referrals, mut events, mut log) = (vec![], vec![], vec![], vec![]);
    let mut replay = ProgramLedger::new();
    for i in 0..referrers {
        let referrer = format!("r{i}");
        users.push(user(&referrer, None, now));
        for (n, kind, channel) in [
            (0, "impression", None),
            (1, "impression", None),
            (2, "share", Some("email")),
            (3, "copy", Some("link")),
            (4, "dismiss", None),
        ] {
            events.push(vec![
                Cell::Text(referrer.clone()),
                Cell::Text(format!("e{n}")),
                Cell::Text(kind.to_owned()),
                channel.map_or(Cell::Null, |c: &str| Cell::Text(c.to_owned())),
                Cell::Text("milestone".to_owned()),
                Cell::Int(now as i64),
                Cell::Int(now as i64),
            ]);
        }
        for j in 0..4 {
            let friend = format!("f{i}_{j}");
            let at = now + 60 + (i * 4 + j) as u64;
            users.push(user(&friend, Some(&referrer), at));
            let referral_id = random_id("ref");
            referrals.push(vec![
                Cell::Text(referral_id.clone()),
                Cell::Text(friend.clone()),
                Cell::Text(referrer.clone()),
                Cell::Text("seeded".to_owned()),
                Cell::Text("email".to_owned()),
                Cell::Text("attributed".to_owned()),
                Cell::Int(0),
                Cell::Text("[]".to_owned()),
                Cell::Int(at as i64),
            ]);
            let mut ledger_events = vec![LedgerEvent::Attributed {
                event_id: format!("attr:{referral_id}"),
                referral_id: referral_id.clone(),
                referrer_account: referrer.clone(),
                friend_account: friend.clone(),
                review: false,
                at,
            }];
            let pay = |n: u64| LedgerEvent::Payment {
                event_id: format!("seed_{friend}_{n}"),
                referral_id: referral_id.clone(),
                at: at + n * 3600,
                amount: Money::new(9_900, "USD"),
                acv: Some(Money::new(9_900 * 12, "USD")),
            };
            if j < 3 {
                ledger_events.push(pay(1));
            }
            if j == 1 {
                ledger_events.push(pay(2));
            }
            if j == 0 && i % 4 == 0 {
                ledger_events.push(LedgerEvent::Reversal {
                    event_id: format!("seed_{friend}_refund"),
                    referral_id: referral_id.clone(),
                    at: at + 7200,
                    reason: ReversalReason::Refund,
                });
            }
            for event in ledger_events {
                let outcome = replay.apply(program, &event).unwrap().code();
                log.push(vec![
                    Cell::Text(event.event_id().to_owned()),
                    Cell::Text(serde_json::to_string(&event).unwrap()),
                    Cell::Text(outcome.to_owned()),
                    Cell::Int(at as i64),
                ]);
            }
        }
    }
    let ledger_events = log.len();
    let mut tx = db.begin().await.unwrap();
    insert_rows(
        &mut tx,
        "users (external_id, email, normalized_email, email_domain, display_name, share_name, referred_by, created_at)",
        users,
    )
    .await;
    insert_rows(
        &mut tx,
        "referrals (id, friend_account, referrer_account, code, channel, outcome, review, flags, created_at)",
        referrals,
    )
    .await;
    insert_rows(
        &mut tx,
        "events (user_id, id, type, channel, moment, at, received_at)",
        events,
    )
    .await;
    insert_rows(
        &mut tx,
        "ledger_events (event_id, body, outcome, received_at)",
        log,
    )
    .await;
    // Counted again from the rows, once.
    sqlx::query("DELETE FROM data_migrations")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let nudge =
        referral_core::nudge::NudgeConfig::from_toml(include_str!("../../nudge/config.toml"))
            .unwrap();
    aggregates::upgrade(db, program, &nudge).await.unwrap();
    if db.backend == referral_server::store::Backend::Sqlite {
        // Both databases start from a settled WAL.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&db.pool)
            .await
            .unwrap();
    }
    ledger_events
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The requests whose cost used to grow with the program, timed once.
struct Round {
    signup: Duration,
    webhook: Duration,
    stats: Duration,
    funnel: Duration,
}

async fn round(s: &Service, cookie: &str, n: usize) -> Round {
    // A seeded referrer with the same ledger in both databases.
    let referrer = format!("r{n}");
    let code = code(&codes(s, &referrer).await, "email");
    let friend = format!("probe-{n}");
    let body =
        json!({ "user_id": friend, "email": format!("{friend}@probe{n}.example"), "code": code });
    let t = Instant::now();
    let reply = s.signup(body).await;
    let signup = t.elapsed();
    assert_eq!(reply.body["reason"], "attributed", "{}", reply.text);

    let call = s.webhook_call(&payment(&format!("probe_pay_{n}"), &friend, "USD"));
    let t = Instant::now();
    let reply = call.send(&s.router).await;
    let webhook = t.elapsed();
    assert_eq!(reply.body["outcome"], "rewarded", "{}", reply.text);

    let call = Call::new("GET", "/api/v1/me/stats").bearer(&s.user_token(&referrer));
    let t = Instant::now();
    let reply = call.send(&s.router).await;
    let stats = t.elapsed();
    assert_eq!(reply.body["signups"], 5, "{}", reply.text);

    let call = Call::new("GET", "/api/admin/funnel").header("cookie", cookie);
    let t = Instant::now();
    let reply = call.send(&s.router).await;
    let funnel = t.elapsed();
    expect(&reply, StatusCode::OK, "funnel");
    Round {
        signup,
        webhook,
        stats,
        funnel,
    }
}

/// The ratio of medians (big / small) a request may show: generous, for
/// noise. Replaying the whole ledger per request (the design before
/// per-referrer ledgers, 7b9f550) made it 340–510× at these sizes.
const MAX_RATIO: f64 = 3.0;
const ROUNDS: usize = 15;
const BIG_REFERRERS: usize = 3_000;
const SMALL_REFERRERS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_costs_the_same_on_a_big_program_as_on_a_small_one() {
    let started = Instant::now();
    let small = service(&[]).await;
    let big = service(&[]).await;
    let small_events = seed(&small, SMALL_REFERRERS).await;
    let big_events = seed(&big, BIG_REFERRERS).await;
    let seeded = started.elapsed();
    let (small_cookie, _) = small.admin().await;
    let (big_cookie, _) = big.admin().await;
    // Warm both (connections, caches), untimed.
    round(&small, &small_cookie, ROUNDS).await;
    round(&big, &big_cookie, ROUNDS).await;

    let mut samples: BTreeMap<(&str, bool), Vec<Duration>> = BTreeMap::new();
    for n in 0..ROUNDS {
        for (is_big, s, cookie) in [(false, &small, &small_cookie), (true, &big, &big_cookie)] {
            let r = round(s, cookie, n).await;
            for (name, d) in [
                ("signup", r.signup),
                ("webhook", r.webhook),
                ("stats", r.stats),
                ("funnel", r.funnel),
            ] {
                samples.entry((name, is_big)).or_default().push(d);
            }
        }
    }
    println!(
        "seeded {small_events} and {big_events} ledger events in {seeded:?}; {ROUNDS} rounds in {:?}",
        started.elapsed() - seeded
    );
    let mut failures = Vec::new();
    for name in ["signup", "webhook", "stats", "funnel"] {
        let small_median = median(samples.get_mut(&(name, false)).unwrap());
        let big_median = median(samples.get_mut(&(name, true)).unwrap());
        let ratio = big_median.as_secs_f64() / small_median.as_secs_f64();
        println!("{name}: median {small_median:?} small, {big_median:?} big: {ratio:.2}×");
        if ratio > MAX_RATIO {
            failures.push(format!(
                "{name}: {ratio:.1}× ({small_median:?} → {big_median:?})"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "cost grows with the program ({small_events} vs {big_events} ledger events): {failures:?}"
    );

    // The seeded program is whole: its ledgers and counters equal the recount.
    let recount = recount(&big).await;
    assert_ledgers_equal_recount(&big, &recount).await;
    assert_funnel_equals_recount(&admin_funnel(&big, &big_cookie).await, &recount);
}

/// Channels and moments are whatever a browser sends: the breakdowns keep
/// only the program's (core's `funnel_channel` / `funnel_moment`) and
/// count the rest as `other`, so no token can grow the admin report (or
/// the rows it reads) without bound.
#[tokio::test]
async fn invented_channels_and_moments_do_not_grow_the_funnel() {
    let s = service(&[]).await;
    let (cookie, _) = s.admin().await;
    let at = s.state.clock.now();
    for batch in 0..4 {
        let events: Vec<Value> = (0..100)
            .map(|i| {
                json!({ "id": format!("b{batch}-{i}"), "type": "share", "at": at,
                        "channel": format!("chan-{batch}-{i}"), "moment": format!("moment-{batch}-{i}") })
            })
            .collect();
        let reply = upload(&s, "u-inventive", json!(events)).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    }
    let report = admin_funnel(&s, &cookie).await;
    let channels: Vec<&String> = report["by_channel"].as_object().unwrap().keys().collect();
    let moments: Vec<&String> = report["by_moment"].as_object().unwrap().keys().collect();
    assert_eq!(channels, ["other"]);
    assert_eq!(moments, ["other"]);
    assert_eq!(report["by_channel"]["other"]["counts"]["share"], 400);
    assert_eq!(report["total"]["counts"]["share"], 400);
}
