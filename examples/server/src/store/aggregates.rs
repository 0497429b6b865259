//! What the admin funnel reads: counters updated in the transaction of the
//! write that moves them (`docs/adr/0004-ledger-per-referrer.md`), so the
//! funnel costs a handful of index look-ups at any size of the data. Core
//! turns the counts into the report (`FunnelCounts::report`) and maps
//! widget events to stages (`Stage::of_widget_event`).
//!
//! Rows that every writer touches (the totals) are spread over
//! `COUNTER_SHARDS` rows; readers sum them. Per-referrer counts are rows
//! of their own (`referrer_counts`), so the top referrers are an index
//! walk.

use std::collections::{BTreeMap, BTreeSet};

use referral_core::funnel::{
    delay_bucket, funnel_channel, funnel_moment, histogram_percentile, FunnelCounts, LedgerStages,
    Stage,
};
use referral_core::nudge::NudgeConfig;
use referral_core::rewards::{LedgerEvent, Program, ProgramLedger};
use sqlx::{AnyConnection, Row};

use referral_core::lift::Measure;

use super::lift::LiftChanges;
use super::{counter_shard, ledger, values_placeholders, Backend, Db};

pub const CUSTOMERS: &str = "customers";
pub const REFERRING: &str = "referring_customers";

fn stage_name(stage: Stage) -> String {
    serde_json::to_value(stage)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn stage_of(name: &str) -> Option<Stage> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// The counter changes of one transaction, written once at its end in key
/// order (so concurrent writers lock rows in the same order).
#[derive(Default)]
pub struct Bumps {
    stages: BTreeMap<(&'static str, String, String), i64>,
    referrers: BTreeMap<(String, String), i64>,
    counters: BTreeMap<&'static str, i64>,
    delays: BTreeMap<u64, i64>,
    /// People registered in this transaction (for the lift's groups).
    new_users: Vec<String>,
    /// Asks shown per person (`nudge_shown`), for the lift.
    asks: BTreeMap<String, i64>,
}

impl Bumps {
    /// One funnel event at `stage` for `referrer`, counted in the total,
    /// by referrer, and by channel and moment when known.
    pub fn stage(
        &mut self,
        stage: Stage,
        referrer: &str,
        channel: Option<&str>,
        moment: Option<&str>,
        delta: i64,
    ) {
        let name = stage_name(stage);
        let mut add = |dimension, value: &str| {
            *self
                .stages
                .entry((dimension, value.to_owned(), name.clone()))
                .or_default() += delta;
        };
        add("total", "");
        if let Some(channel) = channel {
            add("channel", channel);
        }
        if let Some(moment) = moment {
            add("moment", moment);
        }
        *self
            .referrers
            .entry((referrer.to_owned(), name))
            .or_default() += delta;
    }

    /// One more time to first referral in this bucket.
    pub fn delay(&mut self, bucket: u64) {
        *self.delays.entry(bucket).or_default() += 1;
    }

    pub fn counter(&mut self, name: &'static str, delta: i64) {
        *self.counters.entry(name).or_default() += delta;
    }

    /// A new person, counted as a user of their lift groups.
    pub fn new_user(&mut self, account: &str) {
        self.new_users.push(account.to_owned());
    }

    /// One more ask shown to `account`.
    pub fn asked(&mut self, account: &str) {
        *self.asks.entry(account.to_owned()).or_default() += 1;
    }

    /// Adds the changes in the caller's transaction: one upsert statement
    /// per table, in chunks. The per-referrer counts return what they
    /// became, which moves the lift's group tallies (`lift::LiftChanges`)
    /// in the same transaction.
    pub async fn write(
        self,
        conn: &mut AnyConnection,
        nudge: &NudgeConfig,
    ) -> Result<(), sqlx::Error> {
        let mut lift = LiftChanges::default();
        for account in &self.new_users {
            lift.user(nudge, account);
        }
        let shard = counter_shard();
        let stages: Vec<_> = self.stages.into_iter().filter(|(_, d)| *d != 0).collect();
        for chunk in stages.chunks(100) {
            let mut sql = String::from(
                "INSERT INTO funnel_counts (dimension, value, stage, shard, count) VALUES ",
            );
            sql.push_str(&values_placeholders(chunk.len(), 5));
            sql.push_str(" ON CONFLICT (dimension, value, stage, shard) DO UPDATE SET count = funnel_counts.count + excluded.count");
            let mut query = sqlx::query(&sql);
            for ((dimension, value, stage), delta) in chunk {
                query = query
                    .bind(*dimension)
                    .bind(value.clone())
                    .bind(stage.clone())
                    .bind(shard)
                    .bind(*delta);
            }
            query.execute(&mut *conn).await?;
        }
        let referrers: Vec<_> = self
            .referrers
            .into_iter()
            .filter(|(_, d)| *d != 0)
            .collect();
        for chunk in referrers.chunks(100) {
            let mut sql =
                String::from("INSERT INTO referrer_counts (referrer, stage, count) VALUES ");
            sql.push_str(&values_placeholders(chunk.len(), 3));
            sql.push_str(" ON CONFLICT (referrer, stage) DO UPDATE SET count = referrer_counts.count + excluded.count RETURNING referrer, stage, count");
            let mut query = sqlx::query(&sql);
            for ((referrer, stage), delta) in chunk {
                query = query
                    .bind(referrer.clone())
                    .bind(stage.clone())
                    .bind(*delta);
            }
            for row in &query.fetch_all(&mut *conn).await? {
                let referrer: String = row.try_get("referrer")?;
                let stage: String = row.try_get("stage")?;
                let after: i64 = row.try_get("count")?;
                let delta = chunk
                    .iter()
                    .find(|((r, s), _)| *r == referrer && *s == stage)
                    .map_or(0, |(_, d)| *d);
                if let Some(stage) = stage_of(&stage) {
                    let count = |n: i64| u64::try_from(n).unwrap_or(0);
                    lift.count(nudge, &referrer, stage, count(after - delta), count(after));
                }
            }
        }
        for (account, delta) in &self.asks {
            let after: i64 = sqlx::query("INSERT INTO ask_counts (account, count) VALUES ($1, $2) ON CONFLICT (account) DO UPDATE SET count = ask_counts.count + excluded.count RETURNING count")
                .bind(account)
                .bind(*delta)
                .fetch_one(&mut *conn)
                .await?
                .try_get("count")?;
            let count = |n: i64| u64::try_from(n).unwrap_or(0);
            lift.measure(
                nudge,
                account,
                Measure::Asked,
                count(after - delta),
                count(after),
            );
        }
        lift.write(&mut *conn).await?;
        for (name, delta) in self.counters.into_iter().filter(|(_, d)| *d != 0) {
            sqlx::query("INSERT INTO counters (name, shard, value) VALUES ($1, $2, $3) ON CONFLICT (name, shard) DO UPDATE SET value = counters.value + excluded.value")
                .bind(name)
                .bind(shard)
                .bind(delta)
                .execute(&mut *conn)
                .await?;
        }
        for (bucket, delta) in self.delays {
            sqlx::query("INSERT INTO first_referral_delays (bucket, shard, count) VALUES ($1, $2, $3) ON CONFLICT (bucket, shard) DO UPDATE SET count = first_referral_delays.count + excluded.count")
                .bind(i64::try_from(bucket).unwrap_or(i64::MAX))
                .bind(shard)
                .bind(delta)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// Marks `account` as a referring customer (if it is a customer); counts
/// it the first time.
pub async fn mark_referring(
    conn: &mut AnyConnection,
    bumps: &mut Bumps,
    account: &str,
) -> Result<(), sqlx::Error> {
    let inserted = sqlx::query("INSERT INTO referring_accounts (account, first_signup_delay) SELECT external_id, NULL FROM users WHERE external_id = $1 ON CONFLICT (account) DO NOTHING")
        .bind(account)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if inserted == 1 {
        bumps.counter(REFERRING, 1);
    }
    Ok(())
}

/// A new customer: counted, and counted as referring if they shared
/// before the host registered them.
pub async fn user_registered(
    conn: &mut AnyConnection,
    bumps: &mut Bumps,
    account: &str,
) -> Result<(), sqlx::Error> {
    bumps.counter(CUSTOMERS, 1);
    bumps.new_user(account);
    let kinds = sqlx::query("SELECT DISTINCT type FROM events WHERE user_id = $1")
        .bind(account)
        .fetch_all(&mut *conn)
        .await?;
    for row in &kinds {
        if Stage::of_widget_event(&row.try_get::<String, _>("type")?) == Some(Stage::Share) {
            return mark_referring(conn, bumps, account).await;
        }
    }
    Ok(())
}

/// A referred signup for `referrer` at `at`: the referrer is referring,
/// and the first one sets its time to first referral.
pub async fn referred_signup(
    conn: &mut AnyConnection,
    bumps: &mut Bumps,
    referrer: &str,
    at: u64,
) -> Result<(), sqlx::Error> {
    mark_referring(conn, bumps, referrer).await?;
    let since = sqlx::query("SELECT created_at FROM users WHERE external_id = $1")
        .bind(referrer)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get::<i64, _>("created_at"))
        .transpose()?;
    let Some(since) = since else { return Ok(()) };
    let delay = (at as i64).saturating_sub(since).max(0);
    let set = sqlx::query("UPDATE referring_accounts SET first_signup_delay = $1 WHERE account = $2 AND first_signup_delay IS NULL")
        .bind(delay)
        .bind(referrer)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if set == 1 {
        bumps.delay(delay_bucket(delay as u64));
    }
    Ok(())
}

/// How many referrers the funnel breaks down by (the most signups, then
/// the most shares): the rest are in the totals.
pub const TOP_REFERRERS: i64 = 25;

/// The funnel's counts, from the counters.
pub async fn funnel_counts(conn: &mut AnyConnection) -> Result<FunnelCounts, sqlx::Error> {
    let mut counts = FunnelCounts::default();
    let rows = sqlx::query("SELECT dimension, value, stage, CAST(SUM(count) AS BIGINT) AS n FROM funnel_counts GROUP BY dimension, value, stage")
        .fetch_all(&mut *conn)
        .await?;
    for row in &rows {
        let dimension: String = row.try_get("dimension")?;
        let value: String = row.try_get("value")?;
        let Some(stage) = stage_of(&row.try_get::<String, _>("stage")?) else {
            continue;
        };
        let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
        if n == 0 {
            // Counted and taken back (a reversed reward): core's report
            // leaves a stage without events out.
            continue;
        }
        let map = match dimension.as_str() {
            "total" => &mut counts.total,
            "channel" => counts.by_channel.entry(value).or_default(),
            _ => counts.by_moment.entry(value).or_default(),
        };
        map.insert(stage, n);
    }
    let mut top: Vec<String> = Vec::new();
    for stage in [Stage::Signup, Stage::Share] {
        let rows = sqlx::query("SELECT referrer FROM referrer_counts WHERE stage = $1 AND count > 0 ORDER BY count DESC, referrer DESC LIMIT $2")
            .bind(stage_name(stage))
            .bind(TOP_REFERRERS)
            .fetch_all(&mut *conn)
            .await?;
        for row in &rows {
            let value: String = row.try_get("referrer")?;
            if top.len() < TOP_REFERRERS as usize && !top.contains(&value) {
                top.push(value);
            }
        }
    }
    if !top.is_empty() {
        let sql = format!(
            "SELECT referrer, stage, count FROM referrer_counts WHERE referrer IN ({})",
            values_placeholders(top.len(), 1)
        );
        let mut query = sqlx::query(&sql);
        for value in &top {
            query = query.bind(value.clone());
        }
        for row in &query.fetch_all(&mut *conn).await? {
            let Some(stage) = stage_of(&row.try_get::<String, _>("stage")?) else {
                continue;
            };
            let n = u64::try_from(row.try_get::<i64, _>("count")?).unwrap_or(0);
            if n == 0 {
                continue;
            }
            counts
                .by_referrer
                .entry(row.try_get("referrer")?)
                .or_default()
                .insert(stage, n);
        }
    }
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for row in
        &sqlx::query("SELECT name, CAST(SUM(value) AS BIGINT) AS n FROM counters GROUP BY name")
            .fetch_all(&mut *conn)
            .await?
    {
        let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
        totals.insert(row.try_get("name")?, n);
    }
    counts.active_customers = totals.get(CUSTOMERS).copied().unwrap_or(0);
    counts.referring_customers = totals.get(REFERRING).copied().unwrap_or(0);
    let histogram: Vec<(u64, u64)> = sqlx::query("SELECT bucket, CAST(SUM(count) AS BIGINT) AS n FROM first_referral_delays GROUP BY bucket ORDER BY bucket")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok((
                u64::try_from(r.try_get::<i64, _>("bucket")?).unwrap_or(0),
                u64::try_from(r.try_get::<i64, _>("n")?).unwrap_or(0),
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
    counts.time_to_first_referral_median_secs = histogram_percentile(&histogram, 50);
    counts.time_to_first_referral_p90_secs = histogram_percentile(&histogram, 90);
    Ok(counts)
}

const BACKFILL: &str = "ledger_per_referrer_and_counters";

/// Brings a database written by an earlier version up to date, once: the
/// counters from the stored rows (`backfill`), then the per-referrer
/// ledgers from the single event log (`rebuild_ledgers`). A database
/// created by this version is marked done by its migration.
pub async fn upgrade(
    db: &Db,
    program: &Program,
    nudge: &NudgeConfig,
) -> Result<(), ledger::LedgerStoreError> {
    backfill(db, nudge).await?;
    rebuild_ledgers(db, program, nudge).await?;
    super::lift::recount(db, nudge).await?;
    Ok(())
}

/// The counters from the stored rows, in one transaction (one process
/// does it; the others wait, then see the marker).
pub async fn backfill(db: &Db, nudge: &NudgeConfig) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7250014)")
            .execute(&mut *tx)
            .await?;
    }
    let done = sqlx::query("SELECT 1 AS one FROM data_migrations WHERE name = $1")
        .bind(BACKFILL)
        .fetch_optional(&mut *tx)
        .await?;
    if done.is_some() {
        return Ok(());
    }
    let mut bumps = Bumps::default();
    // Widget events, counted the way ingestion counts them.
    let rows = sqlx::query("SELECT user_id, type, channel, moment, COUNT(*) AS n FROM events GROUP BY user_id, type, channel, moment")
        .fetch_all(&mut *tx)
        .await?;
    let mut sharing = BTreeSet::new();
    for row in &rows {
        let kind: String = row.try_get("type")?;
        let Some(stage) = Stage::of_widget_event(&kind) else {
            continue;
        };
        let user: String = row.try_get("user_id")?;
        let channel: Option<String> = row.try_get("channel")?;
        let moment: Option<String> = row.try_get("moment")?;
        bumps.stage(
            stage,
            &user,
            channel.as_deref().map(funnel_channel),
            moment.as_deref().map(|m| funnel_moment(m, nudge)),
            row.try_get("n")?,
        );
        if stage == Stage::Share {
            sharing.insert(user);
        }
    }
    for user in &sharing {
        mark_referring(&mut tx, &mut bumps, user).await?;
    }
    let rows = sqlx::query("SELECT referrer_account, channel, created_at FROM referrals WHERE referrer_account IS NOT NULL ORDER BY created_at, id")
        .fetch_all(&mut *tx)
        .await?;
    for row in &rows {
        let referrer: String = row.try_get("referrer_account")?;
        let channel: Option<String> = row.try_get("channel")?;
        bumps.stage(Stage::Signup, &referrer, channel.as_deref(), None, 1);
        let at = row.try_get::<i64, _>("created_at")?.max(0) as u64;
        referred_signup(&mut tx, &mut bumps, &referrer, at).await?;
    }
    // Today's per-user quota use, from the rows.
    let day = (crate::Clock::real_now() / 86_400) as i64;
    sqlx::query("INSERT INTO event_quota (user_id, day, count) SELECT user_id, $1, COUNT(*) FROM events WHERE received_at >= $2 GROUP BY user_id")
        .bind(day)
        .bind(day * 86_400)
        .execute(&mut *tx)
        .await?;
    let customers: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
    bumps.counter(CUSTOMERS, customers);
    bumps.write(&mut tx, nudge).await?;
    sqlx::query("INSERT INTO data_migrations (name, applied_at) VALUES ($1, $2)")
        .bind(BACKFILL)
        .bind(crate::Clock::real_now() as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Rebuilds every referrer's ledger row from the event log when some
/// event has no referrer yet (a database from before per-referrer
/// ledgers), with the counters the ledgers imply.
pub async fn rebuild_ledgers(
    db: &Db,
    program: &Program,
    nudge: &NudgeConfig,
) -> Result<(), ledger::LedgerStoreError> {
    let mut tx = db.begin().await?;
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7250014)")
            .execute(&mut *tx)
            .await?;
    }
    let pending = sqlx::query("SELECT 1 AS one FROM ledger_events WHERE referrer IS NULL LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?;
    if pending.is_none() {
        return Ok(());
    }
    // Replayed by core in log order; each event's referrer is what core's
    // routing says just before it is applied.
    let rows = sqlx::query("SELECT event_id, body FROM ledger_events ORDER BY seq")
        .fetch_all(&mut *tx)
        .await?;
    let corrupt = |id: &str, e: serde_json::Error| ledger::LedgerStoreError::Corrupt {
        referrer: id.to_owned(),
        cause: e.to_string(),
    };
    let mut all = ProgramLedger::new();
    let mut routes: Vec<(String, String)> = Vec::new();
    for row in &rows {
        let id: String = row.try_get("event_id")?;
        let body: String = row.try_get("body")?;
        let event: LedgerEvent = serde_json::from_str(&body).map_err(|e| corrupt(&id, e))?;
        if let Ok(referrer) = all.referrer_of(&event) {
            routes.push((id, referrer.to_owned()));
        }
        let _ = all.apply(program, &event);
    }
    let now = crate::Clock::real_now() as i64;
    let mut bumps = Bumps::default();
    for (id, referrer) in &routes {
        sqlx::query("UPDATE ledger_events SET referrer = $1 WHERE event_id = $2")
            .bind(referrer)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    for (referrer, ledger) in all.ledgers() {
        let text = serde_json::to_string(ledger).map_err(|e| corrupt(referrer, e))?;
        sqlx::query("INSERT INTO referrer_ledgers (referrer, ledger, version, updated_at) VALUES ($1, $2, 1, $3) ON CONFLICT (referrer) DO UPDATE SET ledger = excluded.ledger, version = referrer_ledgers.version + 1")
            .bind(referrer)
            .bind(text)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        for (id, referral) in &ledger.referrals {
            if let Some(view) = ledger.referral_view(id) {
                let text = serde_json::to_string(&view).map_err(|e| corrupt(id, e))?;
                sqlx::query("INSERT INTO referral_views (referral_id, friend, ledger) VALUES ($1, $2, $3) ON CONFLICT (referral_id) DO UPDATE SET ledger = excluded.ledger")
                    .bind(id)
                    .bind(&referral.friend_account)
                    .bind(text)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for entry in &ledger.entries {
            sqlx::query("INSERT INTO ledger_entries (id, referrer) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
                .bind(&entry.id)
                .bind(referrer)
                .execute(&mut *tx)
                .await?;
        }
        // Core's funnel stages of this referrer's ledger.
        let stages = LedgerStages::of(ledger);
        bumps.stage(Stage::Paid, referrer, None, None, stages.paid as i64);
        bumps.stage(Stage::Reward, referrer, None, None, stages.rewards as i64);
    }
    // Events that changed no ledger (refused routes) keep an empty mark.
    sqlx::query("UPDATE ledger_events SET referrer = '' WHERE referrer IS NULL")
        .execute(&mut *tx)
        .await?;
    bumps.write(&mut tx, nudge).await?;
    tx.commit().await?;
    Ok(())
}
