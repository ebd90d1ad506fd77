-- Version 6: the durable queue of asynchronous (Event) invocations.
--
-- One row per accepted event (and per destination delivery), written before
-- the 202 is answered and deleted once the event is done. A dispatcher
-- claims due rows by setting `claimed_by` (its process's id) and
-- `lease_until_ms`; a claim whose lease has passed is free again, so the
-- events of a process that died run again (at least once).
CREATE TABLE async_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    function       TEXT NOT NULL,
    qualifier      TEXT NOT NULL,   -- '' for the unqualified function ($LATEST)
    request_id     TEXT NOT NULL,
    invoked_arn    TEXT NOT NULL,
    payload        BLOB NOT NULL,
    client_context TEXT,
    trace_id       TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0, -- attempts run (throttles are not)
    enqueued_ms    INTEGER NOT NULL,           -- Unix epoch, milliseconds
    not_before_ms  INTEGER NOT NULL,
    claimed_by     TEXT,
    lease_until_ms INTEGER
);
CREATE INDEX async_events_due ON async_events (not_before_ms, id);
CREATE INDEX async_events_function ON async_events (function, enqueued_ms);
