-- The referral service's schema (SQLite). migrations/postgres holds the
-- same tables in PostgreSQL's dialect; ids that must be unique across
-- processes come from the database (AUTOINCREMENT) or are random.

-- People, by the host's own id. `numeric_id` goes into referral codes.
CREATE TABLE users (
    numeric_id INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id TEXT NOT NULL CONSTRAINT users_external_id_key UNIQUE,
    email TEXT NOT NULL,
    normalized_email TEXT NOT NULL,
    email_domain TEXT NOT NULL,
    display_name TEXT,
    share_name INTEGER NOT NULL DEFAULT 0,
    referred_by TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX users_normalized_email ON users (normalized_email);

-- One row per signup the host reported, attributed or not.
CREATE TABLE referrals (
    id TEXT PRIMARY KEY,
    friend_account TEXT NOT NULL CONSTRAINT referrals_friend_account_key UNIQUE,
    referrer_account TEXT,
    code TEXT,
    channel TEXT,
    outcome TEXT NOT NULL,
    review INTEGER NOT NULL,
    flags TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX referrals_referrer ON referrals (referrer_account);

-- Widget events; ids are the browser's and unique per user only.
CREATE TABLE events (
    user_id TEXT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    channel TEXT,
    moment TEXT,
    at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, id)
);
CREATE INDEX events_user_received ON events (user_id, received_at);

-- Each person's nudge state (core's NudgeState as JSON), so "don't ask
-- again" follows the person across browsers and devices. `version` is the
-- optimistic-concurrency token (ETag / If-Match).
CREATE TABLE nudge_states (
    user_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE ledger_events (
    seq BIGINT PRIMARY KEY,
    event_id TEXT NOT NULL CONSTRAINT ledger_events_event_id_key UNIQUE,
    body TEXT NOT NULL,
    outcome TEXT NOT NULL,
    received_at BIGINT NOT NULL
);

-- Billing events for accounts whose signup was not reported yet; the
-- signup applies them if the account was referred.
CREATE TABLE pending_billing_events (
    event_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX pending_billing_events_account ON pending_billing_events (account_id);

CREATE TABLE admins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL CONSTRAINT admins_email_key UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Server-side sessions (admin, and the demo host's users). The cookie holds
-- a random token; only its SHA-256 is stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_subject ON sessions (kind, subject);

-- API keys for the host's backend: `rk_<id>_<secret>`, SHA-256 of the
-- secret stored, shown once.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- Responses of state-changing server API calls by Idempotency-Key.
CREATE TABLE idempotency_keys (
    api_key_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (api_key_id, key)
);

-- The demo host's own accounts (used only with --demo).
CREATE TABLE demo_users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL CONSTRAINT demo_users_email_key UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
