//! Widget events, stored with group commit
//! (`docs/adr/0004-ledger-per-referrer.md`). A durable commit costs one
//! fsync whatever it holds, so the requests that arrive while one commit
//! is on disk share the next: each request's events (and the counters
//! they move) are still all-or-nothing, and a request is answered only
//! once its transaction committed. A request whose part fails (over its
//! daily quota, or an error) does not take the others with it: the group
//! is retried one request at a time.

use std::collections::BTreeSet;
use std::sync::Arc;

use referral_core::funnel::{funnel_channel, funnel_moment, Stage};
use referral_core::lift::Measure;
use referral_core::nudge::NudgeConfig;
use sqlx::{AnyConnection, Row};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::{aggregates, values_placeholders, Backend, Db};

/// One widget event as stored.
pub struct Event {
    pub id: String,
    pub kind: String,
    pub channel: Option<String>,
    pub moment: Option<String>,
    pub at: u64,
}

/// What happened to one request's events.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    Accepted {
        accepted: u32,
        duplicates: u32,
    },
    /// The user's events of this UTC day plus these exceed the quota.
    OverQuota,
}

struct Job {
    user: String,
    /// In id order, each id once (so concurrent groups lock rows in the
    /// same order).
    events: Vec<Event>,
    received_at: u64,
    quota: i64,
    reply: oneshot::Sender<Result<Stored, sqlx::Error>>,
}

/// The queue in front of the writers.
#[derive(Clone)]
pub struct Ingest {
    queue: mpsc::Sender<Job>,
}

/// Requests one commit takes at most.
const MAX_GROUP: usize = 64;

impl Ingest {
    /// Starts the writers: one on SQLite (it has one writer), a few on
    /// PostgreSQL (which commits concurrently).
    pub fn start(db: Db, nudge: Arc<NudgeConfig>) -> Ingest {
        let (queue, receiver) = mpsc::channel::<Job>(4096);
        let receiver = Arc::new(Mutex::new(receiver));
        let writers = match db.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 4,
        };
        for _ in 0..writers {
            let (db, receiver, nudge) = (db.clone(), receiver.clone(), nudge.clone());
            tokio::spawn(async move {
                loop {
                    let mut group = Vec::new();
                    {
                        let mut receiver = receiver.lock().await;
                        match receiver.recv().await {
                            Some(job) => group.push(job),
                            None => return,
                        }
                        while group.len() < MAX_GROUP {
                            match receiver.try_recv() {
                                Ok(job) => group.push(job),
                                Err(_) => break,
                            }
                        }
                    }
                    write_group(&db, &nudge, group).await;
                }
            });
        }
        Ingest { queue }
    }

    /// Stores `events` (sorted by id and deduplicated by the caller) for
    /// `user`, durably, unless the user's events of this UTC day plus these
    /// exceed `quota`.
    pub async fn store(
        &self,
        user: &str,
        events: Vec<Event>,
        received_at: u64,
        quota: i64,
    ) -> Result<Stored, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job {
                user: user.to_owned(),
                events,
                received_at,
                quota,
                reply,
            })
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

async fn write_group(db: &Db, nudge: &NudgeConfig, group: Vec<Job>) {
    if group.len() > 1 {
        match write(db, nudge, &group).await {
            Ok(results) => {
                for (job, result) in group.into_iter().zip(results) {
                    let _ = job.reply.send(Ok(result));
                }
                return;
            }
            Err(e) => tracing::warn!(error = %e, "group commit failed; retrying one by one"),
        }
    }
    for job in group {
        let result = write(db, nudge, std::slice::from_ref(&job))
            .await
            .map(|mut r| r.remove(0));
        let _ = job.reply.send(result);
    }
}

/// Inserts a job's events in one statement; the ids that were new (a
/// repeated id is this user's duplicate).
async fn insert_events(
    conn: &mut AnyConnection,
    job: &Job,
) -> Result<BTreeSet<String>, sqlx::Error> {
    let mut inserted = BTreeSet::new();
    for chunk in job.events.chunks(100) {
        let mut sql = String::from(
            "INSERT INTO events (user_id, id, type, channel, moment, at, received_at) VALUES ",
        );
        sql.push_str(&values_placeholders(chunk.len(), 7));
        sql.push_str(" ON CONFLICT (user_id, id) DO NOTHING RETURNING id");
        let mut query = sqlx::query(&sql);
        for e in chunk {
            query = query
                .bind(job.user.clone())
                .bind(e.id.clone())
                .bind(e.kind.clone())
                .bind(e.channel.clone())
                .bind(e.moment.clone())
                .bind(e.at as i64)
                .bind(job.received_at as i64);
        }
        for row in query.fetch_all(&mut *conn).await? {
            inserted.insert(row.try_get::<String, _>("id")?);
        }
    }
    Ok(inserted)
}

/// One transaction for `jobs`: each job's events and counters, or nothing.
async fn write(db: &Db, nudge: &NudgeConfig, jobs: &[Job]) -> Result<Vec<Stored>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let mut bumps = aggregates::Bumps::default();
    let mut results: Vec<Option<Stored>> = jobs.iter().map(|_| None).collect();
    // Users in order, so concurrent groups (PostgreSQL has several
    // writers) lock their quota rows in the same order.
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by(|a, b| jobs[*a].user.cmp(&jobs[*b].user));
    for index in order {
        let job = &jobs[index];
        let day = (job.received_at / 86_400) as i64;
        let asked = job.events.len() as i64;
        // Claim the quota first: the upsert locks the user's row until
        // commit, so concurrent writers cannot both pass on one count.
        let total: i64 = sqlx::query("INSERT INTO event_quota (user_id, day, count) VALUES ($1, $2, $3) ON CONFLICT (user_id, day) DO UPDATE SET count = event_quota.count + excluded.count RETURNING count")
            .bind(&job.user)
            .bind(day)
            .bind(asked)
            .fetch_one(&mut *tx)
            .await?
            .try_get("count")?;
        let over = total > job.quota;
        let inserted = if over {
            BTreeSet::new()
        } else {
            insert_events(&mut tx, job).await?
        };
        let accepted = inserted.len() as i64;
        if accepted < asked {
            // Give back what was not stored (duplicates, or all of it).
            sqlx::query(
                "UPDATE event_quota SET count = count - $1 WHERE user_id = $2 AND day = $3",
            )
            .bind(asked - accepted)
            .bind(&job.user)
            .bind(day)
            .execute(&mut *tx)
            .await?;
        }
        if over {
            results[index] = Some(Stored::OverQuota);
            continue;
        }
        let mut sharing = false;
        for e in job.events.iter().filter(|e| inserted.contains(&e.id)) {
            if Measure::of_widget_event(&e.kind) == Some(Measure::Asked) {
                bumps.asked(&job.user);
            }
            if let Some(stage) = Stage::of_widget_event(&e.kind) {
                // Whatever a browser sends, the breakdowns only have the
                // program's channels and moments (and `other`).
                bumps.stage(
                    stage,
                    &job.user,
                    e.channel.as_deref().map(funnel_channel),
                    e.moment.as_deref().map(|m| funnel_moment(m, nudge)),
                    1,
                );
                sharing |= stage == Stage::Share;
            }
        }
        if sharing {
            // After the events are written and before the user row is read:
            // a registration of this user in flight either committed (and
            // is seen here) or waits and then sees these events.
            db.lock_account(&mut tx, &job.user).await?;
            aggregates::mark_referring(&mut tx, &mut bumps, &job.user).await?;
        }
        results[index] = Some(Stored::Accepted {
            accepted: accepted as u32,
            duplicates: (asked - accepted) as u32,
        });
    }
    bumps.write(&mut tx, nudge).await?;
    tx.commit().await?;
    Ok(results.into_iter().flatten().collect())
}
