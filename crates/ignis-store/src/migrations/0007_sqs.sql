-- Version 7: the queue service (SQS): queues, their messages, FIFO
-- deduplication records and message move tasks. See `docs/queues.md`.

-- A queue. `attributes` and `tags` are JSON objects of strings; the
-- attributes are every settable one with its value or default.
CREATE TABLE sqs_queues (
    name        TEXT NOT NULL PRIMARY KEY,
    attributes  TEXT NOT NULL,
    tags        TEXT NOT NULL,
    created_s   INTEGER NOT NULL,            -- Unix epoch, seconds
    modified_s  INTEGER NOT NULL,
    purged_ms   INTEGER,                     -- the last PurgeQueue
    sequence    INTEGER NOT NULL DEFAULT 0   -- FIFO: the last sequence number given
);

-- A message. `receipt` is the token of its latest receive (NULL: never
-- received); a message is in flight while `receipt` is set and
-- `visible_at_ms` is in the future, delayed while `receipt` is NULL and
-- `visible_at_ms` is in the future. Attributes are encoded by the engine
-- (opaque here).
CREATE TABLE sqs_messages (
    id                INTEGER PRIMARY KEY,
    queue             TEXT NOT NULL,
    message_id        TEXT NOT NULL,
    body              TEXT NOT NULL,
    attributes        BLOB NOT NULL,
    system_attributes BLOB NOT NULL,
    md5_body          TEXT NOT NULL,
    md5_attributes    TEXT,
    md5_system        TEXT,
    sender_id         TEXT NOT NULL,
    sent_ms           INTEGER NOT NULL,      -- first sent (kept across a redrive)
    visible_at_ms     INTEGER NOT NULL,
    receive_count     INTEGER NOT NULL DEFAULT 0,
    first_receive_ms  INTEGER,
    receipt           TEXT,
    group_id          TEXT,
    dedup_id          TEXT,
    sequence          INTEGER,
    dlq_source        TEXT                   -- the ARN of the queue it was moved from
);
CREATE INDEX sqs_messages_visible ON sqs_messages (queue, visible_at_ms, id);

-- FIFO deduplication: a key (the deduplication id, prefixed by the group
-- under the messageGroup scope) names the first message sent with it until
-- `expires_ms` (five minutes after).
CREATE TABLE sqs_dedup (
    queue      TEXT NOT NULL,
    key        TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sequence   INTEGER,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (queue, key)
) WITHOUT ROWID;
CREATE INDEX sqs_dedup_expiry ON sqs_dedup (queue, expires_ms);

-- StartMessageMoveTask: moving a dead-letter queue's messages.
CREATE TABLE sqs_move_tasks (
    handle          TEXT NOT NULL PRIMARY KEY,
    source_arn      TEXT NOT NULL,
    destination_arn TEXT,
    max_per_second  INTEGER,
    status          TEXT NOT NULL,
    moved           INTEGER NOT NULL DEFAULT 0,
    to_move         INTEGER NOT NULL,
    started_ms      INTEGER NOT NULL,
    failure_reason  TEXT
);
CREATE INDEX sqs_move_tasks_source ON sqs_move_tasks (source_arn, started_ms);
