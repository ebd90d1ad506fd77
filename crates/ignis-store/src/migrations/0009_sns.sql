-- Version 9: topics (SNS), their subscriptions, the outbox of deliveries a
-- publish commits, and FIFO topics' deduplication window.
CREATE TABLE sns_topics (
    arn        TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    attributes TEXT NOT NULL,              -- JSON object, as set
    tags       TEXT NOT NULL,              -- JSON object
    created_ms INTEGER NOT NULL,
    sequence   INTEGER NOT NULL DEFAULT 0  -- FIFO: the last sequence number given
);
CREATE TABLE sns_subscriptions (
    arn        TEXT PRIMARY KEY,
    topic_arn  TEXT NOT NULL,
    protocol   TEXT NOT NULL,
    endpoint   TEXT NOT NULL,
    owner      TEXT NOT NULL,
    attributes TEXT NOT NULL,              -- JSON object, as set
    confirmed  INTEGER NOT NULL,
    token      TEXT,                       -- a pending subscription's token
    created_ms INTEGER NOT NULL
);
CREATE INDEX sns_subscriptions_topic ON sns_subscriptions (topic_arn, arn);
-- One row per delivery to make: written with the publish (or subscribe /
-- unsubscribe) that causes it, deleted once delivered or given up. The
-- claim protocol is async_events' (ignis_store::queue); a row with an
-- ordering key is claimable only as the oldest of its key.
CREATE TABLE sns_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_arn TEXT NOT NULL,
    ordering_key     TEXT,
    payload          TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    not_before_ms    INTEGER NOT NULL,
    claimed_by       TEXT,
    lease_until_ms   INTEGER
);
CREATE INDEX sns_deliveries_due ON sns_deliveries (not_before_ms, id);
CREATE INDEX sns_deliveries_order ON sns_deliveries (ordering_key, id);
CREATE TABLE sns_dedup (
    topic_arn  TEXT NOT NULL,
    dedup_id   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sequence   INTEGER NOT NULL,
    until_ms   INTEGER NOT NULL,
    PRIMARY KEY (topic_arn, dedup_id)
);
