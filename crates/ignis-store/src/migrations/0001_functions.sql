-- Version 1: one row per function ($LATEST).
CREATE TABLE functions (
    name            TEXT PRIMARY KEY NOT NULL,
    revision_id     TEXT NOT NULL,
    code_sha256_hex TEXT NOT NULL,
    code_size       INTEGER NOT NULL,
    record          TEXT NOT NULL
);

CREATE INDEX functions_code_sha256_hex ON functions (code_sha256_hex);
