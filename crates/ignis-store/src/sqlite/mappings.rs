//! [`MappingStore`] on SQLite (the table of migration 8).

use rusqlite::{params, OptionalExtension, Row};

use super::{query_err, SqliteStore};
use crate::mappings::{Inserted, MappingRow, MappingStore};
use crate::store::StoreError;

const COLS: &str = "uuid, event_source_arn, function_arn, function_name, revision, record";

fn row(r: &Row<'_>) -> rusqlite::Result<MappingRow> {
    Ok(MappingRow {
        uuid: r.get(0)?,
        event_source_arn: r.get(1)?,
        function_arn: r.get(2)?,
        function_name: r.get(3)?,
        revision: r.get(4)?,
        record: r.get(5)?,
    })
}

#[async_trait::async_trait]
impl MappingStore for SqliteStore {
    async fn insert_mapping(&self, m: &MappingRow) -> Result<Inserted, StoreError> {
        let m = m.clone();
        self.with_conn("insert_mapping", move |conn| {
            let q = query_err("insert_mapping");
            let tx = conn.transaction().map_err(q)?;
            let existing: Option<String> = tx
                .query_row(
                    "SELECT uuid FROM event_source_mappings
                     WHERE event_source_arn = ?1 AND function_arn = ?2",
                    params![m.event_source_arn, m.function_arn],
                    |r| r.get(0),
                )
                .optional()
                .map_err(query_err("insert_mapping"))?;
            if let Some(uuid) = existing {
                return Ok(Inserted::Duplicate(uuid));
            }
            tx.execute(
                "INSERT INTO event_source_mappings
                 (uuid, event_source_arn, function_arn, function_name, revision, record)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5)",
                params![
                    m.uuid,
                    m.event_source_arn,
                    m.function_arn,
                    m.function_name,
                    m.record
                ],
            )
            .map_err(query_err("insert_mapping"))?;
            tx.commit().map_err(query_err("insert_mapping"))?;
            Ok(Inserted::Stored)
        })
        .await
    }

    async fn get_mapping(&self, uuid: &str) -> Result<Option<MappingRow>, StoreError> {
        let uuid = uuid.to_owned();
        self.with_conn("get_mapping", move |conn| {
            conn.query_row(
                &format!("SELECT {COLS} FROM event_source_mappings WHERE uuid = ?1"),
                params![uuid],
                row,
            )
            .optional()
            .map_err(query_err("get_mapping"))
        })
        .await
    }

    async fn list_mappings(&self) -> Result<Vec<MappingRow>, StoreError> {
        self.with_conn("list_mappings", move |conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {COLS} FROM event_source_mappings ORDER BY uuid"
                ))
                .map_err(query_err("list_mappings"))?;
            let rows = stmt
                .query_map([], row)
                .map_err(query_err("list_mappings"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(query_err("list_mappings"))
        })
        .await
    }

    async fn update_mapping(&self, m: &MappingRow) -> Result<Option<i64>, StoreError> {
        let m = m.clone();
        self.with_conn("update_mapping", move |conn| {
            let changed = conn
                .execute(
                    "UPDATE event_source_mappings
                     SET function_arn = ?3, function_name = ?4, record = ?5,
                         revision = revision + 1
                     WHERE uuid = ?1 AND revision = ?2",
                    params![
                        m.uuid,
                        m.revision,
                        m.function_arn,
                        m.function_name,
                        m.record
                    ],
                )
                .map_err(query_err("update_mapping"))?;
            Ok((changed == 1).then_some(m.revision + 1))
        })
        .await
    }

    async fn delete_mapping(&self, uuid: &str, revision: i64) -> Result<bool, StoreError> {
        let uuid = uuid.to_owned();
        self.with_conn("delete_mapping", move |conn| {
            let n = conn
                .execute(
                    "DELETE FROM event_source_mappings WHERE uuid = ?1 AND revision = ?2",
                    params![uuid, revision],
                )
                .map_err(query_err("delete_mapping"))?;
            Ok(n == 1)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(uuid: &str, source: &str, function: &str) -> MappingRow {
        MappingRow {
            uuid: uuid.into(),
            event_source_arn: source.into(),
            function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function}"),
            function_name: function.into(),
            revision: 0,
            record: format!("{{\"uuid\":\"{uuid}\"}}"),
        }
    }

    #[tokio::test]
    async fn one_mapping_per_source_and_function_and_writes_compare_revisions() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_in(dir.path()).unwrap();
        let a = mapping("a", "arn:aws:sqs:us-east-1:000000000000:q", "f");
        assert_eq!(store.insert_mapping(&a).await.unwrap(), Inserted::Stored);
        let dup = mapping("b", "arn:aws:sqs:us-east-1:000000000000:q", "f");
        assert_eq!(
            store.insert_mapping(&dup).await.unwrap(),
            Inserted::Duplicate("a".into())
        );
        let other = mapping("c", "arn:aws:sqs:us-east-1:000000000000:q", "g");
        assert_eq!(
            store.insert_mapping(&other).await.unwrap(),
            Inserted::Stored
        );

        let mut got = store.get_mapping("a").await.unwrap().unwrap();
        assert_eq!(got.revision, 1);
        got.record = "{\"changed\":true}".into();
        assert_eq!(store.update_mapping(&got).await.unwrap(), Some(2));
        // A writer holding revision 1 lost.
        assert_eq!(store.update_mapping(&got).await.unwrap(), None);
        assert!(!store.delete_mapping("a", 1).await.unwrap());
        let listed = store.list_mappings().await.unwrap();
        assert_eq!(
            listed.iter().map(|m| m.uuid.as_str()).collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(listed[0].record, "{\"changed\":true}");
        assert!(store.delete_mapping("a", 2).await.unwrap());
        assert!(store.get_mapping("a").await.unwrap().is_none());
        // Survives a reopen.
        drop(store);
        let store = SqliteStore::open_in(dir.path()).unwrap();
        assert_eq!(store.list_mappings().await.unwrap().len(), 1);
    }
}
