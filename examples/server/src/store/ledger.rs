//! The rewards ledger, one core `Ledger` per referrer
//! (`docs/adr/0004-ledger-per-referrer.md`). An event is routed to its
//! referrer (core's `LedgerEvent::key`, answered from the referrals and
//! entries tables), that referrer's row is locked and loaded, core applies
//! the event, and the new ledger, the event and the counters it moves are
//! written in the caller's transaction. Nothing here reads another
//! referrer's data, so a request costs the same at any program size, and
//! every rule is core's.

use std::sync::Arc;

use referral_core::funnel::{LedgerStages, Stage};
use referral_core::rewards::{
    Applied, Ledger, LedgerError, LedgerEvent, LedgerKey, Program, ProgramLedger,
};
use sqlx::{AnyConnection, Row};

use super::{aggregates, Backend, Db};

#[derive(Debug, thiserror::Error)]
pub enum LedgerStoreError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("stored ledger of {referrer} cannot be read: {cause}")]
    Corrupt { referrer: String, cause: String },
    #[error(transparent)]
    Refused(#[from] LedgerError),
    #[error("ledger work was cancelled")]
    Cancelled,
}

fn corrupt(referrer: &str, cause: impl ToString) -> LedgerStoreError {
    LedgerStoreError::Corrupt {
        referrer: referrer.to_owned(),
        cause: cause.to_string(),
    }
}

/// Takes `referrer`'s ledger row for this transaction (creating it empty
/// the first time) and returns the ledger. On PostgreSQL the row lock
/// (`FOR UPDATE`) makes writers of one referrer wait for each other, in any
/// process; writers of different referrers never wait. On SQLite the
/// transaction already holds the database's write lock (`BEGIN IMMEDIATE`).
pub async fn lock_referrer(
    db: &Db,
    conn: &mut AnyConnection,
    referrer: &str,
    now: u64,
) -> Result<Ledger, LedgerStoreError> {
    let empty = serde_json::to_string(&Ledger::new()).map_err(|e| corrupt(referrer, e))?;
    sqlx::query("INSERT INTO referrer_ledgers (referrer, ledger, version, updated_at) VALUES ($1, $2, 0, $3) ON CONFLICT (referrer) DO NOTHING")
        .bind(referrer)
        .bind(empty)
        .bind(now as i64)
        .execute(&mut *conn)
        .await?;
    let select = match db.backend {
        Backend::Postgres => "SELECT ledger FROM referrer_ledgers WHERE referrer = $1 FOR UPDATE",
        Backend::Sqlite => "SELECT ledger FROM referrer_ledgers WHERE referrer = $1",
    };
    let text: String = sqlx::query(select)
        .bind(referrer)
        .fetch_one(&mut *conn)
        .await?
        .try_get("ledger")?;
    parse(referrer, text).await
}

/// The friend's referral with its entries (`Ledger::referral_view`), if
/// the friend was referred.
pub async fn friend_view(
    conn: &mut AnyConnection,
    friend: &str,
) -> Result<Option<Ledger>, LedgerStoreError> {
    let row = sqlx::query("SELECT ledger FROM referral_views WHERE friend = $1")
        .bind(friend)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => Ok(Some(parse(friend, row.try_get("ledger")?).await?)),
        None => Ok(None),
    }
}

/// Reads `referrer`'s ledger without locking (empty if none).
/// The ledgers that hold a person's rewards: their own as a referrer and,
/// as a friend, the view of the one referral that brought them (never
/// their referrer's whole ledger).
pub async fn ledgers_of(
    conn: &mut AnyConnection,
    account: &str,
) -> Result<Vec<Ledger>, LedgerStoreError> {
    let mut ledgers = vec![referrer_ledger(conn, account).await?];
    ledgers.extend(friend_view(conn, account).await?);
    Ok(ledgers)
}

pub async fn referrer_ledger(
    conn: &mut AnyConnection,
    referrer: &str,
) -> Result<Ledger, LedgerStoreError> {
    let row = sqlx::query("SELECT ledger FROM referrer_ledgers WHERE referrer = $1")
        .bind(referrer)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => parse(referrer, row.try_get("ledger")?).await,
        None => Ok(Ledger::new()),
    }
}

/// Parsing a large referrer's ledger is CPU work: off the async threads.
pub async fn parse(referrer: &str, text: String) -> Result<Ledger, LedgerStoreError> {
    if text.len() < 16 * 1024 {
        return serde_json::from_str(&text).map_err(|e| corrupt(referrer, e));
    }
    let who = referrer.to_owned();
    tokio::task::spawn_blocking(move || serde_json::from_str(&text).map_err(|e| corrupt(&who, e)))
        .await
        .map_err(|_| LedgerStoreError::Cancelled)?
}

/// The referrer whose ledger `event` belongs to (core's routing question,
/// answered from this database's tables).
async fn referrer_of(
    conn: &mut AnyConnection,
    event: &LedgerEvent,
) -> Result<String, LedgerStoreError> {
    match event.key() {
        LedgerKey::Referrer(referrer) => Ok(referrer.to_owned()),
        LedgerKey::Referral(id) => {
            let row = sqlx::query(
                "SELECT referrer_account FROM referrals WHERE id = $1 AND referrer_account IS NOT NULL",
            )
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            match row {
                Some(row) => Ok(row.try_get("referrer_account")?),
                None => Err(LedgerError::UnknownReferral(id.to_owned()).into()),
            }
        }
        LedgerKey::Entry(id) => {
            let row = sqlx::query("SELECT referrer FROM ledger_entries WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            match row {
                Some(row) => Ok(row.try_get("referrer")?),
                None => Err(LedgerError::UnknownEntry(id.to_owned()).into()),
            }
        }
    }
}

/// What applying an event changed, for the counters.
struct Change {
    applied: Applied,
    ledger: String,
    /// The event's referral after it: (id, friend, `referral_view` JSON).
    view: Option<(String, String, String)>,
    /// Core's funnel stages in this referrer's ledger, after minus before.
    paid_delta: i64,
    reward_delta: i64,
    /// The outbound webhooks it causes (`crate::outbound`).
    notices: crate::outbound::LedgerNotices,
}

fn apply_in_memory(
    program: &Program,
    mut ledger: Ledger,
    event: &LedgerEvent,
    referrer: &str,
    now: u64,
) -> Result<Change, LedgerStoreError> {
    let before = LedgerStages::of(&ledger);
    let applied = ledger.apply(program, event)?;
    let reversed: &[String] = match &applied {
        Applied::Reversed { entries } => entries,
        _ => &[],
    };
    // An approval releases the entries held for review: announced as new
    // (held, or payable when their hold is over).
    let released: Vec<String> = match (&applied, event) {
        (Applied::Approved, LedgerEvent::Approved { referral_id, .. }) => ledger
            .entries
            .iter()
            .filter(|e| {
                e.referral_id == *referral_id && e.reversal.is_none() && e.paid_at.is_none()
            })
            .map(|e| e.id.clone())
            .collect(),
        _ => Vec::new(),
    };
    let created: &[String] = if released.is_empty() {
        applied.created()
    } else {
        &released
    };
    let notices = crate::outbound::ledger_notices(&ledger, created, reversed, now);
    let after = LedgerStages::of(&ledger);
    let text = serde_json::to_string(&ledger).map_err(|e| corrupt(referrer, e))?;
    // The referral whose view changed (a payout names only its entry).
    let touched = match event.referral_id() {
        Some(id) => Some(id.to_owned()),
        None => match event.key() {
            LedgerKey::Entry(id) => ledger.referral_of_entry(id).map(str::to_owned),
            _ => None,
        },
    };
    let view = match touched.as_deref().and_then(|id| ledger.referral_view(id)) {
        Some(view) => {
            let friend = view
                .referrals
                .values()
                .next()
                .map(|r| r.friend_account.clone())
                .unwrap_or_default();
            let id = touched.unwrap_or_default();
            let json = serde_json::to_string(&view).map_err(|e| corrupt(referrer, e))?;
            Some((id, friend, json))
        }
        None => None,
    };
    Ok(Change {
        applied,
        ledger: text,
        view,
        paid_delta: after.paid as i64 - before.paid as i64,
        reward_delta: after.rewards as i64 - before.rewards as i64,
        notices,
    })
}

/// Applies `event` to its referrer's ledger and stores the result in the
/// caller's transaction: the ledger row, the event (its id is unique: a
/// repeat is `Duplicate`) and the entries it created; the funnel counters
/// it moves go into `bumps`, which the caller writes before committing.
/// Core's refusal is `Refused` and leaves nothing behind.
pub async fn apply(
    db: &Db,
    conn: &mut AnyConnection,
    bumps: &mut aggregates::Bumps,
    program: &Arc<Program>,
    event: &LedgerEvent,
    now: u64,
) -> Result<Applied, LedgerStoreError> {
    if event.event_id().is_empty() {
        return Err(LedgerError::InvalidEvent("empty event id").into());
    }
    let seen = sqlx::query("SELECT 1 AS one FROM ledger_events WHERE event_id = $1")
        .bind(event.event_id())
        .fetch_optional(&mut *conn)
        .await?;
    if seen.is_some() {
        return Ok(Applied::Duplicate);
    }
    let referrer = referrer_of(conn, event).await?;
    let ledger = lock_referrer(db, conn, &referrer, now).await?;
    let change = {
        let (program, event, who) = (program.clone(), event.clone(), referrer.clone());
        tokio::task::spawn_blocking(move || apply_in_memory(&program, ledger, &event, &who, now))
            .await
            .map_err(|_| LedgerStoreError::Cancelled)??
    };
    if change.applied == Applied::Duplicate {
        return Ok(change.applied);
    }
    sqlx::query("UPDATE referrer_ledgers SET ledger = $1, version = version + 1, updated_at = $2 WHERE referrer = $3")
        .bind(&change.ledger)
        .bind(now as i64)
        .bind(&referrer)
        .execute(&mut *conn)
        .await?;
    let body = serde_json::to_string(event).map_err(|e| corrupt(&referrer, e))?;
    sqlx::query("INSERT INTO ledger_events (event_id, referrer, body, outcome, received_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(event.event_id())
        .bind(&referrer)
        .bind(body)
        .bind(change.applied.code())
        .bind(now as i64)
        .execute(&mut *conn)
        .await?;
    if let Some((id, friend, view)) = &change.view {
        sqlx::query("INSERT INTO referral_views (referral_id, friend, ledger) VALUES ($1, $2, $3) ON CONFLICT (referral_id) DO UPDATE SET ledger = excluded.ledger")
            .bind(id)
            .bind(friend)
            .bind(view)
            .execute(&mut *conn)
            .await?;
    }
    for entry in change.applied.created() {
        sqlx::query("INSERT INTO ledger_entries (id, referrer) VALUES ($1, $2)")
            .bind(entry)
            .bind(&referrer)
            .execute(&mut *conn)
            .await?;
    }
    // Its notifications, in this same transaction (the outbox).
    crate::outbound::write_ledger_notices(conn, &referrer, change.notices, now).await?;
    if change.reward_delta != 0 {
        bumps.stage(Stage::Reward, &referrer, None, None, change.reward_delta);
    }
    if change.paid_delta != 0 {
        bumps.stage(Stage::Paid, &referrer, None, None, change.paid_delta);
    }
    Ok(change.applied)
}

/// Every stored event replayed into one program ledger, from the event log
/// alone: the independent recount that the per-referrer ledgers must equal
/// (tests, and the migration from the single ledger).
pub async fn recount(
    conn: &mut AnyConnection,
    program: &Program,
) -> Result<ProgramLedger, LedgerStoreError> {
    let rows = sqlx::query("SELECT event_id, body FROM ledger_events ORDER BY seq")
        .fetch_all(conn)
        .await?;
    let mut ledger = ProgramLedger::new();
    for row in &rows {
        let id: String = row.try_get("event_id")?;
        let body: String = row.try_get("body")?;
        let event: LedgerEvent = serde_json::from_str(&body).map_err(|e| corrupt(&id, e))?;
        // Stored events were accepted when stored: replay cannot refuse them.
        let _ = ledger.apply(program, &event);
    }
    Ok(ledger)
}
