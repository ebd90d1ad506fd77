//! [`IamStore`] on SQLite: each method one transaction on the connection
//! [`SqliteStore`] holds (tables of migration 5).

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::{query_err, SqliteStore};
use crate::iam::{
    AccessKey, Dependents, Entity, IamRole, IamStore, IamStoreError, IamUser, ManagedPolicy, Owner,
    PolicyVersion, Tag,
};
use crate::store::StoreError;

type Result<T> = std::result::Result<T, IamStoreError>;

impl SqliteStore {
    /// Runs `f` in one transaction on the blocking pool; commits on `Ok`.
    async fn iam_tx<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
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

fn q(op: &'static str) -> impl Fn(rusqlite::Error) -> IamStoreError {
    move |e| IamStoreError::Store(query_err(op)(e))
}

fn encode_tags(op: &'static str, tags: &[Tag]) -> Result<String> {
    serde_json::to_string(tags).map_err(|source| {
        IamStoreError::Store(StoreError::Encode {
            name: op.to_string(),
            source,
        })
    })
}

fn decode_tags(what: &str, text: &str) -> rusqlite::Result<Vec<Tag>> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("tags of {what}: {e}").into(),
        )
    })
}

fn user_row(row: &Row<'_>) -> rusqlite::Result<IamUser> {
    let name: String = row.get(0)?;
    let tags = decode_tags(&name, &row.get::<_, String>(4)?)?;
    Ok(IamUser {
        name,
        id: row.get(1)?,
        path: row.get(2)?,
        create_date: row.get(3)?,
        tags,
    })
}

const USER_COLS: &str = "name, id, path, create_date, tags";

fn role_row(row: &Row<'_>) -> rusqlite::Result<IamRole> {
    let name: String = row.get(0)?;
    let tags = decode_tags(&name, &row.get::<_, String>(7)?)?;
    Ok(IamRole {
        name,
        id: row.get(1)?,
        path: row.get(2)?,
        trust_policy: row.get(3)?,
        description: row.get(4)?,
        max_session_duration: row.get(5)?,
        create_date: row.get(6)?,
        tags,
    })
}

const ROLE_COLS: &str =
    "name, id, path, trust_policy, description, max_session_duration, create_date, tags";

fn key_row(row: &Row<'_>) -> rusqlite::Result<AccessKey> {
    Ok(AccessKey {
        id: row.get(0)?,
        user_name: row.get(1)?,
        secret: row.get(2)?,
        status: row.get(3)?,
        create_date: row.get(4)?,
    })
}

const KEY_COLS: &str = "k.id, u.name, k.secret, k.status, k.create_date";

fn policy_row(row: &Row<'_>) -> rusqlite::Result<ManagedPolicy> {
    let arn: String = row.get(0)?;
    let tags = decode_tags(&arn, &row.get::<_, String>(8)?)?;
    Ok(ManagedPolicy {
        arn,
        name: row.get(1)?,
        id: row.get(2)?,
        path: row.get(3)?,
        description: row.get(4)?,
        default_version: row.get(5)?,
        create_date: row.get(6)?,
        update_date: row.get(7)?,
        tags,
    })
}

const POLICY_COLS: &str =
    "arn, name, id, path, description, default_version, create_date, update_date, tags";

/// The owner's name as stored; `NotFound` when it does not exist.
fn owner_name(tx: &Transaction<'_>, op: &'static str, owner: &Owner) -> Result<String> {
    let sql = match owner {
        Owner::User(_) => "SELECT name FROM iam_users WHERE name = ?1",
        Owner::Role(_) => "SELECT name FROM iam_roles WHERE name = ?1",
    };
    let (Owner::User(name) | Owner::Role(name)) = owner;
    tx.query_row(sql, [name], |r| r.get(0))
        .optional()
        .map_err(q(op))?
        .ok_or_else(|| IamStoreError::NotFound(owner.entity()))
}

fn kind(owner: &Owner) -> &'static str {
    match owner {
        Owner::User(_) => "user",
        Owner::Role(_) => "role",
    }
}

fn count(
    tx: &Transaction<'_>,
    op: &'static str,
    sql: &str,
    p: &[&dyn rusqlite::ToSql],
) -> Result<u64> {
    let n: i64 = tx.query_row(sql, p, |r| r.get(0)).map_err(q(op))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Refuses to delete `owner` while it has inline or attached policies.
fn no_policies(tx: &Transaction<'_>, op: &'static str, owner: &Owner, name: &str) -> Result<()> {
    let k = kind(owner);
    let inline = count(
        tx,
        op,
        "SELECT COUNT(*) FROM iam_inline_policies WHERE owner_kind = ?1 AND owner_name = ?2",
        &[&k, &name],
    )?;
    if inline > 0 {
        return Err(IamStoreError::DeleteConflict(
            owner.entity(),
            Dependents::InlinePolicies,
        ));
    }
    let attached = count(
        tx,
        op,
        "SELECT COUNT(*) FROM iam_attachments WHERE owner_kind = ?1 AND owner_name = ?2",
        &[&k, &name],
    )?;
    if attached > 0 {
        return Err(IamStoreError::DeleteConflict(
            owner.entity(),
            Dependents::AttachedPolicies,
        ));
    }
    Ok(())
}

fn list<T>(
    conn: &Connection,
    op: &'static str,
    sql: &str,
    p: &[&dyn rusqlite::ToSql],
    f: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(q(op))?;
    let rows = stmt.query_map(p, f).map_err(q(op))?;
    rows.collect::<rusqlite::Result<Vec<T>>>().map_err(q(op))
}

#[async_trait::async_trait]
impl IamStore for SqliteStore {
    async fn create_user(&self, user: &IamUser) -> Result<()> {
        const OP: &str = "create an IAM user";
        let u = user.clone();
        self.iam_tx(OP, move |tx| {
            let tags = encode_tags(OP, &u.tags)?;
            let n = tx
                .execute(
                    "INSERT INTO iam_users (name, id, path, create_date, tags) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT DO NOTHING",
                    params![u.name, u.id, u.path, u.create_date, tags],
                )
                .map_err(q(OP))?;
            if n == 0 {
                return Err(IamStoreError::AlreadyExists(Entity::User(u.name)));
            }
            Ok(())
        })
        .await
    }

    async fn get_user(&self, name: &str) -> Result<Option<IamUser>> {
        const OP: &str = "get an IAM user";
        let name = name.to_string();
        self.iam_tx(OP, move |tx| {
            tx.query_row(
                &format!("SELECT {USER_COLS} FROM iam_users WHERE name = ?1"),
                [&name],
                user_row,
            )
            .optional()
            .map_err(q(OP))
        })
        .await
    }

    async fn list_users(&self) -> Result<Vec<IamUser>> {
        const OP: &str = "list IAM users";
        self.iam_tx(OP, move |tx| {
            list(
                tx,
                OP,
                &format!("SELECT {USER_COLS} FROM iam_users ORDER BY name"),
                &[],
                user_row,
            )
        })
        .await
    }

    async fn delete_user(&self, name: &str) -> Result<()> {
        const OP: &str = "delete an IAM user";
        let owner = Owner::User(name.to_string());
        self.iam_tx(OP, move |tx| {
            let name = owner_name(tx, OP, &owner)?;
            let keys = count(
                tx,
                OP,
                "SELECT COUNT(*) FROM iam_access_keys WHERE user_name = ?1",
                &[&name],
            )?;
            if keys > 0 {
                return Err(IamStoreError::DeleteConflict(
                    owner.entity(),
                    Dependents::AccessKeys,
                ));
            }
            no_policies(tx, OP, &owner, &name)?;
            tx.execute("DELETE FROM iam_users WHERE name = ?1", [&name])
                .map_err(q(OP))?;
            Ok(())
        })
        .await
    }

    async fn create_access_key(&self, key: &AccessKey, max_per_user: u64) -> Result<()> {
        const OP: &str = "create an access key";
        let key = key.clone();
        self.iam_tx(OP, move |tx| {
            let user = owner_name(tx, OP, &Owner::User(key.user_name.clone()))?;
            let keys = count(
                tx,
                OP,
                "SELECT COUNT(*) FROM iam_access_keys WHERE user_name = ?1",
                &[&user],
            )?;
            if keys >= max_per_user {
                return Err(IamStoreError::LimitExceeded {
                    quota: "AccessKeysPerUser",
                    limit: max_per_user,
                });
            }
            let n = tx
                .execute(
                    "INSERT INTO iam_access_keys (id, user_name, secret, status, create_date)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                    params![key.id, user, key.secret, key.status, key.create_date],
                )
                .map_err(q(OP))?;
            if n == 0 {
                return Err(IamStoreError::AlreadyExists(Entity::AccessKey(key.id)));
            }
            Ok(())
        })
        .await
    }

    async fn list_access_keys(&self, user: &str) -> Result<Vec<AccessKey>> {
        const OP: &str = "list access keys";
        let owner = Owner::User(user.to_string());
        self.iam_tx(OP, move |tx| {
            let name = owner_name(tx, OP, &owner)?;
            list(
                tx,
                OP,
                &format!(
                    "SELECT {KEY_COLS} FROM iam_access_keys k JOIN iam_users u ON u.name = k.user_name
                     WHERE k.user_name = ?1 ORDER BY k.create_date, k.id"
                ),
                &[&name],
                key_row,
            )
        })
        .await
    }

    async fn get_access_key(&self, id: &str) -> Result<Option<AccessKey>> {
        const OP: &str = "get an access key";
        let id = id.to_string();
        self.iam_tx(OP, move |tx| {
            tx.query_row(
                &format!(
                    "SELECT {KEY_COLS} FROM iam_access_keys k JOIN iam_users u ON u.name = k.user_name
                     WHERE k.id = ?1"
                ),
                [&id],
                key_row,
            )
            .optional()
            .map_err(q(OP))
        })
        .await
    }

    async fn delete_access_key(&self, user: &str, id: &str) -> Result<()> {
        const OP: &str = "delete an access key";
        let owner = Owner::User(user.to_string());
        let id = id.to_string();
        self.iam_tx(OP, move |tx| {
            let name = owner_name(tx, OP, &owner)?;
            let n = tx
                .execute(
                    "DELETE FROM iam_access_keys WHERE id = ?1 AND user_name = ?2",
                    params![id, name],
                )
                .map_err(q(OP))?;
            if n == 0 {
                return Err(IamStoreError::NotFound(Entity::AccessKey(id)));
            }
            Ok(())
        })
        .await
    }

    async fn create_role(&self, role: &IamRole) -> Result<()> {
        const OP: &str = "create an IAM role";
        let r = role.clone();
        self.iam_tx(OP, move |tx| {
            let tags = encode_tags(OP, &r.tags)?;
            let n = tx
                .execute(
                    &format!("INSERT INTO iam_roles ({ROLE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING"),
                    params![r.name, r.id, r.path, r.trust_policy, r.description, r.max_session_duration, r.create_date, tags],
                )
                .map_err(q(OP))?;
            if n == 0 {
                return Err(IamStoreError::AlreadyExists(Entity::Role(r.name)));
            }
            Ok(())
        })
        .await
    }

    async fn get_role(&self, name: &str) -> Result<Option<IamRole>> {
        const OP: &str = "get an IAM role";
        let name = name.to_string();
        self.iam_tx(OP, move |tx| {
            tx.query_row(
                &format!("SELECT {ROLE_COLS} FROM iam_roles WHERE name = ?1"),
                [&name],
                role_row,
            )
            .optional()
            .map_err(q(OP))
        })
        .await
    }

    async fn list_roles(&self) -> Result<Vec<IamRole>> {
        const OP: &str = "list IAM roles";
        self.iam_tx(OP, move |tx| {
            list(
                tx,
                OP,
                &format!("SELECT {ROLE_COLS} FROM iam_roles ORDER BY name"),
                &[],
                role_row,
            )
        })
        .await
    }

    async fn delete_role(&self, name: &str) -> Result<()> {
        const OP: &str = "delete an IAM role";
        let owner = Owner::Role(name.to_string());
        self.iam_tx(OP, move |tx| {
            let name = owner_name(tx, OP, &owner)?;
            no_policies(tx, OP, &owner, &name)?;
            tx.execute("DELETE FROM iam_roles WHERE name = ?1", [&name])
                .map_err(q(OP))?;
            Ok(())
        })
        .await
    }

    async fn update_trust_policy(&self, role: &str, document: &str) -> Result<()> {
        const OP: &str = "update a role's trust policy";
        let (role, document) = (role.to_string(), document.to_string());
        self.iam_tx(OP, move |tx| {
            let n = tx
                .execute(
                    "UPDATE iam_roles SET trust_policy = ?2 WHERE name = ?1",
                    params![role, document],
                )
                .map_err(q(OP))?;
            if n == 0 {
                return Err(IamStoreError::NotFound(Entity::Role(role)));
            }
            Ok(())
        })
        .await
    }

    async fn put_inline_policy(
        &self,
        owner: &Owner,
        name: &str,
        document: &str,
        size: u64,
        max_total: u64,
    ) -> Result<()> {
        const OP: &str = "put an inline policy";
        let (owner, name, document) = (owner.clone(), name.to_string(), document.to_string());
        self.iam_tx(OP, move |tx| {
            let owner_stored = owner_name(tx, OP, &owner)?;
            let k = kind(&owner);
            let others = count(
                tx,
                OP,
                "SELECT COALESCE(SUM(size), 0) FROM iam_inline_policies
                 WHERE owner_kind = ?1 AND owner_name = ?2 AND policy_name != ?3",
                &[&k, &owner_stored, &name],
            )?;
            if others + size > max_total {
                let quota = match owner {
                    Owner::User(_) => "UserPolicySize",
                    Owner::Role(_) => "RolePolicySize",
                };
                return Err(IamStoreError::LimitExceeded { quota, limit: max_total });
            }
            tx.execute(
                "INSERT INTO iam_inline_policies (owner_kind, owner_name, policy_name, document, size)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (owner_kind, owner_name, policy_name)
                 DO UPDATE SET document = excluded.document, size = excluded.size",
                params![k, owner_stored, name, document, i64::try_from(size).unwrap_or(i64::MAX)],
            )
            .map_err(q(OP))?;
            Ok(())
        })
        .await
    }

    async fn get_inline_policy(&self, owner: &Owner, name: &str) -> Result<(String, String)> {
        const OP: &str = "get an inline policy";
        let (owner, name) = (owner.clone(), name.to_string());
        self.iam_tx(OP, move |tx| {
            let owner_stored = owner_name(tx, OP, &owner)?;
            tx.query_row(
                "SELECT policy_name, document FROM iam_inline_policies
                 WHERE owner_kind = ?1 AND owner_name = ?2 AND policy_name = ?3",
                params![kind(&owner), owner_stored, name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(q(OP))?
            .ok_or(IamStoreError::NotFound(Entity::InlinePolicy(owner, name)))
        })
        .await
    }

    async fn list_inline_policies(&self, owner: &Owner) -> Result<Vec<String>> {
        const OP: &str = "list inline policies";
        let owner = owner.clone();
        self.iam_tx(OP, move |tx| {
            let owner_stored = owner_name(tx, OP, &owner)?;
            let k = kind(&owner);
            list(
                tx,
                OP,
                "SELECT policy_name FROM iam_inline_policies WHERE owner_kind = ?1 AND owner_name = ?2
                 ORDER BY policy_name",
                &[&k, &owner_stored],
                |r| r.get(0),
            )
        })
        .await
    }

    async fn delete_inline_policy(&self, owner: &Owner, name: &str) -> Result<()> {
        const OP: &str = "delete an inline policy";
        let (owner, name) = (owner.clone(), name.to_string());
        self.iam_tx(OP, move |tx| {
            let owner_stored = owner_name(tx, OP, &owner)?;
            let n = tx
                .execute(
                    "DELETE FROM iam_inline_policies WHERE owner_kind = ?1 AND owner_name = ?2 AND policy_name = ?3",
                    params![kind(&owner), owner_stored, name],
                )
                .map_err(q(OP))?;
            if n == 0 {
                return Err(IamStoreError::NotFound(Entity::InlinePolicy(owner, name)));
            }
            Ok(())
        })
        .await
    }

    async fn create_policy(&self, policy: &ManagedPolicy, document: &str) -> Result<()> {
        const OP: &str = "create a managed policy";
        let (p, document) = (policy.clone(), document.to_string());
        self.iam_tx(OP, move |tx| {
            let tags = encode_tags(OP, &p.tags)?;
            let n = tx
                .execute(
                    &format!("INSERT INTO iam_policies ({POLICY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING"),
                    params![p.arn, p.name, p.id, p.path, p.description, p.default_version, p.create_date, p.update_date, tags],
                )
                .map_err(q(OP))?;
            if n == 0 {
                return Err(IamStoreError::AlreadyExists(Entity::Policy(p.name)));
            }
            tx.execute(
                "INSERT INTO iam_policy_versions (arn, version, document, create_date) VALUES (?1, ?2, ?3, ?4)",
                params![p.arn, p.default_version, document, p.create_date],
            )
            .map_err(q(OP))?;
            Ok(())
        })
        .await
    }

    async fn get_policy(&self, arn: &str) -> Result<Option<ManagedPolicy>> {
        const OP: &str = "get a managed policy";
        let arn = arn.to_string();
        self.iam_tx(OP, move |tx| {
            tx.query_row(
                &format!("SELECT {POLICY_COLS} FROM iam_policies WHERE arn = ?1"),
                [&arn],
                policy_row,
            )
            .optional()
            .map_err(q(OP))
        })
        .await
    }

    async fn get_policy_version(&self, arn: &str, version: u32) -> Result<Option<PolicyVersion>> {
        const OP: &str = "get a policy version";
        let arn = arn.to_string();
        self.iam_tx(OP, move |tx| {
            tx.query_row(
                "SELECT arn, version, document, create_date FROM iam_policy_versions WHERE arn = ?1 AND version = ?2",
                params![arn, version],
                |r| {
                    Ok(PolicyVersion {
                        arn: r.get(0)?,
                        version: r.get(1)?,
                        document: r.get(2)?,
                        create_date: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(q(OP))
        })
        .await
    }

    async fn list_policies(&self) -> Result<Vec<ManagedPolicy>> {
        const OP: &str = "list managed policies";
        self.iam_tx(OP, move |tx| {
            list(
                tx,
                OP,
                &format!("SELECT {POLICY_COLS} FROM iam_policies ORDER BY name"),
                &[],
                policy_row,
            )
        })
        .await
    }

    async fn delete_policy(&self, arn: &str) -> Result<()> {
        const OP: &str = "delete a managed policy";
        let arn = arn.to_string();
        self.iam_tx(OP, move |tx| {
            let exists = count(
                tx,
                OP,
                "SELECT COUNT(*) FROM iam_policies WHERE arn = ?1",
                &[&arn],
            )?;
            if exists == 0 {
                return Err(IamStoreError::NotFound(Entity::Policy(arn)));
            }
            let attached = count(
                tx,
                OP,
                "SELECT COUNT(*) FROM iam_attachments WHERE policy_arn = ?1",
                &[&arn],
            )?;
            if attached > 0 {
                return Err(IamStoreError::DeleteConflict(
                    Entity::Policy(arn),
                    Dependents::Attachments,
                ));
            }
            tx.execute("DELETE FROM iam_policy_versions WHERE arn = ?1", [&arn])
                .map_err(q(OP))?;
            tx.execute("DELETE FROM iam_policies WHERE arn = ?1", [&arn])
                .map_err(q(OP))?;
            Ok(())
        })
        .await
    }

    async fn attach_policy(
        &self,
        owner: &Owner,
        arn: &str,
        customer: bool,
        max_attached: u64,
    ) -> Result<()> {
        const OP: &str = "attach a managed policy";
        let (owner, arn) = (owner.clone(), arn.to_string());
        self.iam_tx(OP, move |tx| {
            let owner_stored = owner_name(tx, OP, &owner)?;
            if customer && count(tx, OP, "SELECT COUNT(*) FROM iam_policies WHERE arn = ?1", &[&arn])? == 0 {
                return Err(IamStoreError::NotFound(Entity::Policy(arn)));
            }
            let k = kind(&owner);
            let attached: Vec<String> = list(
                tx,
                OP,
                "SELECT policy_arn FROM iam_attachments WHERE owner_kind = ?1 AND owner_name = ?2",
                &[&k, &owner_stored],
                |r| r.get(0),
            )?;
            if attached.contains(&arn) {
                return Ok(());
            }
            if attached.len() as u64 >= max_attached {
                let quota = match owner {
                    Owner::User(_) => "PoliciesPerUser",
                    Owner::Role(_) => "PoliciesPerRole",
                };
                return Err(IamStoreError::LimitExceeded { quota, limit: max_attached });
            }
            tx.execute(
                "INSERT INTO iam_attachments (owner_kind, owner_name, policy_arn) VALUES (?1, ?2, ?3)",
                params![k, owner_stored, arn],
            )
            .map_err(q(OP))?;
            Ok(())
        })
        .await
    }

    async fn detach_policy(&self, owner: &Owner, arn: &str) -> Result<()> {
        const OP: &str = "detach a managed policy";
        let (owner, arn) = (owner.clone(), arn.to_string());
        self.iam_tx(OP, move |tx| {
            let owner_stored = owner_name(tx, OP, &owner)?;
            let n = tx
                .execute(
                    "DELETE FROM iam_attachments WHERE owner_kind = ?1 AND owner_name = ?2 AND policy_arn = ?3",
                    params![kind(&owner), owner_stored, arn],
                )
                .map_err(q(OP))?;
            if n == 0 {
                return Err(IamStoreError::NotFound(Entity::Attachment(owner, arn)));
            }
            Ok(())
        })
        .await
    }

    async fn attached_policies(&self, owner: &Owner) -> Result<Vec<String>> {
        const OP: &str = "list attached policies";
        let owner = owner.clone();
        self.iam_tx(OP, move |tx| {
            let owner_stored = owner_name(tx, OP, &owner)?;
            let k = kind(&owner);
            list(
                tx,
                OP,
                "SELECT policy_arn FROM iam_attachments WHERE owner_kind = ?1 AND owner_name = ?2 ORDER BY policy_arn",
                &[&k, &owner_stored],
                |r| r.get(0),
            )
        })
        .await
    }

    async fn attachment_counts(&self) -> Result<BTreeMap<String, u64>> {
        const OP: &str = "count policy attachments";
        self.iam_tx(OP, move |tx| {
            let rows: Vec<(String, i64)> = list(
                tx,
                OP,
                "SELECT policy_arn, COUNT(*) FROM iam_attachments GROUP BY policy_arn",
                &[],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(rows
                .into_iter()
                .map(|(arn, n)| (arn, u64::try_from(n).unwrap_or(0)))
                .collect())
        })
        .await
    }
}

#[cfg(test)]
#[path = "iam_tests.rs"]
mod tests;
