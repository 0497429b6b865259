-- Lift against the holdout: each group's tally (core's `GroupTally`
-- fields as `metric`), kept as counters in the transaction of the write
-- that moves them. Groups are `treatment`, `holdout` and
-- `variant:<moment>:<variant>` (core's `lift::groups_of`). Sharded like
-- funnel_counts; readers sum. Recounted from users and referrer_counts at
-- start-up when the experiment's design changes (a `lift:<fingerprint>`
-- row in data_migrations marks the design counted).
CREATE TABLE lift_counts (
    grp TEXT NOT NULL,
    metric TEXT NOT NULL,
    shard BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (grp, metric, shard)
);

-- Asks shown (`nudge_shown` widget events) per person: the lift's "asked"
-- needs each person's count before and after a write.
CREATE TABLE ask_counts (
    account TEXT PRIMARY KEY,
    count BIGINT NOT NULL
);
