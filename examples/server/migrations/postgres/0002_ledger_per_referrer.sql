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
CREATE INDEX funnel_counts_rank ON funnel_counts (dimension, stage, count);

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
CREATE INDEX referring_accounts_delay ON referring_accounts (first_signup_delay);

CREATE INDEX referrals_review ON referrals (review, created_at, id);

CREATE TABLE data_migrations (
    name TEXT PRIMARY KEY,
    applied_at BIGINT NOT NULL
);
