-- Version 10: EventBridge — event buses, rules, their targets and the
-- outbox of deliveries PutEvents and scheduled rules commit.
CREATE TABLE eb_buses (
    name        TEXT PRIMARY KEY,
    arn         TEXT NOT NULL,
    description TEXT,
    tags        TEXT NOT NULL,             -- JSON object
    created_ms  INTEGER NOT NULL
);
CREATE TABLE eb_rules (
    bus          TEXT NOT NULL,
    name         TEXT NOT NULL,
    arn          TEXT NOT NULL UNIQUE,
    enabled      INTEGER NOT NULL,
    spec         TEXT NOT NULL,            -- the service's JSON
    next_fire_ms INTEGER,                  -- a scheduled rule's next tick
    tags         TEXT NOT NULL,            -- JSON object
    created_ms   INTEGER NOT NULL,
    PRIMARY KEY (bus, name)
);
CREATE INDEX eb_rules_due ON eb_rules (next_fire_ms) WHERE next_fire_ms IS NOT NULL;
CREATE TABLE eb_targets (
    bus  TEXT NOT NULL,
    rule TEXT NOT NULL,
    id   TEXT NOT NULL,
    arn  TEXT NOT NULL,
    spec TEXT NOT NULL,                    -- the service's JSON
    PRIMARY KEY (bus, rule, id)
);
CREATE INDEX eb_targets_arn ON eb_targets (bus, arn, rule);
-- One row per delivery to make, written with the PutEvents (or tick) that
-- causes it, deleted once delivered or given up; the claim protocol is
-- async_events' (ignis_store::queue).
CREATE TABLE eb_deliveries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_arn       TEXT NOT NULL,
    target_arn     TEXT NOT NULL,
    payload        TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    not_before_ms  INTEGER NOT NULL,
    claimed_by     TEXT,
    lease_until_ms INTEGER
);
CREATE INDEX eb_deliveries_due ON eb_deliveries (not_before_ms, id);
