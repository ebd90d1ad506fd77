//! The SQLite schema, as embedded migrations. The applied version is kept in
//! `PRAGMA user_version`; migration `i` (from 0) brings the schema to version
//! `i + 1`, each in its own transaction.

use rusqlite::Connection;

use crate::store::StoreError;

/// Schema migrations, oldest first. Never edit one that has shipped; append.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_functions.sql"),
    include_str!("migrations/0002_layers.sql"),
    include_str!("migrations/0003_versions.sql"),
    include_str!("migrations/0004_layer_policies.sql"),
    include_str!("migrations/0005_iam.sql"),
    include_str!("migrations/0006_async_events.sql"),
    include_str!("migrations/0007_sqs.sql"),
    include_str!("migrations/0008_event_source_mappings.sql"),
    include_str!("migrations/0009_sns.sql"),
    include_str!("migrations/0010_eventbridge.sql"),
    include_str!("migrations/0011_objects.sql"),
    include_str!("migrations/0012_schedules.sql"),
    include_str!("migrations/0013_schedule_firings.sql"),
];

/// The schema version this build creates and understands.
pub(crate) fn latest_version() -> u32 {
    u32::try_from(MIGRATIONS.len()).expect("fewer than 2^32 migrations")
}

/// The schema version recorded in the database.
pub(crate) fn schema_version(conn: &Connection) -> Result<u32, rusqlite::Error> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Brings the schema up to [`latest_version`].
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found = schema_version(conn).map_err(|source| StoreError::Migrate {
        version: 0,
        source: source.into(),
    })?;
    let known = latest_version();
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = u32::try_from(index + 1).expect("fewer than 2^32 migrations");
        apply(conn, version, sql).map_err(|source| StoreError::Migrate {
            version,
            source: source.into(),
        })?;
    }
    Ok(())
}

fn apply(conn: &mut Connection, version: u32, sql: &str) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    tx.execute_batch(sql)?;
    tx.pragma_update(None, "user_version", version)?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_records_the_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(schema_version(&conn).unwrap(), 0);
        migrate(&mut conn).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), latest_version());
        // A second run finds nothing to do (re-running would fail on CREATE TABLE).
        migrate(&mut conn).unwrap();
        let tables: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'functions'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 1);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", latest_version() + 1)
            .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
    }
}
