-- Cost per request independent of the program's size (issue 14, ADR 0004):
-- one core ledger per referrer, updated in the transaction that appends
-- the event; counters for the admin funnel updated in the transaction of
-- the write that moves them. migrations/postgres has the same tables.

-- The event log: the sequence now comes from the database (two processes
-- cannot take the same number), and each event names its referrer.
CREATE TABLE ledger_events_v2 (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL CONSTRAINT ledger_events_event_id_key UNIQUE,
    referrer TEXT,
    body TEXT NOT NULL,
    outcome TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
INSERT INTO ledger_events_v2 (seq, event_id, referrer, body, outcome, received_at)
    SELECT seq, event_id, NULL, body, outcome, received_at FROM ledger_events ORDER BY seq;
DROP TABLE ledger_events;
ALTER TABLE ledger_events_v2 RENAME TO ledger_events;
CREATE INDEX ledger_events_referrer ON ledger_events (referrer, seq);

-- Each referrer's ledger (core's `Ledger` as JSON): its referrals and the
-- entries they earned, both sides. Locked per referrer by writers.
CREATE TABLE referrer_ledgers (
    referrer TEXT PRIMARY KEY,
    ledger TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Each referral with its entries (core's `Ledger::referral_view`), by
-- friend: a friend's rewards without loading the referrer's ledger.
CREATE TABLE referral_views (
    referral_id TEXT PRIMARY KEY,
    friend TEXT NOT NULL,
    ledger TEXT NOT NULL
);
CREATE INDEX referral_views_friend ON referral_views (friend);

-- Which referrer's ledger holds an entry (routes a payout).
CREATE TABLE ledger_entries (
    id TEXT PRIMARY KEY,
    referrer TEXT NOT NULL
);

-- Funnel counters: (dimension, value) is ('total', ''), ('channel', …)
-- or ('moment', …). Hot rows are spread over `shard`s so concurrent
-- writers rarely wait on one row; readers sum them.
CREATE TABLE funnel_counts (
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    stage TEXT NOT NULL,
    shard INTEGER NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (dimension, value, stage, shard)
);

-- The same counts per referrer (not sharded: one referrer's writers are
-- few), ranked by stage for the admin's top referrers.
CREATE TABLE referrer_counts (
    referrer TEXT NOT NULL,
    stage TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (referrer, stage)
);
CREATE INDEX referrer_counts_rank ON referrer_counts (stage, count, referrer);

-- Program-wide counters (`customers`, `referring_customers`, `delays`),
-- sharded the same way.
CREATE TABLE counters (
    name TEXT NOT NULL,
    shard INTEGER NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (name, shard)
);

-- Customers who referred (shared or brought a signup), with the time from
-- becoming a customer to their first referred signup.
CREATE TABLE referring_accounts (
    account TEXT PRIMARY KEY,
    first_signup_delay BIGINT
);

-- Times to first referral as a histogram (core's `delay_bucket`: two
-- significant digits, a few hundred rows at most): the median is a walk
-- over the buckets, not over the referrers.
CREATE TABLE first_referral_delays (
    bucket BIGINT NOT NULL,
    shard INTEGER NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (bucket, shard)
);

-- The review queue reads the oldest flagged referrals.
CREATE INDEX referrals_review ON referrals (review, created_at, id);

-- Data migrations run once by the service (marker rows).
CREATE TABLE data_migrations (
    name TEXT PRIMARY KEY,
    applied_at BIGINT NOT NULL
);

-- Widget events stored per user and UTC day (EVENTS_PER_USER_PER_DAY): a
-- look-up, not a count of the day's rows.
CREATE TABLE event_quota (
    user_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (user_id, day)
);

-- A database without data has nothing to backfill: marked done here, so
-- the start-up data migration (aggregates::upgrade) only ever runs over
-- rows written before this migration, never over live counters.
INSERT INTO data_migrations (name, applied_at)
    SELECT 'ledger_per_referrer_and_counters', 0
    WHERE NOT EXISTS (SELECT 1 FROM users)
      AND NOT EXISTS (SELECT 1 FROM events)
      AND NOT EXISTS (SELECT 1 FROM referrals)
      AND NOT EXISTS (SELECT 1 FROM ledger_events);
