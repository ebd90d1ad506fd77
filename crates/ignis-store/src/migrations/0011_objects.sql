-- The object store (ignis-s3): buckets, their settings (notification
-- configuration, policy, tags), objects' metadata (the bytes are files
-- under <data dir>/s3/<bucket>/), multipart uploads and their parts, and
-- the outbox of event notifications an object change commits.
CREATE TABLE s3_buckets (
    name TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE s3_bucket_settings (
    bucket TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (bucket, name)
);

-- Keys compare with SQLite's BINARY collation: UTF-8 byte order, S3's
-- listing order.
CREATE TABLE s3_objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    file TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    meta TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;

CREATE TABLE s3_uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    meta TEXT NOT NULL,
    initiated_ms INTEGER NOT NULL
);

CREATE INDEX s3_uploads_by_bucket ON s3_uploads (bucket, key, initiated_ms);

CREATE TABLE s3_parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    file TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    meta TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;

CREATE TABLE s3_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before_ms INTEGER NOT NULL,
    claimed_by TEXT,
    lease_until_ms INTEGER
);
