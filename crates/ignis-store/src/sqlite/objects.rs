//! [`ObjectStore`] on SQLite: each method one transaction on the
//! connection [`SqliteStore`] holds (tables of the `objects` migration).

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::{query_err, SqliteStore};
use crate::objects::{
    BucketDeleted, BucketRow, Completed, NewObjectEvent, ObjectEvent, ObjectRow, ObjectStore,
    PartRow, UploadRow, Written,
};
use crate::store::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

const OBJECT_COLS: &str = "bucket, key, file, size, etag, modified_ms, meta";

fn object_row(row: &Row<'_>) -> rusqlite::Result<ObjectRow> {
    Ok(ObjectRow {
        bucket: row.get(0)?,
        key: row.get(1)?,
        file: row.get(2)?,
        size: row.get::<_, i64>(3)? as u64,
        etag: row.get(4)?,
        modified_ms: row.get(5)?,
        meta: row.get(6)?,
    })
}

const UPLOAD_COLS: &str = "upload_id, bucket, key, meta, initiated_ms";

fn upload_row(row: &Row<'_>) -> rusqlite::Result<UploadRow> {
    Ok(UploadRow {
        upload_id: row.get(0)?,
        bucket: row.get(1)?,
        key: row.get(2)?,
        meta: row.get(3)?,
        initiated_ms: row.get(4)?,
    })
}

const PART_COLS: &str = "upload_id, part_number, file, size, etag, modified_ms, meta";

fn part_row(row: &Row<'_>) -> rusqlite::Result<PartRow> {
    Ok(PartRow {
        upload_id: row.get(0)?,
        part_number: row.get(1)?,
        file: row.get(2)?,
        size: row.get::<_, i64>(3)? as u64,
        etag: row.get(4)?,
        modified_ms: row.get(5)?,
        meta: row.get(6)?,
    })
}

fn bucket_exists(tx: &Transaction<'_>, op: &'static str, name: &str) -> Result<bool> {
    tx.query_row("SELECT 1 FROM s3_buckets WHERE name = ?1", [name], |_| {
        Ok(())
    })
    .optional()
    .map(|r| r.is_some())
    .map_err(query_err(op))
}

fn get_object(
    tx: &Transaction<'_>,
    op: &'static str,
    bucket: &str,
    key: &str,
) -> Result<Option<ObjectRow>> {
    tx.query_row(
        &format!("SELECT {OBJECT_COLS} FROM s3_objects WHERE bucket = ?1 AND key = ?2"),
        [bucket, key],
        object_row,
    )
    .optional()
    .map_err(query_err(op))
}

fn write_object(tx: &Transaction<'_>, op: &'static str, row: &ObjectRow) -> Result<()> {
    tx.execute(
        &format!(
            "INSERT OR REPLACE INTO s3_objects ({OBJECT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ),
        params![
            row.bucket,
            row.key,
            row.file,
            row.size as i64,
            row.etag,
            row.modified_ms,
            row.meta
        ],
    )
    .map_err(query_err(op))?;
    Ok(())
}

fn insert_events(tx: &Transaction<'_>, op: &'static str, events: &[NewObjectEvent]) -> Result<()> {
    let now = now_ms();
    for e in events {
        tx.execute(
            "INSERT INTO s3_events (target, payload, not_before_ms) VALUES (?1, ?2, ?3)",
            params![e.target, e.payload, now],
        )
        .map_err(query_err(op))?;
    }
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The smallest string greater than every string starting with `prefix`
/// (`None`: no bound), for a range scan on the key index.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (last as u32 + 1..=0x10FFFF).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[async_trait::async_trait]
impl ObjectStore for SqliteStore {
    async fn create_bucket(&self, bucket: BucketRow) -> Result<bool> {
        self.tx("create bucket", move |tx| {
            let n = tx
                .execute(
                    "INSERT OR IGNORE INTO s3_buckets (name, region, created_ms) VALUES (?1, ?2, ?3)",
                    params![bucket.name, bucket.region, bucket.created_ms],
                )
                .map_err(query_err("create bucket"))?;
            Ok(n == 1)
        })
        .await
    }

    async fn bucket(&self, name: &str) -> Result<Option<BucketRow>> {
        let name = name.to_string();
        self.tx("read bucket", move |tx| {
            tx.query_row(
                "SELECT name, region, created_ms FROM s3_buckets WHERE name = ?1",
                [name],
                |r| {
                    Ok(BucketRow {
                        name: r.get(0)?,
                        region: r.get(1)?,
                        created_ms: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(query_err("read bucket"))
        })
        .await
    }

    async fn buckets(&self) -> Result<Vec<BucketRow>> {
        self.tx("list buckets", move |tx| {
            let mut stmt = tx
                .prepare("SELECT name, region, created_ms FROM s3_buckets ORDER BY name")
                .map_err(query_err("list buckets"))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(BucketRow {
                        name: r.get(0)?,
                        region: r.get(1)?,
                        created_ms: r.get(2)?,
                    })
                })
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(query_err("list buckets"))?;
            Ok(rows)
        })
        .await
    }

    async fn delete_bucket(&self, name: &str) -> Result<BucketDeleted> {
        let name = name.to_string();
        self.tx("delete bucket", move |tx| {
            let op = "delete bucket";
            if !bucket_exists(tx, op, &name)? {
                return Ok(BucketDeleted::NoSuchBucket);
            }
            let used: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM s3_objects WHERE bucket = ?1)
                         OR EXISTS (SELECT 1 FROM s3_uploads WHERE bucket = ?1)",
                    [&name],
                    |r| r.get(0),
                )
                .map_err(query_err(op))?;
            if used {
                return Ok(BucketDeleted::NotEmpty);
            }
            tx.execute("DELETE FROM s3_bucket_settings WHERE bucket = ?1", [&name])
                .map_err(query_err(op))?;
            tx.execute("DELETE FROM s3_buckets WHERE name = ?1", [&name])
                .map_err(query_err(op))?;
            Ok(BucketDeleted::Deleted)
        })
        .await
    }

    async fn bucket_setting(&self, bucket: &str, name: &str) -> Result<Option<String>> {
        let (bucket, name) = (bucket.to_string(), name.to_string());
        self.tx("read bucket setting", move |tx| {
            tx.query_row(
                "SELECT value FROM s3_bucket_settings WHERE bucket = ?1 AND name = ?2",
                [bucket, name],
                |r| r.get(0),
            )
            .optional()
            .map_err(query_err("read bucket setting"))
        })
        .await
    }

    async fn set_bucket_setting(
        &self,
        bucket: &str,
        name: &str,
        value: Option<String>,
    ) -> Result<bool> {
        let (bucket, name) = (bucket.to_string(), name.to_string());
        self.tx("write bucket setting", move |tx| {
            let op = "write bucket setting";
            if !bucket_exists(tx, op, &bucket)? {
                return Ok(false);
            }
            match value {
                Some(v) => tx.execute(
                    "INSERT OR REPLACE INTO s3_bucket_settings (bucket, name, value) VALUES (?1, ?2, ?3)",
                    params![bucket, name, v],
                ),
                None => tx.execute(
                    "DELETE FROM s3_bucket_settings WHERE bucket = ?1 AND name = ?2",
                    params![bucket, name],
                ),
            }
            .map_err(query_err(op))?;
            Ok(true)
        })
        .await
    }

    async fn add_object_events(&self, bucket: &str, events: Vec<NewObjectEvent>) -> Result<bool> {
        let bucket = bucket.to_string();
        self.tx("write object events", move |tx| {
            let op = "write object events";
            if !bucket_exists(tx, op, &bucket)? {
                return Ok(false);
            }
            insert_events(tx, op, &events)?;
            Ok(true)
        })
        .await
    }

    async fn put_object(&self, row: ObjectRow, events: Vec<NewObjectEvent>) -> Result<Written> {
        self.tx("write object", move |tx| {
            let op = "write object";
            if !bucket_exists(tx, op, &row.bucket)? {
                return Ok(Written::NoSuchBucket);
            }
            let replaced = get_object(tx, op, &row.bucket, &row.key)?.map(|o| o.file);
            write_object(tx, op, &row)?;
            insert_events(tx, op, &events)?;
            Ok(Written::Done { replaced })
        })
        .await
    }

    async fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRow>> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.tx("read object", move |tx| {
            get_object(tx, "read object", &bucket, &key)
        })
        .await
    }

    async fn set_object_meta(&self, bucket: &str, key: &str, meta: String) -> Result<bool> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.tx("write object meta", move |tx| {
            let n = tx
                .execute(
                    "UPDATE s3_objects SET meta = ?3 WHERE bucket = ?1 AND key = ?2",
                    params![bucket, key, meta],
                )
                .map_err(query_err("write object meta"))?;
            Ok(n == 1)
        })
        .await
    }

    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        events: Vec<NewObjectEvent>,
    ) -> Result<Option<ObjectRow>> {
        self.delete_object_where(bucket, key, None, events).await
    }

    async fn delete_object_named(
        &self,
        bucket: &str,
        key: &str,
        file: &str,
        events: Vec<NewObjectEvent>,
    ) -> Result<Option<ObjectRow>> {
        self.delete_object_where(bucket, key, Some(file.to_string()), events)
            .await
    }

    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectRow>> {
        let (bucket, prefix) = (bucket.to_string(), prefix.to_string());
        let after = after.map(str::to_string);
        self.tx("list objects", move |tx| {
            let op = "list objects";
            // Keys from `prefix` (or just after `after`) up to the prefix's end.
            let lower = match &after {
                Some(a) if a.as_str() >= prefix.as_str() => a.clone(),
                _ => prefix.clone(),
            };
            let strict = after.as_deref().is_some_and(|a| a >= prefix.as_str());
            let upper = prefix_end(&prefix);
            let sql = format!(
                "SELECT {OBJECT_COLS} FROM s3_objects WHERE bucket = ?1 AND key {} ?2
                 AND (?3 IS NULL OR key < ?3) ORDER BY key LIMIT ?4",
                if strict { ">" } else { ">=" }
            );
            let mut stmt = tx.prepare_cached(&sql).map_err(query_err(op))?;
            let rows = stmt
                .query_map(
                    params![
                        bucket,
                        lower,
                        upper,
                        i64::try_from(limit).unwrap_or(i64::MAX)
                    ],
                    object_row,
                )
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(query_err(op))?;
            Ok(rows)
        })
        .await
    }

    async fn create_upload(&self, upload: UploadRow) -> Result<bool> {
        self.tx("create upload", move |tx| {
            let op = "create upload";
            if !bucket_exists(tx, op, &upload.bucket)? {
                return Ok(false);
            }
            tx.execute(
                &format!("INSERT INTO s3_uploads ({UPLOAD_COLS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
                params![
                    upload.upload_id,
                    upload.bucket,
                    upload.key,
                    upload.meta,
                    upload.initiated_ms
                ],
            )
            .map_err(query_err(op))?;
            Ok(true)
        })
        .await
    }

    async fn upload(&self, upload_id: &str) -> Result<Option<UploadRow>> {
        let id = upload_id.to_string();
        self.tx("read upload", move |tx| {
            tx.query_row(
                &format!("SELECT {UPLOAD_COLS} FROM s3_uploads WHERE upload_id = ?1"),
                [id],
                upload_row,
            )
            .optional()
            .map_err(query_err("read upload"))
        })
        .await
    }

    async fn uploads(&self, bucket: &str) -> Result<Vec<UploadRow>> {
        let bucket = bucket.to_string();
        self.tx("list uploads", move |tx| {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT {UPLOAD_COLS} FROM s3_uploads WHERE bucket = ?1 ORDER BY key, initiated_ms"
                ))
                .map_err(query_err("list uploads"))?;
            let rows = stmt
                .query_map([bucket], upload_row)
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(query_err("list uploads"))?;
            Ok(rows)
        })
        .await
    }

    async fn put_part(&self, part: PartRow) -> Result<Option<Option<String>>> {
        self.tx("write part", move |tx| {
            let op = "write part";
            let exists = tx
                .query_row(
                    "SELECT 1 FROM s3_uploads WHERE upload_id = ?1",
                    [&part.upload_id],
                    |_| Ok(()),
                )
                .optional()
                .map_err(query_err(op))?
                .is_some();
            if !exists {
                return Ok(None);
            }
            let replaced: Option<String> = tx
                .query_row(
                    "SELECT file FROM s3_parts WHERE upload_id = ?1 AND part_number = ?2",
                    params![part.upload_id, part.part_number],
                    |r| r.get(0),
                )
                .optional()
                .map_err(query_err(op))?;
            tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO s3_parts ({PART_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                params![
                    part.upload_id,
                    part.part_number,
                    part.file,
                    part.size as i64,
                    part.etag,
                    part.modified_ms,
                    part.meta
                ],
            )
            .map_err(query_err(op))?;
            Ok(Some(replaced))
        })
        .await
    }

    async fn parts(&self, upload_id: &str) -> Result<Vec<PartRow>> {
        let id = upload_id.to_string();
        self.tx("list parts", move |tx| {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT {PART_COLS} FROM s3_parts WHERE upload_id = ?1 ORDER BY part_number"
                ))
                .map_err(query_err("list parts"))?;
            let rows = stmt
                .query_map([id], part_row)
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(query_err("list parts"))?;
            Ok(rows)
        })
        .await
    }

    async fn complete_upload(
        &self,
        upload_id: &str,
        row: ObjectRow,
        events: Vec<NewObjectEvent>,
    ) -> Result<Completed> {
        let id = upload_id.to_string();
        self.tx("complete upload", move |tx| {
            let op = "complete upload";
            let exists = tx
                .query_row(
                    "SELECT 1 FROM s3_uploads WHERE upload_id = ?1",
                    [&id],
                    |_| Ok(()),
                )
                .optional()
                .map_err(query_err(op))?
                .is_some();
            if !exists {
                return Ok(Completed::NoSuchUpload);
            }
            let mut unnamed: Vec<String> = {
                let mut stmt = tx
                    .prepare("SELECT file FROM s3_parts WHERE upload_id = ?1")
                    .map_err(query_err(op))?;
                let files = stmt
                    .query_map([&id], |r| r.get(0))
                    .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
                    .map_err(query_err(op))?;
                files
            };
            if let Some(old) = get_object(tx, op, &row.bucket, &row.key)? {
                unnamed.push(old.file);
            }
            unnamed.retain(|f| *f != row.file);
            tx.execute("DELETE FROM s3_parts WHERE upload_id = ?1", [&id])
                .map_err(query_err(op))?;
            tx.execute("DELETE FROM s3_uploads WHERE upload_id = ?1", [&id])
                .map_err(query_err(op))?;
            write_object(tx, op, &row)?;
            insert_events(tx, op, &events)?;
            Ok(Completed::Done { unnamed })
        })
        .await
    }

    async fn abort_upload(&self, upload_id: &str) -> Result<Option<Vec<String>>> {
        let id = upload_id.to_string();
        self.tx("abort upload", move |tx| {
            let op = "abort upload";
            let n = tx
                .execute("DELETE FROM s3_uploads WHERE upload_id = ?1", [&id])
                .map_err(query_err(op))?;
            if n == 0 {
                return Ok(None);
            }
            let files = {
                let mut stmt = tx
                    .prepare("SELECT file FROM s3_parts WHERE upload_id = ?1")
                    .map_err(query_err(op))?;
                let files = stmt
                    .query_map([&id], |r| r.get(0))
                    .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
                    .map_err(query_err(op))?;
                files
            };
            tx.execute("DELETE FROM s3_parts WHERE upload_id = ?1", [&id])
                .map_err(query_err(op))?;
            Ok(Some(files))
        })
        .await
    }

    async fn bucket_files(&self, bucket: &str) -> Result<Vec<String>> {
        let bucket = bucket.to_string();
        self.tx("list files", move |tx| {
            let mut stmt = tx
                .prepare(
                    "SELECT file FROM s3_objects WHERE bucket = ?1
                     UNION ALL
                     SELECT p.file FROM s3_parts p JOIN s3_uploads u ON u.upload_id = p.upload_id
                     WHERE u.bucket = ?1",
                )
                .map_err(query_err("list files"))?;
            let files = stmt
                .query_map([bucket], |r| r.get(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
                .map_err(query_err("list files"))?;
            Ok(files)
        })
        .await
    }

    async fn claim_object_events(
        &self,
        owner: &str,
        limit: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<ObjectEvent>> {
        let owner = owner.to_string();
        self.tx("claim object events", move |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE s3_events SET claimed_by = ?1, lease_until_ms = ?2 + ?3
                     WHERE id IN (SELECT id FROM s3_events
                                  WHERE not_before_ms <= ?2
                                    AND (lease_until_ms IS NULL OR lease_until_ms < ?2)
                                  ORDER BY id LIMIT ?4)
                     RETURNING id, target, payload, attempts",
                )
                .map_err(query_err("claim object events"))?;
            let mut rows = stmt
                .query_map(
                    params![
                        owner,
                        now_ms,
                        lease_ms,
                        i64::try_from(limit).unwrap_or(i64::MAX)
                    ],
                    |r| {
                        Ok(ObjectEvent {
                            id: r.get(0)?,
                            target: r.get(1)?,
                            payload: r.get(2)?,
                            attempts: r.get(3)?,
                        })
                    },
                )
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(query_err("claim object events"))?;
            rows.sort_by_key(|e| e.id);
            Ok(rows)
        })
        .await
    }

    async fn finish_object_event(&self, id: i64, owner: &str) -> Result<bool> {
        let owner = owner.to_string();
        self.tx("finish object event", move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM s3_events WHERE id = ?1 AND claimed_by = ?2",
                    params![id, owner],
                )
                .map_err(query_err("finish object event"))?;
            Ok(n == 1)
        })
        .await
    }

    async fn retry_object_event(&self, id: i64, owner: &str, not_before_ms: i64) -> Result<bool> {
        let owner = owner.to_string();
        self.tx("retry object event", move |tx| {
            let n = tx
                .execute(
                    "UPDATE s3_events SET attempts = attempts + 1, not_before_ms = ?3,
                         claimed_by = NULL, lease_until_ms = NULL
                     WHERE id = ?1 AND claimed_by = ?2",
                    params![id, owner, not_before_ms],
                )
                .map_err(query_err("retry object event"))?;
            Ok(n == 1)
        })
        .await
    }

    async fn release_object_event_claims(&self) -> Result<u64> {
        self.tx("release object events", move |tx| {
            let n = tx
                .execute(
                    "UPDATE s3_events SET claimed_by = NULL, lease_until_ms = NULL
                     WHERE claimed_by IS NOT NULL",
                    [],
                )
                .map_err(query_err("release object events"))?;
            Ok(n as u64)
        })
        .await
    }

    async fn pending_object_events(&self) -> Result<u64> {
        self.tx("count object events", move |tx| {
            let n: i64 = tx
                .query_row("SELECT COUNT(*) FROM s3_events", [], |r| r.get(0))
                .map_err(query_err("count object events"))?;
            Ok(n as u64)
        })
        .await
    }
}

impl SqliteStore {
    /// Deletes an object's row (if it names `file`, when given).
    async fn delete_object_where(
        &self,
        bucket: &str,
        key: &str,
        file: Option<String>,
        events: Vec<NewObjectEvent>,
    ) -> Result<Option<ObjectRow>> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.tx("delete object", move |tx| {
            let op = "delete object";
            let Some(row) = get_object(tx, op, &bucket, &key)? else {
                return Ok(None);
            };
            if file.as_ref().is_some_and(|f| *f != row.file) {
                return Ok(None);
            }
            tx.execute(
                "DELETE FROM s3_objects WHERE bucket = ?1 AND key = ?2",
                [&bucket, &key],
            )
            .map_err(query_err(op))?;
            insert_events(tx, op, &events)?;
            Ok(Some(row))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_in(dir.path()).unwrap();
        (dir, store)
    }

    fn obj(key: &str) -> ObjectRow {
        ObjectRow {
            bucket: "b".into(),
            key: key.into(),
            file: format!("f-{key}"),
            size: 1,
            etag: "\"e\"".into(),
            modified_ms: 1,
            meta: "{}".into(),
        }
    }

    #[test]
    fn prefix_end_is_the_next_string() {
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
    }

    #[tokio::test]
    async fn objects_list_in_utf8_byte_order_within_a_prefix() {
        let (_d, s) = store();
        assert!(s
            .create_bucket(BucketRow {
                name: "b".into(),
                region: "us-east-1".into(),
                created_ms: 1
            })
            .await
            .unwrap());
        for k in ["a/2", "a/10", "a/é", "a/z", "b", "a"] {
            s.put_object(obj(k), vec![]).await.unwrap();
        }
        let keys = |rows: Vec<ObjectRow>| rows.into_iter().map(|r| r.key).collect::<Vec<_>>();
        assert_eq!(
            keys(s.list_objects("b", "a/", None, 100).await.unwrap()),
            ["a/10", "a/2", "a/z", "a/é"]
        );
        assert_eq!(
            keys(s.list_objects("b", "a/", Some("a/2"), 1).await.unwrap()),
            ["a/z"]
        );
        assert_eq!(
            keys(s.list_objects("b", "", Some("a/z"), 100).await.unwrap()),
            ["a/é", "b"]
        );
        assert_eq!(s.delete_bucket("b").await.unwrap(), BucketDeleted::NotEmpty);
    }

    #[tokio::test]
    async fn a_named_delete_spares_an_object_written_since() {
        let (_d, s) = store();
        s.create_bucket(BucketRow {
            name: "b".into(),
            region: "us-east-1".into(),
            created_ms: 1,
        })
        .await
        .unwrap();
        s.put_object(obj("k"), vec![]).await.unwrap();
        let event = NewObjectEvent {
            target: "t".into(),
            payload: "p".into(),
        };
        let stale = s
            .delete_object_named("b", "k", "f-older", vec![event.clone()])
            .await
            .unwrap();
        assert_eq!(stale, None);
        assert!(s.object("b", "k").await.unwrap().is_some());
        assert_eq!(
            s.pending_object_events().await.unwrap(),
            0,
            "no event either"
        );
        let gone = s
            .delete_object_named("b", "k", "f-k", vec![event])
            .await
            .unwrap();
        assert_eq!(gone.map(|r| r.file).as_deref(), Some("f-k"));
        assert_eq!(s.object("b", "k").await.unwrap(), None);
        assert_eq!(s.pending_object_events().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_write_and_its_events_are_one_transaction() {
        let (_d, s) = store();
        let ev = NewObjectEvent {
            target: "arn:aws:sqs:us-east-1:000000000000:q".into(),
            payload: "{}".into(),
        };
        assert_eq!(
            s.put_object(obj("k"), vec![ev.clone()]).await.unwrap(),
            Written::NoSuchBucket
        );
        assert_eq!(s.pending_object_events().await.unwrap(), 0);
        s.create_bucket(BucketRow {
            name: "b".into(),
            region: "us-east-1".into(),
            created_ms: 1,
        })
        .await
        .unwrap();
        s.put_object(obj("k"), vec![ev]).await.unwrap();
        let now = now_ms();
        let claimed = s.claim_object_events("me", 10, now, 60_000).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert!(s
            .claim_object_events("other", 10, now + 1, 60_000)
            .await
            .unwrap()
            .is_empty());
        assert!(!s.finish_object_event(claimed[0].id, "other").await.unwrap());
        assert!(s.finish_object_event(claimed[0].id, "me").await.unwrap());
        assert_eq!(s.pending_object_events().await.unwrap(), 0);
    }
}
