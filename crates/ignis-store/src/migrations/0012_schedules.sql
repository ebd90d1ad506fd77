-- EventBridge Scheduler: schedule groups and schedules. A schedule's
-- definition is the scheduler service's JSON; `next_tick_ms` is the tick it
-- is next due at (NULL: none left), claimed by compare-and-swap.
CREATE TABLE schedule_groups (
    name        TEXT PRIMARY KEY,
    tags        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL
);

INSERT INTO schedule_groups (name, tags, created_ms, modified_ms)
VALUES ('default', '[]', CAST(strftime('%s', 'now') AS INTEGER) * 1000,
        CAST(strftime('%s', 'now') AS INTEGER) * 1000);

CREATE TABLE schedules (
    group_name   TEXT NOT NULL REFERENCES schedule_groups(name),
    name         TEXT NOT NULL,
    definition   TEXT NOT NULL,
    enabled      INTEGER NOT NULL,
    next_tick_ms INTEGER,
    created_ms   INTEGER NOT NULL,
    modified_ms  INTEGER NOT NULL,
    PRIMARY KEY (group_name, name)
);

CREATE INDEX schedules_due ON schedules (next_tick_ms) WHERE enabled = 1;
