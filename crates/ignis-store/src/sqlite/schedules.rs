//! [`ScheduleStore`] on SQLite: each method one transaction (tables of the
//! schedules migration).

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::{query_err, SqliteStore};
use crate::schedules::{Firing, PutSchedule, ScheduleGroupRow, ScheduleRow, ScheduleStore};
use crate::store::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

fn encode_tags(tags: &[(String, String)]) -> Result<String> {
    serde_json::to_string(tags).map_err(|source| StoreError::Encode {
        name: "schedule group tags".into(),
        source,
    })
}

fn group_row(row: &Row<'_>) -> rusqlite::Result<ScheduleGroupRow> {
    let tags: String = row.get(1)?;
    Ok(ScheduleGroupRow {
        name: row.get(0)?,
        tags: serde_json::from_str(&tags).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into())
        })?,
        created_ms: row.get(2)?,
        modified_ms: row.get(3)?,
    })
}

const GROUP_COLS: &str = "name, tags, created_ms, modified_ms";
const SCHEDULE_COLS: &str =
    "group_name, name, definition, enabled, next_tick_ms, created_ms, modified_ms";

fn schedule_row(row: &Row<'_>) -> rusqlite::Result<ScheduleRow> {
    Ok(ScheduleRow {
        group: row.get(0)?,
        name: row.get(1)?,
        definition: row.get(2)?,
        enabled: row.get(3)?,
        next_tick_ms: row.get(4)?,
        created_ms: row.get(5)?,
        modified_ms: row.get(6)?,
    })
}

fn group_exists(tx: &Transaction<'_>, op: &'static str, name: &str) -> Result<bool> {
    tx.query_row(
        "SELECT 1 FROM schedule_groups WHERE name = ?1",
        [name],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
    .map_err(query_err(op))
}

#[async_trait::async_trait]
impl ScheduleStore for SqliteStore {
    async fn create_schedule_group(&self, group: ScheduleGroupRow) -> Result<bool> {
        const OP: &str = "create a schedule group";
        let tags = encode_tags(&group.tags)?;
        self.tx(OP, move |tx| {
            let n = tx
                .execute(
                    "INSERT OR IGNORE INTO schedule_groups (name, tags, created_ms, modified_ms)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![group.name, tags, group.created_ms, group.modified_ms],
                )
                .map_err(query_err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn schedule_group(&self, name: &str) -> Result<Option<ScheduleGroupRow>> {
        const OP: &str = "read a schedule group";
        let name = name.to_owned();
        self.tx(OP, move |tx| {
            tx.query_row(
                &format!("SELECT {GROUP_COLS} FROM schedule_groups WHERE name = ?1"),
                [name],
                group_row,
            )
            .optional()
            .map_err(query_err(OP))
        })
        .await
    }

    async fn list_schedule_groups(&self) -> Result<Vec<ScheduleGroupRow>> {
        const OP: &str = "list schedule groups";
        self.tx(OP, move |tx| {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT {GROUP_COLS} FROM schedule_groups ORDER BY name"
                ))
                .map_err(query_err(OP))?;
            let rows = stmt.query_map([], group_row).map_err(query_err(OP))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(query_err(OP))
        })
        .await
    }

    async fn delete_schedule_group(&self, name: &str) -> Result<bool> {
        const OP: &str = "delete a schedule group";
        let name = name.to_owned();
        self.tx(OP, move |tx| {
            tx.execute("DELETE FROM schedules WHERE group_name = ?1", [&name])
                .map_err(query_err(OP))?;
            let n = tx
                .execute("DELETE FROM schedule_groups WHERE name = ?1", [&name])
                .map_err(query_err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn set_schedule_group_tags(
        &self,
        name: &str,
        tags: Vec<(String, String)>,
        now_ms: i64,
    ) -> Result<bool> {
        const OP: &str = "tag a schedule group";
        let name = name.to_owned();
        let tags = encode_tags(&tags)?;
        self.tx(OP, move |tx| {
            let n = tx
                .execute(
                    "UPDATE schedule_groups SET tags = ?2, modified_ms = ?3 WHERE name = ?1",
                    params![name, tags, now_ms],
                )
                .map_err(query_err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn put_schedule(&self, s: ScheduleRow, create: bool) -> Result<PutSchedule> {
        const OP: &str = "write a schedule";
        self.tx(OP, move |tx| {
            if !group_exists(tx, OP, &s.group)? {
                return Ok(PutSchedule::NoGroup);
            }
            let n = if create {
                tx.execute(
                    &format!(
                        "INSERT OR IGNORE INTO schedules ({SCHEDULE_COLS})
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                    ),
                    params![
                        s.group,
                        s.name,
                        s.definition,
                        s.enabled,
                        s.next_tick_ms,
                        s.created_ms,
                        s.modified_ms
                    ],
                )
            } else {
                tx.execute(
                    "UPDATE schedules SET definition = ?3, enabled = ?4, next_tick_ms = ?5,
                     modified_ms = ?6 WHERE group_name = ?1 AND name = ?2",
                    params![
                        s.group,
                        s.name,
                        s.definition,
                        s.enabled,
                        s.next_tick_ms,
                        s.modified_ms
                    ],
                )
            }
            .map_err(query_err(OP))?;
            Ok(match (n, create) {
                (1, _) => PutSchedule::Done,
                (_, true) => PutSchedule::Exists,
                (_, false) => PutSchedule::Missing,
            })
        })
        .await
    }

    async fn schedule(&self, group: &str, name: &str) -> Result<Option<ScheduleRow>> {
        const OP: &str = "read a schedule";
        let (group, name) = (group.to_owned(), name.to_owned());
        self.tx(OP, move |tx| {
            tx.query_row(
                &format!(
                    "SELECT {SCHEDULE_COLS} FROM schedules WHERE group_name = ?1 AND name = ?2"
                ),
                [group, name],
                schedule_row,
            )
            .optional()
            .map_err(query_err(OP))
        })
        .await
    }

    async fn list_schedules(&self, group: Option<&str>) -> Result<Vec<ScheduleRow>> {
        const OP: &str = "list schedules";
        let group = group.map(str::to_owned);
        self.tx(OP, move |tx| {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT {SCHEDULE_COLS} FROM schedules
                     WHERE ?1 IS NULL OR group_name = ?1 ORDER BY group_name, name"
                ))
                .map_err(query_err(OP))?;
            let rows = stmt
                .query_map([group], schedule_row)
                .map_err(query_err(OP))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(query_err(OP))
        })
        .await
    }

    async fn delete_schedule(&self, group: &str, name: &str) -> Result<bool> {
        const OP: &str = "delete a schedule";
        let (group, name) = (group.to_owned(), name.to_owned());
        self.tx(OP, move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM schedules WHERE group_name = ?1 AND name = ?2",
                    [group, name],
                )
                .map_err(query_err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn due_schedules(&self, until_ms: i64) -> Result<Vec<ScheduleRow>> {
        const OP: &str = "find due schedules";
        self.tx(OP, move |tx| {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT {SCHEDULE_COLS} FROM schedules
                     WHERE enabled = 1 AND next_tick_ms <= ?1 ORDER BY next_tick_ms"
                ))
                .map_err(query_err(OP))?;
            let rows = stmt
                .query_map([until_ms], schedule_row)
                .map_err(query_err(OP))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(query_err(OP))
        })
        .await
    }

    async fn claim_tick(
        &self,
        group: &str,
        name: &str,
        tick_ms: i64,
        next_ms: Option<i64>,
        delete: bool,
        firing: &Firing,
    ) -> Result<bool> {
        const OP: &str = "claim a schedule's tick";
        let (group, name) = (group.to_owned(), name.to_owned());
        let firing = firing.clone();
        self.tx(OP, move |tx| {
            let n = if delete {
                tx.execute(
                    "DELETE FROM schedules
                     WHERE group_name = ?1 AND name = ?2 AND next_tick_ms = ?3",
                    params![group, name, tick_ms],
                )
            } else {
                tx.execute(
                    "UPDATE schedules SET next_tick_ms = ?4
                     WHERE group_name = ?1 AND name = ?2 AND next_tick_ms = ?3",
                    params![group, name, tick_ms, next_ms],
                )
            }
            .map_err(query_err(OP))?;
            if n == 1 {
                tx.execute(
                    "INSERT OR REPLACE INTO schedule_firings (schedule_arn, tick_ms, definition)
                     VALUES (?1, ?2, ?3)",
                    params![firing.schedule_arn, firing.tick_ms, firing.definition],
                )
                .map_err(query_err(OP))?;
            }
            Ok(n == 1)
        })
        .await
    }

    async fn finish_firing(&self, schedule_arn: &str, tick_ms: i64) -> Result<()> {
        const OP: &str = "finish a schedule's firing";
        let arn = schedule_arn.to_owned();
        self.tx(OP, move |tx| {
            tx.execute(
                "DELETE FROM schedule_firings WHERE schedule_arn = ?1 AND tick_ms = ?2",
                params![arn, tick_ms],
            )
            .map_err(query_err(OP))?;
            Ok(())
        })
        .await
    }

    async fn pending_firings(&self) -> Result<Vec<Firing>> {
        const OP: &str = "read pending schedule firings";
        self.tx(OP, move |tx| {
            let mut stmt = tx
                .prepare(
                    "SELECT schedule_arn, tick_ms, definition FROM schedule_firings
                     ORDER BY tick_ms",
                )
                .map_err(query_err(OP))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(Firing {
                        schedule_arn: r.get(0)?,
                        tick_ms: r.get(1)?,
                        definition: r.get(2)?,
                    })
                })
                .map_err(query_err(OP))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(query_err(OP))
        })
        .await
    }

    async fn next_schedule_tick(&self) -> Result<Option<i64>> {
        const OP: &str = "find the next schedule tick";
        self.tx(OP, move |tx| {
            tx.query_row(
                "SELECT MIN(next_tick_ms) FROM schedules WHERE enabled = 1",
                [],
                |r| r.get(0),
            )
            .map_err(query_err(OP))
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

    fn schedule(group: &str, name: &str, next: Option<i64>) -> ScheduleRow {
        ScheduleRow {
            group: group.into(),
            name: name.into(),
            definition: "{}".into(),
            enabled: true,
            next_tick_ms: next,
            created_ms: 1,
            modified_ms: 1,
        }
    }

    #[tokio::test]
    async fn the_default_group_exists_and_schedules_need_their_group() {
        let (_dir, store) = store();
        assert!(store.schedule_group("default").await.unwrap().is_some());
        let put = store
            .put_schedule(schedule("nope", "s", Some(5)), true)
            .await
            .unwrap();
        assert_eq!(put, PutSchedule::NoGroup);
        let put = store
            .put_schedule(schedule("default", "s", Some(5)), false)
            .await
            .unwrap();
        assert_eq!(put, PutSchedule::Missing);
        let put = store
            .put_schedule(schedule("default", "s", Some(5)), true)
            .await
            .unwrap();
        assert_eq!(put, PutSchedule::Done);
        let put = store
            .put_schedule(schedule("default", "s", Some(5)), true)
            .await
            .unwrap();
        assert_eq!(put, PutSchedule::Exists);
    }

    #[tokio::test]
    async fn a_tick_is_claimed_once() {
        let (_dir, store) = store();
        store
            .put_schedule(schedule("default", "s", Some(1_000)), true)
            .await
            .unwrap();
        assert_eq!(store.due_schedules(999).await.unwrap().len(), 0);
        assert_eq!(store.due_schedules(1_000).await.unwrap().len(), 1);
        assert_eq!(store.next_schedule_tick().await.unwrap(), Some(1_000));
        // Two claimants of the same tick: the first wins, the second finds
        // the tick moved.
        assert!(store
            .claim_tick("default", "s", 1_000, Some(2_000), false, &firing(1_000))
            .await
            .unwrap());
        assert!(!store
            .claim_tick("default", "s", 1_000, Some(2_000), false, &firing(1_000))
            .await
            .unwrap());
        assert_eq!(store.due_schedules(1_999).await.unwrap().len(), 0);
        // A last tick with deletion removes the schedule, once.
        assert!(store
            .claim_tick("default", "s", 2_000, None, true, &firing(2_000))
            .await
            .unwrap());
        assert!(!store
            .claim_tick("default", "s", 2_000, None, true, &firing(2_000))
            .await
            .unwrap());
        assert!(store.schedule("default", "s").await.unwrap().is_none());
        // Each won tick is pending until finished.
        let pending = store.pending_firings().await.unwrap();
        assert_eq!(pending, vec![firing(1_000), firing(2_000)]);
        store.finish_firing("arn:s", 1_000).await.unwrap();
        assert_eq!(store.pending_firings().await.unwrap(), vec![firing(2_000)]);
    }

    fn firing(tick_ms: i64) -> Firing {
        Firing {
            schedule_arn: "arn:s".into(),
            tick_ms,
            definition: "{}".into(),
        }
    }

    #[tokio::test]
    async fn deleting_a_group_deletes_its_schedules() {
        let (_dir, store) = store();
        let group = ScheduleGroupRow {
            name: "g".into(),
            tags: vec![("k".into(), "v".into())],
            created_ms: 1,
            modified_ms: 1,
        };
        assert!(store.create_schedule_group(group.clone()).await.unwrap());
        assert!(!store.create_schedule_group(group).await.unwrap());
        store
            .put_schedule(schedule("g", "a", Some(1)), true)
            .await
            .unwrap();
        store
            .put_schedule(schedule("default", "b", Some(1)), true)
            .await
            .unwrap();
        assert!(store.delete_schedule_group("g").await.unwrap());
        let left: Vec<_> = store
            .list_schedules(None)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(left, ["b"]);
        assert!(!store.delete_schedule_group("g").await.unwrap());
    }
}
