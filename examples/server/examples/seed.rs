//! Seeds a database with a referral program of a given size, through the
//! same store functions the service's requests use (users, referrals,
//! widget events, core ledger events per referrer, the funnel counters),
//! for `bench/scale.py`.
//!
//! `cargo run --release -p referral-server --example seed -- <database url> <ledger events>`
//!
//! Shape: referrers `r-<k>` with 10 referred friends `f-<k>-<j>` each; a
//! friend's signup is attributed, then pays three times (the first payment
//! qualifies the referrer's reward and the friend's free month), and one
//! friend in ten is refunded. Each referrer also has widget impressions
//! and shares. About 41 ledger events per referrer. Prints a JSON summary.

use std::sync::Arc;

use referral_core::funnel::Stage;
use referral_core::rewards::{LedgerEvent, Money, ReversalReason};
use referral_server::store::{aggregates, ledger, people, Db};
use referral_server::{demo_program, Clock};

const FRIENDS: u32 = 10;
const REFERRERS_PER_TRANSACTION: u32 = 20;

fn new_user<'a>(id: &'a str, email: &'a str, at: u64) -> people::NewUser<'a> {
    people::NewUser {
        external_id: id,
        email,
        normalized_email: email,
        email_domain: "seed.example",
        display_name: None,
        share_name: false,
        created_at: at,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: seed <database url> <ledger events>")?;
    let target: u64 = args
        .next()
        .ok_or("usage: seed <database url> <ledger events>")?
        .parse()?;
    let db = Db::connect(&url).await?;
    let program = Arc::new(demo_program());
    let nudge =
        referral_core::nudge::NudgeConfig::from_toml(include_str!("../../nudge/config.toml"))?;
    // Spread over the last 60 days so some rewards are held, some payable.
    let start = Clock::real_now() - 60 * 86_400;
    let (mut events, mut referrers, mut widget_events) = (0u64, 0u32, 0u64);
    let begun = std::time::Instant::now();
    while events < target {
        let mut tx = db.begin().await?;
        let mut bumps = aggregates::Bumps::default();
        for _ in 0..REFERRERS_PER_TRANSACTION {
            if events >= target {
                break;
            }
            let k = referrers;
            referrers += 1;
            let at = start + u64::from(k % 3600);
            let referrer = format!("r-{k}");
            let email = format!("r-{k}@seed.example");
            let user = new_user(&referrer, &email, at);
            if people::upsert_user(&mut tx, &user).await? {
                aggregates::user_registered(&mut tx, &mut bumps, &referrer).await?;
            }
            for i in 0..13u32 {
                let kind = if i < 10 { "impression" } else { "share" };
                let channel = (kind == "share").then_some("link");
                people::insert_event(
                    &mut tx,
                    &people::NewEvent {
                        user_id: &referrer,
                        id: &format!("e-{i}"),
                        kind,
                        channel,
                        moment: Some("first_report"),
                        at: at + u64::from(i),
                        received_at: at + u64::from(i),
                    },
                )
                .await?;
                if let Some(stage) = Stage::of_widget_event(kind) {
                    bumps.stage(stage, &referrer, channel, Some("first_report"), 1);
                }
                widget_events += 1;
            }
            aggregates::mark_referring(&mut tx, &mut bumps, &referrer).await?;
            for j in 0..FRIENDS {
                if events >= target {
                    break;
                }
                let friend = format!("f-{k}-{j}");
                let friend_email = format!("{friend}@friends.example");
                let signed_up = at + 86_400 + u64::from(j) * 3_600;
                if people::upsert_user(&mut tx, &new_user(&friend, &friend_email, signed_up))
                    .await?
                {
                    aggregates::user_registered(&mut tx, &mut bumps, &friend).await?;
                }
                let referral_id = format!("ref-{k}-{j}");
                people::insert_referral(
                    &mut tx,
                    &people::NewReferral {
                        id: &referral_id,
                        friend_account: &friend,
                        referrer_account: Some(&referrer),
                        code: Some("seeded"),
                        channel: Some("link"),
                        outcome: "attributed",
                        review: false,
                        flags: "[]",
                        created_at: signed_up,
                    },
                )
                .await?;
                people::set_referred_by(&mut tx, &friend, &referrer).await?;
                bumps.stage(Stage::Signup, &referrer, Some("link"), None, 1);
                aggregates::referred_signup(&mut tx, &mut bumps, &referrer, signed_up).await?;
                let mut ledger_events = vec![LedgerEvent::Attributed {
                    event_id: format!("attr:{referral_id}"),
                    referral_id: referral_id.clone(),
                    referrer_account: referrer.clone(),
                    friend_account: friend.clone(),
                    review: false,
                    at: signed_up,
                }];
                for month in 0..3u64 {
                    ledger_events.push(LedgerEvent::Payment {
                        event_id: format!("inv-{k}-{j}-{month}"),
                        referral_id: referral_id.clone(),
                        at: signed_up + 86_400 + month * 30 * 86_400,
                        amount: Money::new(2_900, "USD"),
                        acv: Some(Money::new(2_900 * 12, "USD")),
                    });
                }
                if j == 9 {
                    ledger_events.push(LedgerEvent::Reversal {
                        event_id: format!("refund-{k}-{j}"),
                        referral_id: referral_id.clone(),
                        at: signed_up + 5 * 86_400,
                        reason: ReversalReason::Refund,
                    });
                }
                for event in &ledger_events {
                    ledger::apply(&db, &mut tx, &mut bumps, &program, event, signed_up).await?;
                    events += 1;
                }
            }
        }
        bumps.write(&mut tx, &nudge).await?;
        tx.commit().await?;
    }
    println!(
        "{{\"ledger_events\": {events}, \"referrers\": {referrers}, \"friends_per_referrer\": {FRIENDS}, \"widget_events\": {widget_events}, \"seconds\": {:.1}}}",
        begun.elapsed().as_secs_f64()
    );
    Ok(())
}
