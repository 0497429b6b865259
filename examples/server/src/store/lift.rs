//! Lift against the holdout, kept as counters (`lift_counts`): each
//! group's tally (core's `GroupTally`), moved in the transaction of the
//! write that changes a person's counts, so the admin's report costs one
//! small read at any size. Which groups a person counts in, and how a
//! count's change moves a tally, are core's (`lift::groups_of`,
//! `lift::Measure`); the report is core's (`lift::experiment_lift`).

use std::collections::BTreeMap;

use referral_core::funnel::Stage;
use referral_core::lift::{design_fingerprint, groups_of, ExperimentLift, GroupTally, Measure};
use referral_core::nudge::NudgeConfig;
use sqlx::{AnyConnection, Row};

use super::{counter_shard, values_placeholders, Backend, Db};

/// The smallest relative lift the admin's verdict sizes the experiment
/// for: a fifth more referrers than the holdout.
pub const MIN_RELATIVE_LIFT: f64 = 0.2;

/// Tally changes per (group, field), summed over one transaction.
#[derive(Default)]
pub struct LiftChanges(BTreeMap<(String, &'static str), i64>);

impl LiftChanges {
    /// A new person: one more user in each of their groups.
    pub fn user(&mut self, nudge: &NudgeConfig, account: &str) {
        for group in groups_of(nudge, account) {
            *self.0.entry((group, "users")).or_default() += 1;
        }
    }

    /// A person's count at funnel `stage` went from `before` to `after`.
    pub fn count(
        &mut self,
        nudge: &NudgeConfig,
        account: &str,
        stage: Stage,
        before: u64,
        after: u64,
    ) {
        if let Some(measure) = Measure::of_stage(stage) {
            self.measure(nudge, account, measure, before, after);
        }
    }

    /// A person's count of `measure` went from `before` to `after`.
    pub fn measure(
        &mut self,
        nudge: &NudgeConfig,
        account: &str,
        measure: Measure,
        before: u64,
        after: u64,
    ) {
        let changes = measure.tally_changes(before, after);
        if changes.is_empty() {
            return;
        }
        for group in groups_of(nudge, account) {
            for (field, delta) in &changes {
                *self.0.entry((group.clone(), *field)).or_default() += delta;
            }
        }
    }

    /// Adds the changes in the caller's transaction, in key order.
    pub async fn write(self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        let rows: Vec<_> = self.0.into_iter().filter(|(_, d)| *d != 0).collect();
        let shard = counter_shard();
        for chunk in rows.chunks(100) {
            let mut sql =
                String::from("INSERT INTO lift_counts (grp, metric, shard, count) VALUES ");
            sql.push_str(&values_placeholders(chunk.len(), 4));
            sql.push_str(" ON CONFLICT (grp, metric, shard) DO UPDATE SET count = lift_counts.count + excluded.count");
            let mut query = sqlx::query(&sql);
            for ((group, field), delta) in chunk {
                query = query
                    .bind(group.clone())
                    .bind(*field)
                    .bind(shard)
                    .bind(*delta);
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// Every group's tally, summed over shards.
pub async fn tallies(
    conn: &mut AnyConnection,
) -> Result<BTreeMap<String, GroupTally>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT grp, metric, CAST(SUM(count) AS BIGINT) AS n FROM lift_counts GROUP BY grp, metric",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut fields: BTreeMap<String, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
    for row in &rows {
        let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
        fields
            .entry(row.try_get("grp")?)
            .or_default()
            .insert(row.try_get("metric")?, n.into());
    }
    // The fields are core's (`Measure::tally_changes` names them); a name
    // core no longer has is ignored.
    Ok(fields
        .into_iter()
        .map(|(group, map)| {
            let tally = serde_json::from_value(serde_json::Value::Object(map)).unwrap_or_default();
            (group, tally)
        })
        .collect())
}

/// The admin's report.
pub async fn report(
    conn: &mut AnyConnection,
    nudge: &NudgeConfig,
) -> Result<ExperimentLift, sqlx::Error> {
    Ok(referral_core::lift::experiment_lift(
        nudge,
        &tallies(conn).await?,
        MIN_RELATIVE_LIFT,
    ))
}

/// Counts the groups again from the stored rows when the experiment's
/// design (name, holdout, variants) is not the one they were counted
/// for, or they were never counted (a database from before lift). One
/// process does it; the others wait for its marker. Every process must
/// run the same design: one still on the old design keeps adding to the
/// old groups (restart them together when the experiment changes).
///
/// Counted: registered people (`users`); asks and shares come from the
/// widget's events, which a host may send for a person before it
/// registers them, so a group's asked/shared can include people not yet
/// in its users.
pub async fn recount(db: &Db, nudge: &NudgeConfig) -> Result<(), sqlx::Error> {
    let marker = format!("lift:{}", design_fingerprint(nudge));
    let mut tx = db.begin().await?;
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7250014)")
            .execute(&mut *tx)
            .await?;
    }
    let done = sqlx::query("SELECT 1 AS one FROM data_migrations WHERE name = $1")
        .bind(&marker)
        .fetch_optional(&mut *tx)
        .await?;
    if done.is_some() {
        return Ok(());
    }
    if db.backend == Backend::Postgres {
        // Writers of other processes wait while the counters are rebuilt
        // (else a write between the delete and the reads would count
        // twice). Taken in the order writers take rows (a person, their
        // counts, their asks, the tallies), so neither waits on the other
        // in a cycle. SQLite has one writer.
        sqlx::query("LOCK TABLE users, referrer_counts, ask_counts, lift_counts IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM lift_counts")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM data_migrations WHERE name LIKE 'lift:%'")
        .execute(&mut *tx)
        .await?;
    let mut changes = LiftChanges::default();
    for row in &sqlx::query("SELECT external_id FROM users")
        .fetch_all(&mut *tx)
        .await?
    {
        changes.user(nudge, &row.try_get::<String, _>("external_id")?);
    }
    for row in &sqlx::query("SELECT referrer, stage, count FROM referrer_counts WHERE count > 0")
        .fetch_all(&mut *tx)
        .await?
    {
        let stage: String = row.try_get("stage")?;
        let Ok(stage) = serde_json::from_value::<Stage>(serde_json::Value::String(stage)) else {
            continue;
        };
        let count = u64::try_from(row.try_get::<i64, _>("count")?).unwrap_or(0);
        changes.count(
            nudge,
            &row.try_get::<String, _>("referrer")?,
            stage,
            0,
            count,
        );
    }
    // Asks shown, from the widget's events (kept per person from here on).
    sqlx::query("DELETE FROM ask_counts")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO ask_counts (account, count) SELECT user_id, COUNT(*) FROM events WHERE type = 'nudge_shown' GROUP BY user_id")
        .execute(&mut *tx)
        .await?;
    for row in &sqlx::query("SELECT account, count FROM ask_counts")
        .fetch_all(&mut *tx)
        .await?
    {
        let count = u64::try_from(row.try_get::<i64, _>("count")?).unwrap_or(0);
        changes.measure(
            nudge,
            &row.try_get::<String, _>("account")?,
            Measure::Asked,
            0,
            count,
        );
    }
    changes.write(&mut tx).await?;
    sqlx::query("INSERT INTO data_migrations (name, applied_at) VALUES ($1, $2)")
        .bind(&marker)
        .bind(crate::Clock::real_now() as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
