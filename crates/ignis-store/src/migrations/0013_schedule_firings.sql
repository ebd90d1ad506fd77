-- EventBridge Scheduler: a tick won by `claim_tick` and not yet delivered.
-- Written in the claim's transaction and deleted once the tick was delivered
-- (or dead-lettered), so a process killed in between delivers it at its
-- next start: at least once, as AWS's Scheduler delivers.
CREATE TABLE schedule_firings (
    schedule_arn TEXT NOT NULL,
    tick_ms      INTEGER NOT NULL,
    definition   TEXT NOT NULL,
    PRIMARY KEY (schedule_arn, tick_ms)
);
