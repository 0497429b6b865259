//! The database: one pool, sqlx's migrator, and the functions that read
//! and write it. Every function takes a connection or a transaction, so a
//! request's writes go into one transaction that the caller commits.

pub mod access;
pub mod aggregates;
pub mod ingest;
pub mod ledger;
pub mod lift;
pub mod people;

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database. On SQLite (WAL): one writer connection, whose
/// transactions start with `BEGIN IMMEDIATE` (the write lock is taken
/// first, so a transaction never fails half-way on a busy database, also
/// with another process on the file), and a pool of read-only connections,
/// so reads never wait behind the writer. On PostgreSQL one pool does both;
/// writers lock what they change (`ledger::lock_referrer`).
#[derive(Clone)]
pub struct Db {
    /// Writes (and reads inside a write's transaction).
    pub pool: AnyPool,
    /// Reads outside a transaction.
    pub read: AnyPool,
    pub backend: Backend,
    /// While a clone of the database lives, its checkpointer runs.
    _checkpointer: Option<std::sync::Arc<()>>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const SQLITE_READERS: u32 = 4;

fn sqlite_pool(read_only: bool) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .acquire_timeout(Duration::from_secs(10))
        .max_connections(if read_only { SQLITE_READERS } else { 1 })
        .after_connect(move |conn, _| {
            Box::pin(async move {
                for pragma in [
                    "PRAGMA journal_mode = WAL",
                    "PRAGMA synchronous = FULL",
                    "PRAGMA busy_timeout = 10000",
                    // Checkpoints run beside the writer (`start_checkpointer`),
                    // not inside whichever commit crosses the threshold.
                    "PRAGMA wal_autocheckpoint = 0",
                ] {
                    sqlx::query(pragma).execute(&mut *conn).await?;
                }
                if read_only {
                    sqlx::query("PRAGMA query_only = ON")
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            })
        })
}

/// Copies the WAL back into the database file from a connection of its
/// own, every 200 ms: PASSIVE checkpoints wait for nobody, so no commit
/// pays for a checkpoint (with automatic checkpoints the commit that
/// crosses 1,000 pages does, a latency spike every few thousand writes).
/// Stops when the database is dropped.
async fn start_checkpointer(url: &str) -> Result<std::sync::Arc<()>, sqlx::Error> {
    let alive = std::sync::Arc::new(());
    let watch = std::sync::Arc::downgrade(&alive);
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            if watch.upgrade().is_none() {
                pool.close().await;
                return;
            }
            // A failed checkpoint is retried at the next tick.
            let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await;
        }
    });
    Ok(alive)
}

impl Db {
    /// Connects and brings the schema up to date (the data:
    /// `aggregates::upgrade`).
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let (pool, read, checkpointer) = match backend {
            Backend::Sqlite => {
                let pool = sqlite_pool(false).connect(url).await?;
                // The writer creates the file (mode=rwc) and the schema
                // before a reader opens it.
                SQLITE_MIGRATIONS.run(&pool).await?;
                let read = sqlite_pool(true).connect(url).await?;
                let alive = start_checkpointer(url).await?;
                (pool, read, Some(alive))
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .acquire_timeout(Duration::from_secs(10))
                    .max_connections(16)
                    .connect(url)
                    .await?;
                POSTGRES_MIGRATIONS.run(&pool).await?;
                (pool.clone(), pool, None)
            }
        };
        let db = Db {
            pool,
            read,
            backend,
            _checkpointer: checkpointer,
        };
        Ok(db)
    }

    /// Serialises the transactions that concern one account's billing and
    /// signup (a webhook racing its account's signup report on another
    /// process): a transaction-scoped advisory lock on PostgreSQL, taken
    /// before anything is read and before any referrer's ledger row;
    /// SQLite's write transactions are serial already.
    pub async fn lock_account(
        &self,
        conn: &mut sqlx::AnyConnection,
        account: &str,
    ) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7250015, hashtext($1))")
                .bind(account)
                .execute(conn)
                .await?;
        }
        Ok(())
    }

    /// A read-only transaction that sees one moment of the database
    /// (`REPEATABLE READ` on PostgreSQL; on SQLite a read transaction in
    /// WAL mode is a snapshot).
    pub async fn read_snapshot(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.read.begin().await,
            Backend::Postgres => {
                self.read
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
            }
        }
    }

    /// A write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }
}

/// `($1, $2), ($3, $4), …`: the placeholders of a multi-row `VALUES` for
/// `rows` rows of `columns` values each (one statement instead of a round
/// trip per row). With one column per row it is an `IN (…)` list's body.
pub fn values_placeholders(rows: usize, columns: usize) -> String {
    let row = |r: usize| {
        let cells: Vec<String> = (1..=columns)
            .map(|c| format!("${}", r * columns + c))
            .collect();
        cells.join(", ")
    };
    let rows: Vec<String> = (0..rows)
        .map(|r| {
            if columns == 1 {
                row(r)
            } else {
                format!("({})", row(r))
            }
        })
        .collect();
    rows.join(", ")
}

/// Which shard of a counter a transaction adds to: random, so concurrent
/// writers spread over the rows.
pub fn counter_shard() -> i64 {
    i64::from(random_bytes::<1>()[0] % COUNTER_SHARDS)
}

pub const COUNTER_SHARDS: u8 = 8;

/// A random id with a readable prefix (`acct_…`, `ref_…`).
pub fn random_id(prefix: &str) -> String {
    format!("{prefix}_{}", hex::encode(random_bytes::<12>()))
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // Without the OS random source no id or secret can be made safely.
    getrandom::getrandom(&mut bytes).unwrap_or_else(|_| std::process::abort());
    bytes
}

pub fn sha256_hex(value: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(value))
}

#[cfg(test)]
mod tests {
    use super::values_placeholders;

    #[test]
    fn placeholders_number_every_cell_once() {
        assert_eq!(values_placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_placeholders(3, 1), "$1, $2, $3");
        assert_eq!(values_placeholders(0, 4), "");
    }
}
