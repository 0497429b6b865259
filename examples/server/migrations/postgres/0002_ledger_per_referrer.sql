-- Cost per request independent of the program's size (issue 14, ADR 0004):
-- the same tables as migrations/sqlite/0002, in PostgreSQL's dialect.

-- The sequence now comes from the database; each event names its referrer.
ALTER TABLE ledger_events ADD COLUMN referrer TEXT;
CREATE SEQUENCE ledger_events_seq OWNED BY ledger_events.seq;
SELECT setval('ledger_events_seq', COALESCE((SELECT MAX(seq) FROM ledger_events), 0) + 1, false);
ALTER TABLE ledger_events ALTER COLUMN seq SET DEFAULT nextval('ledger_events_seq');
CREATE INDEX ledger_events_referrer ON ledger_events (referrer, seq);

CREATE TABLE referrer_ledgers (
    referrer TEXT PRIMARY KEY,
    ledger TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE referral_views (
    referral_id TEXT PRIMARY KEY,
    friend TEXT NOT NULL,
    ledger TEXT NOT NULL
);
CREATE INDEX referral_views_friend ON referral_views (friend);

CREATE TABLE ledger_entries (
    id TEXT PRIMARY KEY,
    referrer TEXT NOT NULL
);

CREATE TABLE funnel_counts (
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    stage TEXT NOT NULL,
    shard BIGINT NOT NULL,
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

CREATE TABLE counters (
    name TEXT NOT NULL,
    shard BIGINT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (name, shard)
);

CREATE TABLE referring_accounts (
    account TEXT PRIMARY KEY,
    first_signup_delay BIGINT
);

-- Times to first referral as a histogram (core's `delay_bucket`: two
-- significant digits, a few hundred rows at most): the median is a walk
-- over the buckets, not over the referrers.
CREATE TABLE first_referral_delays (
    bucket BIGINT NOT NULL,
    shard BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (bucket, shard)
);

CREATE INDEX referrals_review ON referrals (review, created_at, id);

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
