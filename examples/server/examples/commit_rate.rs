//! The raw durable-commit rate of a database, opened the way the service
//! opens it (`Db::connect`: WAL and `synchronous = FULL` on SQLite): 8
//! concurrent tasks commit one-row transactions into a scratch table for
//! a few seconds. `bench/load.sh` prints it beside the event ingest rate,
//! measured in the same run on the same disk.
//!
//! `cargo run --release -p referral-server --example commit_rate -- <database url> [seconds]`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use referral_server::store::Db;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: commit_rate <database url> [seconds]")?;
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let db = Db::connect(&url).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_commits (id TEXT PRIMARY KEY, at BIGINT NOT NULL)",
    )
    .execute(&db.pool)
    .await?;
    let commits = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let run = format!("{:x}", referral_server::Clock::real_now());
    let mut tasks = Vec::new();
    for task in 0..8 {
        let (db, commits, run) = (db.clone(), commits.clone(), run.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let mut tx = db.begin().await?;
                sqlx::query("INSERT INTO bench_commits (id, at) VALUES ($1, $2)")
                    .bind(format!("{run}-{task}-{n}"))
                    .bind(n as i64)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                commits.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            Ok::<_, sqlx::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    sqlx::query("DROP TABLE bench_commits")
        .execute(&db.pool)
        .await?;
    println!(
        "{:.0}",
        commits.load(Ordering::Relaxed) as f64 / seconds as f64
    );
    Ok(())
}
