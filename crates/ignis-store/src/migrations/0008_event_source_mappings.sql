-- Lambda's event source mappings (ignis-sources owns the record's shape).
CREATE TABLE event_source_mappings (
    uuid             TEXT PRIMARY KEY,
    event_source_arn TEXT NOT NULL,
    function_arn     TEXT NOT NULL,
    function_name    TEXT NOT NULL,
    revision         INTEGER NOT NULL,
    record           TEXT NOT NULL
);
CREATE UNIQUE INDEX event_source_mappings_pair
    ON event_source_mappings (event_source_arn, function_arn);
CREATE INDEX event_source_mappings_function
    ON event_source_mappings (function_name);
