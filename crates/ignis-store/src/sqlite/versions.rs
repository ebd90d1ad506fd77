//! Published versions, aliases and per-function settings in SQLite: each
//! operation one transaction on the connection [`super::SqliteStore`]
//! lends (the `Store` impl calls these).

use ignis_model::alias::AliasRecord;
use ignis_model::{FunctionRecord, Version};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{decode, encode, layer_code, query_err, stored, to_sql_size};
use crate::store::{Setting, SettingEdit, StoreError};

pub(super) fn publish(
    conn: &mut Connection,
    candidate: &FunctionRecord,
    latest_revision: &str,
) -> Result<(FunctionRecord, bool), StoreError> {
    const OP: &str = "publish a version";
    let tx = conn.transaction().map_err(query_err(OP))?;
    let name = candidate.name.as_str();
    if stored(&tx, OP, name, Some(latest_revision))?.is_none() {
        return Err(missing_or_changed(&tx, OP, name)?);
    }
    let fingerprint = candidate.publish_fingerprint();
    let newest: Option<(String, String)> = tx
        .query_row(
            "SELECT fingerprint, record FROM function_versions WHERE name = ?1
             ORDER BY version DESC LIMIT 1",
            [name],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(query_err(OP))?;
    if let Some((newest_fingerprint, record)) = newest {
        if newest_fingerprint == fingerprint {
            return Ok((decode(name, &record)?, false));
        }
    }
    let number: i64 = tx
        .query_row(
            "UPDATE functions SET last_version = last_version + 1 WHERE name = ?1
             RETURNING last_version",
            [name],
            |row| row.get(0),
        )
        .map_err(query_err(OP))?;
    let mut version = candidate.clone();
    version.version = Version::Published(u64::try_from(number).unwrap_or(0));
    tx.execute(
        "INSERT INTO function_versions
             (name, version, code_sha256_hex, layer_code, fingerprint, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            name,
            number,
            version.code.sha256_hex,
            layer_code(&version),
            fingerprint,
            encode(&version)?
        ],
    )
    .map_err(query_err(OP))?;
    tx.commit().map_err(query_err(OP))?;
    Ok((version, true))
}

fn missing_or_changed(
    tx: &Transaction<'_>,
    op: &'static str,
    name: &str,
) -> Result<StoreError, StoreError> {
    Ok(if function_exists(tx, op, name)? {
        StoreError::RevisionMismatch {
            name: name.to_string(),
        }
    } else {
        StoreError::NotFound(name.to_string())
    })
}

fn function_exists(conn: &Connection, op: &'static str, name: &str) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM functions WHERE name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()
        .map_err(query_err(op))?
        .is_some())
}

pub(super) fn get(
    conn: &Connection,
    name: &str,
    version: u64,
) -> Result<Option<FunctionRecord>, StoreError> {
    const OP: &str = "get a version";
    let record: Option<String> = conn
        .query_row(
            "SELECT record FROM function_versions WHERE name = ?1 AND version = ?2",
            params![name, to_sql_size(version)],
            |row| row.get(0),
        )
        .optional()
        .map_err(query_err(OP))?;
    record.map(|r| decode(name, &r)).transpose()
}

pub(super) fn list(
    conn: &Connection,
    name: &str,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<FunctionRecord>, StoreError> {
    const OP: &str = "list versions";
    let mut stmt = conn
        .prepare_cached(
            "SELECT record FROM function_versions WHERE name = ?1 AND version > ?2
             ORDER BY version LIMIT ?3",
        )
        .map_err(query_err(OP))?;
    let after = to_sql_size(after.unwrap_or(0));
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![name, after, limit], |row| row.get::<_, String>(0))
        .map_err(query_err(OP))?;
    rows.map(|row| decode(name, &row.map_err(query_err(OP))?))
        .collect()
}

pub(super) fn delete(
    conn: &mut Connection,
    name: &str,
    version: u64,
) -> Result<Option<FunctionRecord>, StoreError> {
    const OP: &str = "delete a version";
    let tx = conn.transaction().map_err(query_err(OP))?;
    let referring: Vec<String> = aliases_of(&tx, OP, name)?
        .into_iter()
        .filter(|a| {
            a.version == Version::Published(version)
                || a.additional.is_some_and(|(v, _)| v == version)
        })
        .map(|a| a.name)
        .collect();
    let record: Option<String> = tx
        .query_row(
            "DELETE FROM function_versions WHERE name = ?1 AND version = ?2 RETURNING record",
            params![name, to_sql_size(version)],
            |row| row.get(0),
        )
        .optional()
        .map_err(query_err(OP))?;
    let Some(record) = record else {
        return Ok(None);
    };
    if !referring.is_empty() {
        return Err(StoreError::Conflict(format!(
            "Unable to delete version because the following aliases reference it: [{}]",
            referring.join(", ")
        )));
    }
    let f = decode(name, &record)?;
    tx.execute(
        "DELETE FROM function_settings WHERE name = ?1 AND qualifier = ?2",
        params![name, version.to_string()],
    )
    .map_err(query_err(OP))?;
    tx.commit().map_err(query_err(OP))?;
    Ok(Some(f))
}

fn encode_alias(a: &AliasRecord) -> Result<String, StoreError> {
    serde_json::to_string(a).map_err(|source| StoreError::Encode {
        name: format!("alias {}:{}", a.function, a.name),
        source,
    })
}

fn decode_alias(function: &str, alias: &str, record: &str) -> Result<AliasRecord, StoreError> {
    serde_json::from_str(record).map_err(|source| StoreError::CorruptRecord {
        name: format!("alias {function}:{alias}"),
        source,
    })
}

/// Checks that the versions an alias points at are published.
fn check_targets(tx: &Transaction<'_>, a: &AliasRecord) -> Result<(), StoreError> {
    let targets = a
        .version
        .number()
        .into_iter()
        .chain(a.additional.map(|(v, _)| v));
    for version in targets {
        if get(tx, &a.function, version)?.is_none() {
            return Err(StoreError::VersionNotFound {
                name: a.function.clone(),
                version,
            });
        }
    }
    Ok(())
}

pub(super) fn create_alias(conn: &mut Connection, a: &AliasRecord) -> Result<(), StoreError> {
    const OP: &str = "create an alias";
    let tx = conn.transaction().map_err(query_err(OP))?;
    if !function_exists(&tx, OP, &a.function)? {
        return Err(StoreError::NotFound(a.function.clone()));
    }
    check_targets(&tx, a)?;
    let inserted = tx
        .execute(
            "INSERT INTO function_aliases (name, alias, record) VALUES (?1, ?2, ?3)
             ON CONFLICT (name, alias) DO NOTHING",
            params![a.function, a.name, encode_alias(a)?],
        )
        .map_err(query_err(OP))?;
    if inserted == 0 {
        return Err(StoreError::AlreadyExists(format!(
            "{}:{}",
            a.function, a.name
        )));
    }
    tx.commit().map_err(query_err(OP))
}

pub(super) fn update_alias(
    conn: &mut Connection,
    a: &AliasRecord,
    expected: &str,
) -> Result<(), StoreError> {
    const OP: &str = "update an alias";
    let tx = conn.transaction().map_err(query_err(OP))?;
    let Some(current) = get_alias(&tx, &a.function, &a.name)? else {
        return Err(StoreError::NotFound(format!("{}:{}", a.function, a.name)));
    };
    if current.revision_id != expected {
        return Err(StoreError::RevisionMismatch {
            name: format!("{}:{}", a.function, a.name),
        });
    }
    check_targets(&tx, a)?;
    tx.execute(
        "UPDATE function_aliases SET record = ?3 WHERE name = ?1 AND alias = ?2",
        params![a.function, a.name, encode_alias(a)?],
    )
    .map_err(query_err(OP))?;
    tx.commit().map_err(query_err(OP))
}

pub(super) fn get_alias(
    conn: &Connection,
    function: &str,
    alias: &str,
) -> Result<Option<AliasRecord>, StoreError> {
    const OP: &str = "get an alias";
    let record: Option<String> = conn
        .query_row(
            "SELECT record FROM function_aliases WHERE name = ?1 AND alias = ?2",
            params![function, alias],
            |row| row.get(0),
        )
        .optional()
        .map_err(query_err(OP))?;
    record
        .map(|r| decode_alias(function, alias, &r))
        .transpose()
}

pub(super) fn aliases_of(
    conn: &Connection,
    op: &'static str,
    function: &str,
) -> Result<Vec<AliasRecord>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT alias, record FROM function_aliases WHERE name = ?1 ORDER BY alias")
        .map_err(query_err(op))?;
    let rows = stmt
        .query_map([function], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .map_err(query_err(op))?;
    rows.map(|row| {
        let (alias, record) = row.map_err(query_err(op))?;
        decode_alias(function, &alias, &record)
    })
    .collect()
}

pub(super) fn delete_alias(
    conn: &mut Connection,
    function: &str,
    alias: &str,
) -> Result<Option<AliasRecord>, StoreError> {
    const OP: &str = "delete an alias";
    let tx = conn.transaction().map_err(query_err(OP))?;
    let record: Option<String> = tx
        .query_row(
            "DELETE FROM function_aliases WHERE name = ?1 AND alias = ?2 RETURNING record",
            params![function, alias],
            |row| row.get(0),
        )
        .optional()
        .map_err(query_err(OP))?;
    let Some(record) = record else {
        return Ok(None);
    };
    let a = decode_alias(function, alias, &record)?;
    tx.execute(
        "DELETE FROM function_settings WHERE name = ?1 AND qualifier = ?2",
        params![function, alias],
    )
    .map_err(query_err(OP))?;
    tx.commit().map_err(query_err(OP))?;
    Ok(Some(a))
}

pub(super) fn edit_setting(
    conn: &mut Connection,
    name: &str,
    qualifier: &str,
    kind: &str,
    edit: SettingEdit,
) -> Result<Option<String>, StoreError> {
    const OP: &str = "change a function setting";
    let tx = conn.transaction().map_err(query_err(OP))?;
    if !function_exists(&tx, OP, name)? {
        return Err(StoreError::NotFound(name.to_string()));
    }
    let current = get_setting(&tx, name, qualifier, kind)?;
    let next = edit(current.as_deref()).map_err(StoreError::Refused)?;
    match &next {
        Some(document) => tx.execute(
            "INSERT INTO function_settings (name, qualifier, kind, document) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name, qualifier, kind) DO UPDATE SET document = excluded.document",
            params![name, qualifier, kind, document],
        ),
        None => tx.execute(
            "DELETE FROM function_settings WHERE name = ?1 AND qualifier = ?2 AND kind = ?3",
            params![name, qualifier, kind],
        ),
    }
    .map_err(query_err(OP))?;
    tx.commit().map_err(query_err(OP))?;
    Ok(next)
}

pub(super) fn get_setting(
    conn: &Connection,
    name: &str,
    qualifier: &str,
    kind: &str,
) -> Result<Option<String>, StoreError> {
    const OP: &str = "read a function setting";
    conn.query_row(
        "SELECT document FROM function_settings WHERE name = ?1 AND qualifier = ?2 AND kind = ?3",
        params![name, qualifier, kind],
        |row| row.get(0),
    )
    .optional()
    .map_err(query_err(OP))
}

pub(super) fn list_settings(conn: &Connection, kind: &str) -> Result<Vec<Setting>, StoreError> {
    const OP: &str = "list function settings";
    let mut stmt = conn
        .prepare_cached(
            "SELECT name, qualifier, document FROM function_settings WHERE kind = ?1
             ORDER BY name, qualifier",
        )
        .map_err(query_err(OP))?;
    let rows = stmt
        .query_map([kind], |row| {
            Ok(Setting {
                function: row.get(0)?,
                qualifier: row.get(1)?,
                document: row.get(2)?,
            })
        })
        .map_err(query_err(OP))?;
    rows.map(|r| r.map_err(query_err(OP))).collect()
}

/// Deletes what belongs to function `name` besides its row (its delete),
/// its queued asynchronous invocations included (a function created again
/// under the name does not get them).
pub(super) fn delete_all(tx: &Transaction<'_>, name: &str) -> Result<(), StoreError> {
    const OP: &str = "delete a function's versions";
    for sql in [
        "DELETE FROM function_versions WHERE name = ?1",
        "DELETE FROM function_aliases WHERE name = ?1",
        "DELETE FROM function_settings WHERE name = ?1",
        "DELETE FROM async_events WHERE function = ?1",
    ] {
        tx.execute(sql, [name]).map_err(query_err(OP))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ignis_model::alias::AliasRecord;
    use ignis_model::{LambdaError, Version};
    use ignis_test_support::function;

    use crate::store::{Store, StoreError};
    use crate::SqliteStore;

    fn alias(name: &str, version: u64, additional: Option<(u64, f64)>) -> AliasRecord {
        AliasRecord {
            function: "f".into(),
            name: name.into(),
            version: Version::Published(version),
            description: String::new(),
            additional,
            revision_id: format!("{name}-r1"),
        }
    }

    #[tokio::test]
    async fn versions_are_numbered_once_and_unchanged_code_publishes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_in(dir.path()).unwrap();
        let f = function("f").code("aa", 10).build();
        store.create_function(&f).await.unwrap();
        let (v1, new) = store.publish_version(&f, "r1").await.unwrap();
        assert!(new);
        assert_eq!(v1.version, Version::Published(1));
        // Nothing changed: the same version comes back.
        let (again, new) = store.publish_version(&f, "r1").await.unwrap();
        assert_eq!((again.version, new), (Version::Published(1), false));
        // A stale $LATEST revision loses.
        let stale = store.publish_version(&f, "r0").await;
        assert!(matches!(stale, Err(StoreError::RevisionMismatch { .. })));

        let f2 = function("f").revision("r2").code("bb", 20).build();
        store.update_function(&f2, "r1").await.unwrap();
        let (v2, _) = store.publish_version(&f2, "r2").await.unwrap();
        assert_eq!(v2.version, Version::Published(2));
        assert_eq!(
            store.delete_version("f", 2).await.unwrap().unwrap().version,
            v2.version
        );
        let f3 = function("f").revision("r3").code("cc", 30).build();
        store.update_function(&f3, "r2").await.unwrap();
        let (v3, _) = store.publish_version(&f3, "r3").await.unwrap();
        assert_eq!(
            v3.version,
            Version::Published(3),
            "2 is never given out again"
        );
        let listed: Vec<_> = store
            .list_versions("f", None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(listed, [Version::Published(1), Version::Published(3)]);
        let page: Vec<_> = store
            .list_versions("f", Some(1), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(page, [Version::Published(3)]);
        // The code of a version stays referenced after $LATEST moves on.
        assert!(store.referenced_code().await.unwrap().contains("aa"));
    }

    #[tokio::test]
    async fn aliases_keep_their_versions_and_go_with_the_function() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_in(dir.path()).unwrap();
        let f = function("f").code("aa", 10).build();
        store.create_function(&f).await.unwrap();
        store.publish_version(&f, "r1").await.unwrap();
        let missing = store.create_alias(&alias("live", 1, Some((2, 0.5)))).await;
        assert!(matches!(
            missing,
            Err(StoreError::VersionNotFound { version: 2, .. })
        ));
        store.create_alias(&alias("live", 1, None)).await.unwrap();
        let taken = store.create_alias(&alias("live", 1, None)).await;
        assert!(matches!(taken, Err(StoreError::AlreadyExists(_))));
        let busy = store.delete_version("f", 1).await;
        assert!(
            matches!(busy, Err(StoreError::Conflict(ref m)) if m.contains("[live]")),
            "{busy:?}"
        );
        assert!(
            store.get_version("f", 1).await.unwrap().is_some(),
            "the refused delete changed nothing"
        );
        let mut moved = alias("live", 1, None);
        moved.description = "d".into();
        assert!(matches!(
            store.update_alias(&moved, "stale").await,
            Err(StoreError::RevisionMismatch { .. })
        ));
        moved.revision_id = "live-r2".into();
        store.update_alias(&moved, "live-r1").await.unwrap();
        assert_eq!(
            store
                .get_alias("f", "live")
                .await
                .unwrap()
                .unwrap()
                .description,
            "d"
        );

        store
            .edit_setting("f", "live", "policy", Box::new(|_| Ok(Some("{}".into()))))
            .await
            .unwrap();
        let refused = store
            .edit_setting(
                "f",
                "",
                "policy",
                Box::new(|_| Err(LambdaError::invalid("no"))),
            )
            .await;
        assert!(matches!(refused, Err(StoreError::Refused(_))));
        assert_eq!(store.list_settings("policy").await.unwrap().len(), 1);

        store.delete_function("f").await.unwrap();
        store.create_function(&f).await.unwrap();
        assert!(store.list_aliases("f").await.unwrap().is_empty());
        assert!(store.list_versions("f", None, 10).await.unwrap().is_empty());
        assert!(store.list_settings("policy").await.unwrap().is_empty());
        let (v, _) = store.publish_version(&f, "r1").await.unwrap();
        assert_eq!(
            v.version,
            Version::Published(1),
            "a new function numbers from 1"
        );
    }
}
