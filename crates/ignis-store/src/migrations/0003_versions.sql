-- Version 3: published versions, aliases, and per-function settings.

-- The last version number ever published for each function: numbers are
-- never reused, even after a version is deleted (a new function of the same
-- name starts again at 1, as on Lambda).
ALTER TABLE functions ADD COLUMN last_version INTEGER NOT NULL DEFAULT 0;

-- Published versions: frozen records. `fingerprint` is the code and frozen
-- configuration (FunctionRecord::publish_fingerprint), compared with the
-- newest version's when publishing.
CREATE TABLE function_versions (
    name            TEXT NOT NULL,
    version         INTEGER NOT NULL,
    code_sha256_hex TEXT NOT NULL,
    layer_code      TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    record          TEXT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE function_aliases (
    name   TEXT NOT NULL,
    alias  TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (name, alias)
);

-- Settings of a function or one of its qualifiers ('' for the function
-- itself), one JSON document per kind: resource policy, reserved and
-- provisioned concurrency, recursion, runtime management, …
CREATE TABLE function_settings (
    name      TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    kind      TEXT NOT NULL,
    document  TEXT NOT NULL,
    PRIMARY KEY (name, qualifier, kind)
);
