//! [`SqliteStore`]: the default [`Store`], one SQLite file in WAL mode.
//!
//! The connection is blocking, so every call runs on tokio's blocking pool
//! holding a std mutex around the single connection; the lock is never held
//! across an `.await`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ignis_model::alias::AliasRecord;
use ignis_model::layer::LayerVersionRecord;
use ignis_model::FunctionRecord;
use rusqlite::{params, Connection, OptionalExtension};

use crate::migrations;
use crate::queue::{QueueStats, QueuedEvent};
use crate::store::{Setting, SettingEdit, Store, StoreError, Usage};

mod events_bus;
mod iam;
mod mappings;
mod objects;
mod queue;
mod schedules;
mod sns;
mod sqs;
mod versions;

/// The database's file name inside the data directory.
pub const DB_FILE: &str = "ignis.db";

/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Function records in one SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, switches it to
    /// WAL mode and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |source: rusqlite::Error| StoreError::Open {
            path: path.to_path_buf(),
            source: source.into(),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Open {
                path: path.to_path_buf(),
                source: source.into(),
            })?;
        }
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                source: format!("the database refused WAL mode (journal mode is {mode})").into(),
            });
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        migrations::migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Opens `<data_dir>/ignis.db`, see [`SqliteStore::open`].
    pub fn open_in(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open(&data_dir.join(DB_FILE))
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with_conn<T, F>(&self, op: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic mid-call leaves no open transaction behind (dropping a
            // rusqlite Transaction rolls it back), so a poisoned lock is usable.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn)
        })
        .await
        .map_err(|source| StoreError::Task { op, source })?
    }
}

impl SqliteStore {
    /// Runs `f` in one transaction on the blocking pool, holding the
    /// connection's lock (never across an `.await`); commits on `Ok`, rolls
    /// back otherwise. The services' stores (SQS, SNS, EventBridge,
    /// schedules, objects) each run their methods through it.
    pub(crate) async fn tx<T, F>(&self, op: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            let tx = conn.transaction().map_err(query_err(op))?;
            let out = f(&tx)?;
            tx.commit().map_err(query_err(op))?;
            Ok(out)
        })
        .await
        .map_err(|source| StoreError::Task { op, source })?
    }
}

fn query_err(op: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Query {
        op,
        source: source.into(),
    }
}

fn encode(f: &FunctionRecord) -> Result<String, StoreError> {
    serde_json::to_string(f).map_err(|source| StoreError::Encode {
        name: format!("function {}", f.name),
        source,
    })
}

fn decode(name: &str, record: &str) -> Result<FunctionRecord, StoreError> {
    serde_json::from_str(record).map_err(|source| StoreError::CorruptRecord {
        name: format!("function {name}"),
        source,
    })
}

/// Runs `sql` (an INSERT or UPDATE of one function's row) with the row's
/// columns as `?1`–`?6`: name, revision, code digest, code size, the
/// encoded `record`, layer digests. Returns the rows changed.
fn write_row(
    conn: &Connection,
    op: &'static str,
    sql: &str,
    f: &FunctionRecord,
    record: &str,
) -> Result<usize, StoreError> {
    conn.execute(
        sql,
        params![
            f.name,
            f.revision_id,
            f.code.sha256_hex,
            to_sql_size(f.code.size),
            record,
            layer_code(f)
        ],
    )
    .map_err(query_err(op))
}

/// Function `name`'s stored record, if it exists (at `revision`, when one
/// is given), read inside the caller's transaction.
fn stored(
    tx: &rusqlite::Transaction<'_>,
    op: &'static str,
    name: &str,
    revision: Option<&str>,
) -> Result<Option<FunctionRecord>, StoreError> {
    let record: Option<String> = tx
        .query_row(
            "SELECT record FROM functions WHERE name = ?1 AND (?2 IS NULL OR revision_id = ?2)",
            params![name, revision],
            |row| row.get(0),
        )
        .optional()
        .map_err(query_err(op))?;
    record.map(|r| decode(name, &r)).transpose()
}

/// The `layer_code` column: the function's layer digests, space-separated.
fn layer_code(f: &FunctionRecord) -> String {
    f.layers
        .iter()
        .map(|l| l.code.sha256_hex.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sizes are far below `i64::MAX`; saturate rather than fail if not.
fn to_sql_size(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn create_function(&self, f: &FunctionRecord) -> Result<(), StoreError> {
        const OP: &str = "create a function";
        let record = encode(f)?;
        let f = f.clone();
        self.with_conn(OP, move |conn| {
            let inserted = write_row(
                conn,
                OP,
                "INSERT INTO functions (name, revision_id, code_sha256_hex, code_size, record, layer_code)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO NOTHING",
                &f,
                &record,
            )?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists(f.name));
            }
            Ok(())
        })
        .await
    }

    async fn get_function(&self, name: &str) -> Result<Option<FunctionRecord>, StoreError> {
        const OP: &str = "get a function";
        let name = name.to_string();
        self.with_conn(OP, move |conn| {
            let record: Option<String> = conn
                .query_row(
                    "SELECT record FROM functions WHERE name = ?1",
                    [&name],
                    |row| row.get(0),
                )
                .optional()
                .map_err(query_err(OP))?;
            record.map(|r| decode(&name, &r)).transpose()
        })
        .await
    }

    async fn list_functions(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FunctionRecord>, StoreError> {
        const OP: &str = "list functions";
        let after = after.map(str::to_string);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(OP, move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT name, record FROM functions
                     WHERE ?1 IS NULL OR name > ?1 ORDER BY name LIMIT ?2",
                )
                .map_err(query_err(OP))?;
            let rows = stmt
                .query_map(params![after, limit], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(query_err(OP))?;
            rows.map(|row| {
                let (name, record) = row.map_err(query_err(OP))?;
                decode(&name, &record)
            })
            .collect()
        })
        .await
    }

    async fn update_function(
        &self,
        f: &FunctionRecord,
        expected_revision: &str,
    ) -> Result<(), StoreError> {
        const OP: &str = "update a function";
        let mut f = f.clone();
        let expected = expected_revision.to_string();
        self.with_conn(OP, move |conn| {
            let tx = conn.transaction().map_err(query_err(OP))?;
            let Some(current) = stored(&tx, OP, &f.name, Some(&expected))? else {
                let exists = tx
                    .query_row("SELECT 1 FROM functions WHERE name = ?1", [&f.name], |_| {
                        Ok(())
                    })
                    .optional()
                    .map_err(query_err(OP))?
                    .is_some();
                return Err(if exists {
                    StoreError::RevisionMismatch { name: f.name }
                } else {
                    StoreError::NotFound(f.name)
                });
            };
            // Tags are not the writer's to change here (see `replace_tags`).
            f.tags = current.tags;
            let record = encode(&f)?;
            write_row(
                &tx,
                OP,
                "UPDATE functions
                 SET revision_id = ?2, code_sha256_hex = ?3, code_size = ?4, record = ?5,
                     layer_code = ?6
                 WHERE name = ?1",
                &f,
                &record,
            )?;
            tx.commit().map_err(query_err(OP))
        })
        .await
    }

    async fn replace_tags(
        &self,
        name: &str,
        expected: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        const OP: &str = "tag a function";
        let (name, expected, tags) = (name.to_string(), expected.clone(), tags.clone());
        self.with_conn(OP, move |conn| {
            let tx = conn.transaction().map_err(query_err(OP))?;
            let Some(mut record) = stored(&tx, OP, &name, None)? else {
                return Err(StoreError::NotFound(name));
            };
            if record.tags != expected {
                return Err(StoreError::RevisionMismatch { name });
            }
            record.tags = tags;
            tx.execute(
                "UPDATE functions SET record = ?2 WHERE name = ?1",
                params![name, encode(&record)?],
            )
            .map_err(query_err(OP))?;
            tx.commit().map_err(query_err(OP))
        })
        .await
    }

    async fn delete_function(&self, name: &str) -> Result<Option<FunctionRecord>, StoreError> {
        const OP: &str = "delete a function";
        let name = name.to_string();
        self.with_conn(OP, move |conn| {
            let tx = conn.transaction().map_err(query_err(OP))?;
            let record: Option<String> = tx
                .query_row(
                    "DELETE FROM functions WHERE name = ?1 RETURNING record",
                    [&name],
                    |row| row.get(0),
                )
                .optional()
                .map_err(query_err(OP))?;
            let Some(record) = record else {
                return Ok(None);
            };
            // An undecodable row stays (the transaction rolls back) so the
            // error is seen rather than the data silently dropped.
            let f = decode(&name, &record)?;
            versions::delete_all(&tx, &name)?;
            tx.commit().map_err(query_err(OP))?;
            Ok(Some(f))
        })
        .await
    }

    async fn usage(&self) -> Result<Usage, StoreError> {
        const OP: &str = "measure usage";
        self.with_conn(OP, |conn| {
            let (count, total): (i64, i64) = conn
                .query_row(
                    "SELECT COUNT(*), COALESCE(SUM(code_size), 0) FROM functions",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .map_err(query_err(OP))?;
            Ok(Usage {
                function_count: u64::try_from(count).unwrap_or(0),
                total_code_size: u64::try_from(total).unwrap_or(0),
            })
        })
        .await
    }

    async fn referenced_code(&self) -> Result<HashSet<String>, StoreError> {
        const OP: &str = "list referenced code";
        self.with_conn(OP, |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT code_sha256_hex FROM functions
                     UNION SELECT layer_code FROM functions
                     UNION SELECT code_sha256_hex FROM function_versions
                     UNION SELECT layer_code FROM function_versions
                     UNION SELECT code_sha256_hex FROM layer_versions",
                )
                .map_err(query_err(OP))?;
            let rows = stmt
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(query_err(OP))?;
            let mut keep = HashSet::new();
            for row in rows {
                let digests = row.map_err(query_err(OP))?;
                keep.extend(digests.split_whitespace().map(str::to_string));
            }
            Ok(keep)
        })
        .await
    }

    async fn publish_layer_version(
        &self,
        v: &LayerVersionRecord,
    ) -> Result<LayerVersionRecord, StoreError> {
        const OP: &str = "publish a layer version";
        let mut v = v.clone();
        self.with_conn(OP, move |conn| {
            let tx = conn.transaction().map_err(query_err(OP))?;
            let version: i64 = tx
                .query_row(
                    "INSERT INTO layer_names (name, last_version) VALUES (?1, 1)
                     ON CONFLICT (name) DO UPDATE SET last_version = last_version + 1
                     RETURNING last_version",
                    [&v.name],
                    |row| row.get(0),
                )
                .map_err(query_err(OP))?;
            v.version = u64::try_from(version).unwrap_or(0);
            let record = encode_layer(&v)?;
            tx.execute(
                "INSERT INTO layer_versions (name, version, code_sha256_hex, record)
                 VALUES (?1, ?2, ?3, ?4)",
                params![v.name, version, v.code.sha256_hex, record],
            )
            .map_err(query_err(OP))?;
            tx.commit().map_err(query_err(OP))?;
            Ok(v)
        })
        .await
    }

    async fn get_layer_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<LayerVersionRecord>, StoreError> {
        const OP: &str = "get a layer version";
        let name = name.to_string();
        self.with_conn(OP, move |conn| {
            let record: Option<String> = conn
                .query_row(
                    "SELECT record FROM layer_versions WHERE name = ?1 AND version = ?2",
                    params![name, to_sql_size(version)],
                    |row| row.get(0),
                )
                .optional()
                .map_err(query_err(OP))?;
            record.map(|r| decode_layer(&name, version, &r)).transpose()
        })
        .await
    }

    async fn list_layer_versions(&self, name: &str) -> Result<Vec<LayerVersionRecord>, StoreError> {
        const OP: &str = "list layer versions";
        let name = name.to_string();
        self.with_conn(OP, move |conn| {
            select_layers(
                conn,
                OP,
                "SELECT name, version, record FROM layer_versions
                 WHERE name = ?1 ORDER BY version DESC",
                params![name],
            )
        })
        .await
    }

    async fn list_all_layer_versions(&self) -> Result<Vec<LayerVersionRecord>, StoreError> {
        const OP: &str = "list layers";
        self.with_conn(OP, |conn| {
            select_layers(
                conn,
                OP,
                "SELECT name, version, record FROM layer_versions
                 ORDER BY name, version DESC",
                [],
            )
        })
        .await
    }

    async fn delete_layer_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<LayerVersionRecord>, StoreError> {
        const OP: &str = "delete a layer version";
        let name = name.to_string();
        self.with_conn(OP, move |conn| {
            let tx = conn.transaction().map_err(query_err(OP))?;
            let record: Option<String> = tx
                .query_row(
                    "DELETE FROM layer_versions WHERE name = ?1 AND version = ?2 RETURNING record",
                    params![name, to_sql_size(version)],
                    |row| row.get(0),
                )
                .optional()
                .map_err(query_err(OP))?;
            let Some(record) = record else {
                return Ok(None);
            };
            let v = decode_layer(&name, version, &record)?;
            tx.commit().map_err(query_err(OP))?;
            Ok(Some(v))
        })
        .await
    }
    async fn edit_layer_version_policy(
        &self,
        name: &str,
        version: u64,
        edit: SettingEdit,
    ) -> Result<Option<Option<String>>, StoreError> {
        const OP: &str = "change a layer version's policy";
        let name = name.to_string();
        self.with_conn(OP, move |conn| {
            let tx = conn.transaction().map_err(query_err(OP))?;
            let Some(current) = layer_policy(&tx, OP, &name, version)? else {
                return Ok(None);
            };
            let next = edit(current.as_deref()).map_err(StoreError::Refused)?;
            tx.execute(
                "UPDATE layer_versions SET policy = ?3 WHERE name = ?1 AND version = ?2",
                params![name, to_sql_size(version), next],
            )
            .map_err(query_err(OP))?;
            tx.commit().map_err(query_err(OP))?;
            Ok(Some(next))
        })
        .await
    }

    async fn get_layer_version_policy(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<Option<String>>, StoreError> {
        const OP: &str = "read a layer version's policy";
        let name = name.to_string();
        self.with_conn(OP, move |conn| layer_policy(conn, OP, &name, version))
            .await
    }

    async fn publish_version(
        &self,
        candidate: &FunctionRecord,
        latest_revision: &str,
    ) -> Result<(FunctionRecord, bool), StoreError> {
        let (candidate, revision) = (candidate.clone(), latest_revision.to_string());
        self.with_conn("publish a version", move |conn| {
            versions::publish(conn, &candidate, &revision)
        })
        .await
    }

    async fn get_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<FunctionRecord>, StoreError> {
        let name = name.to_string();
        self.with_conn("get a version", move |conn| {
            versions::get(conn, &name, version)
        })
        .await
    }

    async fn list_versions(
        &self,
        name: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<FunctionRecord>, StoreError> {
        let name = name.to_string();
        self.with_conn("list versions", move |conn| {
            versions::list(conn, &name, after, limit)
        })
        .await
    }

    async fn delete_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<FunctionRecord>, StoreError> {
        let name = name.to_string();
        self.with_conn("delete a version", move |conn| {
            versions::delete(conn, &name, version)
        })
        .await
    }

    async fn create_alias(&self, alias: &AliasRecord) -> Result<(), StoreError> {
        let alias = alias.clone();
        self.with_conn("create an alias", move |conn| {
            versions::create_alias(conn, &alias)
        })
        .await
    }

    async fn update_alias(
        &self,
        alias: &AliasRecord,
        expected_revision: &str,
    ) -> Result<(), StoreError> {
        let (alias, expected) = (alias.clone(), expected_revision.to_string());
        self.with_conn("update an alias", move |conn| {
            versions::update_alias(conn, &alias, &expected)
        })
        .await
    }

    async fn get_alias(&self, name: &str, alias: &str) -> Result<Option<AliasRecord>, StoreError> {
        let (name, alias) = (name.to_string(), alias.to_string());
        self.with_conn("get an alias", move |conn| {
            versions::get_alias(conn, &name, &alias)
        })
        .await
    }

    async fn list_aliases(&self, name: &str) -> Result<Vec<AliasRecord>, StoreError> {
        let name = name.to_string();
        self.with_conn("list aliases", move |conn| {
            versions::aliases_of(conn, "list aliases", &name)
        })
        .await
    }

    async fn delete_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<AliasRecord>, StoreError> {
        let (name, alias) = (name.to_string(), alias.to_string());
        self.with_conn("delete an alias", move |conn| {
            versions::delete_alias(conn, &name, &alias)
        })
        .await
    }

    async fn edit_setting(
        &self,
        name: &str,
        qualifier: &str,
        kind: &'static str,
        edit: SettingEdit,
    ) -> Result<Option<String>, StoreError> {
        let (name, qualifier) = (name.to_string(), qualifier.to_string());
        self.with_conn("change a function setting", move |conn| {
            versions::edit_setting(conn, &name, &qualifier, kind, edit)
        })
        .await
    }

    async fn get_setting(
        &self,
        name: &str,
        qualifier: &str,
        kind: &'static str,
    ) -> Result<Option<String>, StoreError> {
        let (name, qualifier) = (name.to_string(), qualifier.to_string());
        self.with_conn("read a function setting", move |conn| {
            versions::get_setting(conn, &name, &qualifier, kind)
        })
        .await
    }

    async fn list_settings(&self, kind: &'static str) -> Result<Vec<Setting>, StoreError> {
        self.with_conn("list function settings", move |conn| {
            versions::list_settings(conn, kind)
        })
        .await
    }

    async fn enqueue_event(&self, event: &QueuedEvent) -> Result<i64, StoreError> {
        let event = event.clone();
        self.with_conn("queue an event", move |conn| queue::enqueue(conn, &event))
            .await
    }

    async fn claim_events(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
        per_function: usize,
        skip: &[String],
    ) -> Result<Vec<QueuedEvent>, StoreError> {
        let owner = owner.to_string();
        let skip = serde_json::to_string(skip).map_err(|source| StoreError::Encode {
            name: "the functions a claim skips".into(),
            source,
        })?;
        self.with_conn("claim queued events", move |conn| {
            queue::claim(
                conn,
                &owner,
                now_ms,
                lease_until_ms,
                limit,
                per_function,
                &skip,
            )
        })
        .await
    }

    async fn renew_event_leases(
        &self,
        owner: &str,
        lease_until_ms: i64,
    ) -> Result<u64, StoreError> {
        let owner = owner.to_string();
        self.with_conn("renew event leases", move |conn| {
            queue::renew(conn, &owner, lease_until_ms)
        })
        .await
    }

    async fn complete_event(
        &self,
        id: i64,
        owner: &str,
        then: Option<&QueuedEvent>,
    ) -> Result<bool, StoreError> {
        let (owner, then) = (owner.to_string(), then.cloned());
        self.with_conn("complete a queued event", move |conn| {
            queue::complete(conn, id, &owner, then.as_ref())
        })
        .await
    }

    async fn reschedule_event(
        &self,
        id: i64,
        owner: &str,
        attempts: u32,
        not_before_ms: i64,
    ) -> Result<bool, StoreError> {
        let owner = owner.to_string();
        self.with_conn("reschedule a queued event", move |conn| {
            queue::reschedule(conn, id, &owner, attempts, not_before_ms)
        })
        .await
    }

    async fn release_event_claims(&self, owner: Option<&str>) -> Result<u64, StoreError> {
        let owner = owner.map(str::to_string);
        self.with_conn("release event claims", move |conn| {
            queue::release(conn, owner.as_deref())
        })
        .await
    }

    async fn next_event_due(&self) -> Result<Option<i64>, StoreError> {
        self.with_conn("read the queue's next due time", |conn| {
            queue::next_due(conn)
        })
        .await
    }

    async fn event_queue_stats(&self, function: &str) -> Result<QueueStats, StoreError> {
        let function = function.to_string();
        self.with_conn("read the queue's backlog", move |conn| {
            queue::stats(conn, &function)
        })
        .await
    }
}

/// The policy of a layer version: `None` without the version.
fn layer_policy(
    conn: &Connection,
    op: &'static str,
    name: &str,
    version: u64,
) -> Result<Option<Option<String>>, StoreError> {
    conn.query_row(
        "SELECT policy FROM layer_versions WHERE name = ?1 AND version = ?2",
        params![name, to_sql_size(version)],
        |row| row.get(0),
    )
    .optional()
    .map_err(query_err(op))
}

fn encode_layer(v: &LayerVersionRecord) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|source| StoreError::Encode {
        name: format!("layer {}:{}", v.name, v.version),
        source,
    })
}

fn decode_layer(name: &str, version: u64, record: &str) -> Result<LayerVersionRecord, StoreError> {
    serde_json::from_str(record).map_err(|source| StoreError::CorruptRecord {
        name: format!("layer {name}:{version}"),
        source,
    })
}

fn select_layers(
    conn: &Connection,
    op: &'static str,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<LayerVersionRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(query_err(op))?;
    let rows = stmt
        .query_map(params, |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .map_err(query_err(op))?;
    rows.map(|row| {
        let (name, version, record) = row.map_err(query_err(op))?;
        decode_layer(&name, u64::try_from(version).unwrap_or(0), &record)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use ignis_model::function::CodeRef;
    use ignis_test_support::function;

    use super::*;

    fn open_temp() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_in(dir.path()).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn create_get_delete() {
        let (_dir, store) = open_temp();
        let f = function("hello").code("aa", 10).build();
        store.create_function(&f).await.unwrap();
        assert_eq!(store.get_function("hello").await.unwrap(), Some(f.clone()));
        assert_eq!(store.get_function("nope").await.unwrap(), None);

        let again = store
            .create_function(&function("hello").revision("r9").code("bb", 1).build())
            .await;
        assert!(matches!(again, Err(StoreError::AlreadyExists(ref n)) if n == "hello"));
        assert_eq!(store.get_function("hello").await.unwrap(), Some(f.clone()));

        assert_eq!(store.delete_function("hello").await.unwrap(), Some(f));
        assert_eq!(store.delete_function("hello").await.unwrap(), None);
        assert_eq!(store.get_function("hello").await.unwrap(), None);
    }

    #[tokio::test]
    async fn update_is_compare_and_swap() {
        let (_dir, store) = open_temp();
        store
            .create_function(&function("f").code("aa", 10).build())
            .await
            .unwrap();

        let v2 = function("f").revision("r2").code("bb", 20).build();
        store.update_function(&v2, "r1").await.unwrap();
        assert_eq!(store.get_function("f").await.unwrap(), Some(v2.clone()));

        // A writer still holding r1 loses.
        let stale = function("f").revision("r3").code("cc", 30).build();
        let err = store.update_function(&stale, "r1").await.unwrap_err();
        assert!(
            matches!(err, StoreError::RevisionMismatch { ref name } if name == "f"),
            "{err}"
        );
        assert_eq!(store.get_function("f").await.unwrap(), Some(v2));
        assert_eq!(
            store.referenced_code().await.unwrap(),
            HashSet::from(["bb".to_string()])
        );

        let missing = store
            .update_function(&function("g").revision("r2").code("bb", 1).build(), "r1")
            .await;
        assert!(matches!(missing, Err(StoreError::NotFound(ref n)) if n == "g"));
    }

    #[tokio::test]
    async fn tags_change_apart_from_updates() {
        let (_dir, store) = open_temp();
        store
            .create_function(&function("f").code("aa", 10).build())
            .await
            .unwrap();
        let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        // Tagging keeps the revision, so an update that read r1 still lands,
        // and it keeps the tags it did not know about.
        store
            .replace_tags("f", &BTreeMap::new(), &tags(&[("team", "a")]))
            .await
            .unwrap();
        let update = function("f").revision("r2").code("bb", 20).build();
        store.update_function(&update, "r1").await.unwrap();
        let got = store.get_function("f").await.unwrap().unwrap();
        assert_eq!(
            (got.revision_id.as_str(), got.code.sha256_hex.as_str()),
            ("r2", "bb")
        );
        assert_eq!(got.tags, tags(&[("team", "a")]));
        // A tag edit made on stale tags loses.
        let err = store
            .replace_tags("f", &BTreeMap::new(), &tags(&[("x", "1")]))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::RevisionMismatch { .. }), "{err}");
        assert!(matches!(
            store
                .replace_tags("g", &BTreeMap::new(), &BTreeMap::new())
                .await,
            Err(StoreError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn lists_in_name_order_page_by_page() {
        let (_dir, store) = open_temp();
        for name in ["delta", "alpha", "charlie", "bravo", "echo"] {
            store
                .create_function(&function(name).revision("r").build())
                .await
                .unwrap();
        }
        let names = |fs: Vec<FunctionRecord>| fs.into_iter().map(|f| f.name).collect::<Vec<_>>();

        let page1 = names(store.list_functions(None, 2).await.unwrap());
        assert_eq!(page1, ["alpha", "bravo"]);
        let page2 = names(store.list_functions(Some("bravo"), 2).await.unwrap());
        assert_eq!(page2, ["charlie", "delta"]);
        let page3 = names(store.list_functions(Some("delta"), 2).await.unwrap());
        assert_eq!(page3, ["echo"]);
        assert!(store
            .list_functions(Some("echo"), 2)
            .await
            .unwrap()
            .is_empty());
        // `after` need not be an existing name.
        assert_eq!(
            names(store.list_functions(Some("c"), 100).await.unwrap()).len(),
            3
        );
        assert!(store.list_functions(None, 0).await.unwrap().is_empty());
        assert_eq!(
            store.list_functions(None, usize::MAX).await.unwrap().len(),
            5
        );
    }

    #[tokio::test]
    async fn usage_and_referenced_code() {
        let (_dir, store) = open_temp();
        assert_eq!(store.usage().await.unwrap(), Usage::default());
        store
            .create_function(&function("a").revision("r").code("aa", 100).build())
            .await
            .unwrap();
        store
            .create_function(&function("b").revision("r").code("aa", 100).build())
            .await
            .unwrap();
        store
            .create_function(&function("c").revision("r").code("cc", 50).build())
            .await
            .unwrap();
        assert_eq!(
            store.usage().await.unwrap(),
            Usage {
                function_count: 3,
                total_code_size: 250
            }
        );
        assert_eq!(
            store.referenced_code().await.unwrap(),
            HashSet::from(["aa".to_string(), "cc".to_string()])
        );
    }

    #[tokio::test]
    async fn reopening_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let f = function("kept").code("aa", 10).build();
        {
            let store = SqliteStore::open_in(dir.path()).unwrap();
            store.create_function(&f).await.unwrap();
        }
        let store = SqliteStore::open_in(dir.path()).unwrap();
        assert_eq!(store.get_function("kept").await.unwrap(), Some(f));
        let conn = store.conn.lock().unwrap();
        assert_eq!(
            migrations::schema_version(&conn).unwrap(),
            migrations::latest_version()
        );
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    fn layer(name: &str, sha: &str) -> LayerVersionRecord {
        LayerVersionRecord {
            name: name.to_string(),
            version: 0,
            description: format!("{name} {sha}"),
            compatible_runtimes: vec!["python3.12".to_string()],
            compatible_architectures: vec!["x86_64".to_string()],
            license_info: Some("MIT".to_string()),
            code: CodeRef {
                sha256_hex: sha.to_string(),
                sha256_b64: "b64".to_string(),
                size: 3,
                unzipped_size: 6,
            },
            created_date: "2024-05-01T12:00:00.000+0000".to_string(),
        }
    }

    #[tokio::test]
    async fn layer_versions_count_from_one_per_name_and_are_never_reused() {
        let (_dir, store) = open_temp();
        let v1 = store
            .publish_layer_version(&layer("deps", "aa"))
            .await
            .unwrap();
        let v2 = store
            .publish_layer_version(&layer("deps", "bb"))
            .await
            .unwrap();
        let other = store
            .publish_layer_version(&layer("other", "cc"))
            .await
            .unwrap();
        assert_eq!((v1.version, v2.version, other.version), (1, 2, 1));
        assert_eq!(
            store.get_layer_version("deps", 2).await.unwrap(),
            Some(v2.clone())
        );
        assert_eq!(store.get_layer_version("deps", 3).await.unwrap(), None);
        let versions = |vs: Vec<LayerVersionRecord>| {
            vs.into_iter()
                .map(|v| (v.name, v.version))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            versions(store.list_layer_versions("deps").await.unwrap()),
            [("deps".to_string(), 2), ("deps".to_string(), 1)]
        );
        assert_eq!(
            versions(store.list_all_layer_versions().await.unwrap()),
            [
                ("deps".to_string(), 2),
                ("deps".to_string(), 1),
                ("other".to_string(), 1)
            ]
        );

        assert_eq!(
            store.delete_layer_version("deps", 2).await.unwrap(),
            Some(v2)
        );
        assert_eq!(store.delete_layer_version("deps", 2).await.unwrap(), None);
        assert_eq!(
            store.delete_layer_version("deps", 1).await.unwrap(),
            Some(v1)
        );
        assert!(store.list_layer_versions("deps").await.unwrap().is_empty());
        // Every version gone: the next is still 3.
        let v3 = store
            .publish_layer_version(&layer("deps", "dd"))
            .await
            .unwrap();
        assert_eq!(v3.version, 3);
    }

    #[tokio::test]
    async fn a_layer_version_policy_is_edited_in_place_and_goes_with_its_version() {
        let (_dir, store) = open_temp();
        let v = store
            .publish_layer_version(&layer("deps", "aa"))
            .await
            .unwrap();
        assert_eq!(
            store.get_layer_version_policy("deps", 1).await.unwrap(),
            Some(None)
        );
        assert_eq!(
            store.get_layer_version_policy("deps", 2).await.unwrap(),
            None
        );
        let set = |doc: &'static str| -> SettingEdit { Box::new(move |_| Ok(Some(doc.into()))) };
        assert_eq!(
            store
                .edit_layer_version_policy("deps", 2, set("{}"))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .edit_layer_version_policy("deps", 1, set("{\"a\":1}"))
                .await
                .unwrap(),
            Some(Some("{\"a\":1}".into()))
        );
        // The edit sees what is stored, and a refusal changes nothing.
        let refused = store
            .edit_layer_version_policy(
                "deps",
                1,
                Box::new(|current| {
                    assert_eq!(current, Some("{\"a\":1}"));
                    Err(ignis_model::LambdaError::invalid("no"))
                }),
            )
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::Refused(_)), "{refused}");
        assert_eq!(
            store.get_layer_version_policy("deps", 1).await.unwrap(),
            Some(Some("{\"a\":1}".into()))
        );
        // The record itself is untouched by its policy.
        assert_eq!(store.get_layer_version("deps", 1).await.unwrap(), Some(v));
        store.delete_layer_version("deps", 1).await.unwrap();
        assert_eq!(
            store.get_layer_version_policy("deps", 1).await.unwrap(),
            None
        );
        store
            .publish_layer_version(&layer("deps", "bb"))
            .await
            .unwrap();
        assert_eq!(
            store.get_layer_version_policy("deps", 2).await.unwrap(),
            Some(None)
        );
    }

    #[tokio::test]
    async fn layer_code_stays_referenced_while_a_function_uses_it() {
        let (_dir, store) = open_temp();
        let v = store
            .publish_layer_version(&layer("deps", "ll"))
            .await
            .unwrap();
        let mut f = function("f").build();
        f.layers = vec![ignis_model::layer::FunctionLayer {
            arn: v.version_arn("us-east-1"),
            code: v.code.clone(),
        }];
        store.create_function(&f).await.unwrap();
        store.delete_layer_version("deps", 1).await.unwrap();
        assert_eq!(
            store.referenced_code().await.unwrap(),
            HashSet::from(["aa".to_string(), "ll".to_string()])
        );
        let mut g = f.clone();
        g.revision_id = "r2".to_string();
        g.layers.clear();
        store.update_function(&g, "r1").await.unwrap();
        assert_eq!(
            store.referenced_code().await.unwrap(),
            HashSet::from(["aa".to_string()])
        );
    }

    #[tokio::test]
    async fn reopening_keeps_layers() {
        let dir = tempfile::tempdir().unwrap();
        let published = {
            let store = SqliteStore::open_in(dir.path()).unwrap();
            store
                .publish_layer_version(&layer("deps", "aa"))
                .await
                .unwrap()
        };
        let store = SqliteStore::open_in(dir.path()).unwrap();
        assert_eq!(
            store.get_layer_version("deps", 1).await.unwrap(),
            Some(published)
        );
        assert_eq!(
            store
                .publish_layer_version(&layer("deps", "bb"))
                .await
                .unwrap()
                .version,
            2
        );
    }

    #[tokio::test]
    async fn a_version_1_database_is_migrated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(include_str!("migrations/0001_functions.sql"))
                .unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            // A record as the version-1 build wrote it: no `layers`.
            let mut old = serde_json::to_value(function("old").revision("r").build()).unwrap();
            old.as_object_mut().unwrap().remove("layers");
            conn.execute(
                "INSERT INTO functions VALUES ('old', 'r', 'aa', 1, ?1)",
                [old.to_string()],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let f = store.get_function("old").await.unwrap().unwrap();
        assert!(f.layers.is_empty());
        assert_eq!(
            store.referenced_code().await.unwrap(),
            HashSet::from(["aa".to_string()])
        );
    }

    #[tokio::test]
    async fn corrupt_record_is_a_clear_error() {
        let (_dir, store) = open_temp();
        store
            .create_function(&function("ok").revision("r").build())
            .await
            .unwrap();
        store
            .create_function(&function("bad").revision("r").build())
            .await
            .unwrap();
        store
            .conn
            .lock()
            .unwrap()
            .execute(
                "UPDATE functions SET record = '{not json' WHERE name = 'bad'",
                [],
            )
            .unwrap();

        let err = store.get_function("bad").await.unwrap_err();
        assert!(
            matches!(err, StoreError::CorruptRecord { ref name, .. } if name == "function bad"),
            "{err}"
        );
        assert!(err.to_string().contains("bad"), "{err}");
        let err = store.list_functions(None, 10).await.unwrap_err();
        assert!(matches!(err, StoreError::CorruptRecord { .. }), "{err}");
        // Deleting a corrupt row reports it and keeps it.
        let err = store.delete_function("bad").await.unwrap_err();
        assert!(matches!(err, StoreError::CorruptRecord { .. }), "{err}");
        assert_eq!(store.usage().await.unwrap().function_count, 2);
        assert!(store.get_function("ok").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn open_fails_cleanly_on_a_non_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        std::fs::write(&path, vec![0x42; 4096]).unwrap();
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::Open { .. } | StoreError::Migrate { .. }),
            "{err}"
        );
    }
}
