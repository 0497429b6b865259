//! The rewards ledger: stored core ledger events, replayed in order. Every
//! rule is core's (`Ledger::apply`); this module only stores what core
//! accepted. Callers hold the ledger lock (`Db::lock_ledger`) in the same
//! transaction, so the sequence and the replay are consistent across
//! processes.

use referral_core::rewards::{Applied, Ledger, LedgerError, LedgerEvent, Program};
use sqlx::{AnyConnection, Row};

#[derive(Debug, thiserror::Error)]
pub enum LedgerStoreError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("stored ledger event {seq} cannot be read: {cause}")]
    Corrupt { seq: i64, cause: String },
    #[error(transparent)]
    Refused(#[from] LedgerError),
}

/// Every stored event replayed: the ledger as of now.
pub async fn replay(
    conn: &mut AnyConnection,
    program: &Program,
) -> Result<Ledger, LedgerStoreError> {
    let rows = sqlx::query("SELECT seq, body FROM ledger_events ORDER BY seq")
        .fetch_all(conn)
        .await?;
    let mut ledger = Ledger::new();
    for row in &rows {
        let seq: i64 = row.try_get("seq")?;
        let body: String = row.try_get("body")?;
        let event: LedgerEvent =
            serde_json::from_str(&body).map_err(|e| LedgerStoreError::Corrupt {
                seq,
                cause: e.to_string(),
            })?;
        // Stored events were accepted when stored; replay cannot refuse them.
        let _ = ledger.apply(program, &event);
    }
    Ok(ledger)
}

/// Applies `event` to `ledger` and stores it if core accepted it (not for a
/// duplicate). The caller's transaction makes it durable.
pub async fn append(
    conn: &mut AnyConnection,
    ledger: &mut Ledger,
    program: &Program,
    event: &LedgerEvent,
    now: u64,
) -> Result<Applied, LedgerStoreError> {
    let applied = ledger.apply(program, event)?;
    if applied.code() != "duplicate" {
        let body = serde_json::to_string(event).map_err(|e| LedgerStoreError::Corrupt {
            seq: -1,
            cause: e.to_string(),
        })?;
        sqlx::query("INSERT INTO ledger_events (seq, event_id, body, outcome, received_at) SELECT COALESCE(MAX(seq), 0) + 1, $1, $2, $3, $4 FROM ledger_events")
            .bind(event.event_id())
            .bind(body)
            .bind(applied.code())
            .bind(now as i64)
            .execute(conn)
            .await?;
    }
    Ok(applied)
}
