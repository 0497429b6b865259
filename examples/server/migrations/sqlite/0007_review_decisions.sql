-- Review decisions on flagged referrals (`approved` / `rejected`) and the
-- audit log of every admin decision: who, when, what, why.
ALTER TABLE referrals ADD COLUMN decision TEXT;
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    admin TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
