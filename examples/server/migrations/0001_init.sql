-- One schema for SQLite and PostgreSQL: TEXT ids made by the server,
-- BIGINT Unix seconds, INTEGER 0/1 booleans.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    numeric_id BIGINT NOT NULL UNIQUE,
    email TEXT NOT NULL UNIQUE,
    normalized_email TEXT NOT NULL,
    company_domain TEXT NOT NULL,
    referred_by TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX users_normalized_email ON users (normalized_email);

CREATE TABLE referrals (
    id TEXT PRIMARY KEY,
    friend_account TEXT NOT NULL,
    referrer_account TEXT,
    code TEXT,
    channel TEXT,
    outcome TEXT NOT NULL,
    review INTEGER NOT NULL,
    flags TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX referrals_referrer ON referrals (referrer_account);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    type TEXT NOT NULL,
    channel TEXT,
    moment TEXT,
    at BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX events_user ON events (user_id);

CREATE TABLE ledger_events (
    seq BIGINT PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    outcome TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
