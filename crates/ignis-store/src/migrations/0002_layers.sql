-- Version 2: layer versions, and the layer code each function keeps.

-- The last version number ever given to each layer name: versions are never
-- reused, even after every version of the layer is deleted.
CREATE TABLE layer_names (
    name         TEXT PRIMARY KEY NOT NULL,
    last_version INTEGER NOT NULL
);

CREATE TABLE layer_versions (
    name            TEXT NOT NULL,
    version         INTEGER NOT NULL,
    code_sha256_hex TEXT NOT NULL,
    record          TEXT NOT NULL,
    PRIMARY KEY (name, version)
);

-- Space-separated SHA-256s (hex) of the function's layers, so their content
-- stays while the function references it.
ALTER TABLE functions ADD COLUMN layer_code TEXT NOT NULL DEFAULT '';
