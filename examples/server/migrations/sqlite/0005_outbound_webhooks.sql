-- Outbound webhooks (Standard Webhooks; docs/adr/0008-outbound-webhooks.md).
-- Endpoints an admin subscribed; `secrets` is a JSON array of
-- {secret: "whsec_…", expires_at: unix|null}, the newest first: during a
-- rotation the old secret signs too until it expires.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    event_types TEXT NOT NULL,
    secrets TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- The outbox: each notification, written in the transaction of the change
-- that caused it. `body` is the exact JSON that is signed and sent.
CREATE TABLE outbound_events (
    id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- One delivery per (event, endpoint), claimed by a worker with a lease.
CREATE TABLE outbound_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_status INTEGER,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    CONSTRAINT outbound_deliveries_event_endpoint_key UNIQUE (event_id, endpoint_id)
);
CREATE INDEX outbound_deliveries_due ON outbound_deliveries (status, next_attempt_at);
-- Every attempt: when, how long, the answer's status or the error.
CREATE TABLE outbound_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id BIGINT NOT NULL,
    attempted_at BIGINT NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX outbound_attempts_delivery ON outbound_attempts (delivery_id);
-- Entries whose hold will end: `reward.payable` is announced once, when a
-- periodic task finds the hold over (and the entry still owed).
CREATE TABLE payable_watch (
    entry_id TEXT PRIMARY KEY,
    referrer TEXT NOT NULL,
    next_check BIGINT NOT NULL
);
CREATE INDEX payable_watch_due ON payable_watch (next_check);
