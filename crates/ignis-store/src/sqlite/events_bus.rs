//! [`EventBusStore`] on SQLite: each method one transaction on the
//! connection [`SqliteStore`] holds (tables of the `eventbridge`
//! migration).

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::{query_err, SqliteStore};
use crate::events_bus::{
    EventBus, EventBusStore, EventDelivery, EventRule, NewEventDelivery, RuleDeleted, RuleTarget,
};
use crate::store::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

fn encode_tags(map: &BTreeMap<String, String>) -> Result<String> {
    serde_json::to_string(map).map_err(|source| StoreError::Encode {
        name: "tags".to_string(),
        source,
    })
}

fn decode_tags(text: &str) -> rusqlite::Result<BTreeMap<String, String>> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

/// `LIKE` pattern for names starting with `prefix` (escape `\`).
fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

const BUS_COLS: &str = "name, arn, description, tags, created_ms";

fn bus_row(row: &Row<'_>) -> rusqlite::Result<EventBus> {
    Ok(EventBus {
        name: row.get(0)?,
        arn: row.get(1)?,
        description: row.get(2)?,
        tags: decode_tags(&row.get::<_, String>(3)?)?,
        created_ms: row.get(4)?,
    })
}

const RULE_COLS: &str = "bus, name, arn, enabled, spec, next_fire_ms, tags, created_ms";

fn rule_row(row: &Row<'_>) -> rusqlite::Result<EventRule> {
    Ok(EventRule {
        bus: row.get(0)?,
        name: row.get(1)?,
        arn: row.get(2)?,
        enabled: row.get(3)?,
        spec: row.get(4)?,
        next_fire_ms: row.get(5)?,
        tags: decode_tags(&row.get::<_, String>(6)?)?,
        created_ms: row.get(7)?,
    })
}

fn target_row(row: &Row<'_>) -> rusqlite::Result<RuleTarget> {
    Ok(RuleTarget {
        id: row.get(0)?,
        arn: row.get(1)?,
        spec: row.get(2)?,
    })
}

const DELIVERY_COLS: &str = "id, rule_arn, target_arn, payload, attempts";

fn delivery_row(row: &Row<'_>) -> rusqlite::Result<EventDelivery> {
    Ok(EventDelivery {
        id: row.get(0)?,
        rule_arn: row.get(1)?,
        target_arn: row.get(2)?,
        payload: row.get(3)?,
        attempts: row.get(4)?,
    })
}

fn collect<T>(rows: impl Iterator<Item = rusqlite::Result<T>>, op: &'static str) -> Result<Vec<T>> {
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(query_err(op))
}

fn targets_of(
    tx: &Transaction<'_>,
    op: &'static str,
    bus: &str,
    rule: &str,
) -> Result<Vec<RuleTarget>> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT id, arn, spec FROM eb_targets WHERE bus = ?1 AND rule = ?2 ORDER BY id",
        )
        .map_err(query_err(op))?;
    let rows = stmt
        .query_map(params![bus, rule], target_row)
        .map_err(query_err(op))?;
    collect(rows, op)
}

fn with_targets(
    tx: &Transaction<'_>,
    op: &'static str,
    rules: Vec<EventRule>,
) -> Result<Vec<(EventRule, Vec<RuleTarget>)>> {
    let mut out = Vec::with_capacity(rules.len());
    for rule in rules {
        let targets = targets_of(tx, op, &rule.bus, &rule.name)?;
        if !targets.is_empty() {
            out.push((rule, targets));
        }
    }
    Ok(out)
}

fn insert_deliveries(
    tx: &Transaction<'_>,
    op: &'static str,
    deliveries: &[NewEventDelivery],
) -> Result<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO eb_deliveries (rule_arn, target_arn, payload, not_before_ms)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(query_err(op))?;
    for d in deliveries {
        stmt.execute(params![
            d.rule_arn,
            d.target_arn,
            d.payload,
            d.not_before_ms
        ])
        .map_err(query_err(op))?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl EventBusStore for SqliteStore {
    async fn create_bus(&self, bus: EventBus) -> Result<bool> {
        const OP: &str = "create an event bus";
        self.tx(OP, move |tx| {
            let tags = encode_tags(&bus.tags)?;
            let n = tx
                .execute(
                    "INSERT OR IGNORE INTO eb_buses (name, arn, description, tags, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![bus.name, bus.arn, bus.description, tags, bus.created_ms],
                )
                .map_err(query_err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn bus(&self, name: &str) -> Result<Option<EventBus>> {
        const OP: &str = "read an event bus";
        let name = name.to_string();
        self.tx(OP, move |tx| {
            tx.query_row(
                &format!("SELECT {BUS_COLS} FROM eb_buses WHERE name = ?1"),
                params![name],
                bus_row,
            )
            .optional()
            .map_err(query_err(OP))
        })
        .await
    }

    async fn list_buses(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EventBus>> {
        const OP: &str = "list event buses";
        let (prefix, after) = (like_prefix(prefix), after.unwrap_or("").to_string());
        self.tx(OP, move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {BUS_COLS} FROM eb_buses
                     WHERE name LIKE ?1 ESCAPE '\\' AND name > ?2 ORDER BY name LIMIT ?3"
                ))
                .map_err(query_err(OP))?;
            let rows = stmt
                .query_map(params![prefix, after, limit_of(limit)], bus_row)
                .map_err(query_err(OP))?;
            collect(rows, OP)
        })
        .await
    }

    async fn set_bus_tags(&self, name: &str, tags: BTreeMap<String, String>) -> Result<bool> {
        const OP: &str = "tag an event bus";
        let name = name.to_string();
        self.tx(OP, move |tx| {
            let tags = encode_tags(&tags)?;
            let n = tx
                .execute(
                    "UPDATE eb_buses SET tags = ?2 WHERE name = ?1",
                    params![name, tags],
                )
                .map_err(query_err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn delete_bus(&self, name: &str) -> Result<bool> {
        const OP: &str = "delete an event bus";
        let name = name.to_string();
        self.tx(OP, move |tx| {
            tx.execute("DELETE FROM eb_targets WHERE bus = ?1", params![name])
                .map_err(query_err(OP))?;
            tx.execute("DELETE FROM eb_rules WHERE bus = ?1", params![name])
                .map_err(query_err(OP))?;
            let n = tx
                .execute("DELETE FROM eb_buses WHERE name = ?1", params![name])
                .map_err(query_err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn put_rule(&self, rule: EventRule) -> Result<bool> {
        const OP: &str = "put a rule";
        self.tx(OP, move |tx| {
            let bus: Option<String> = tx
                .query_row(
                    "SELECT name FROM eb_buses WHERE name = ?1",
                    params![rule.bus],
                    |r| r.get(0),
                )
                .optional()
                .map_err(query_err(OP))?;
            if bus.is_none() {
                return Ok(false);
            }
            let tags = encode_tags(&rule.tags)?;
            tx.execute(
                "INSERT INTO eb_rules (bus, name, arn, enabled, spec, next_fire_ms, tags, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (bus, name) DO UPDATE SET enabled = excluded.enabled,
                     spec = excluded.spec, next_fire_ms = excluded.next_fire_ms,
                     tags = excluded.tags",
                params![
                    rule.bus,
                    rule.name,
                    rule.arn,
                    rule.enabled,
                    rule.spec,
                    rule.next_fire_ms,
                    tags,
                    rule.created_ms
                ],
            )
            .map_err(query_err(OP))?;
            Ok(true)
        })
        .await
    }

    async fn rule(&self, bus: &str, name: &str) -> Result<Option<EventRule>> {
        const OP: &str = "read a rule";
        let (bus, name) = (bus.to_string(), name.to_string());
        self.tx(OP, move |tx| {
            tx.query_row(
                &format!("SELECT {RULE_COLS} FROM eb_rules WHERE bus = ?1 AND name = ?2"),
                params![bus, name],
                rule_row,
            )
            .optional()
            .map_err(query_err(OP))
        })
        .await
    }

    async fn rule_by_arn(&self, arn: &str) -> Result<Option<EventRule>> {
        const OP: &str = "read a rule";
        let arn = arn.to_string();
        self.tx(OP, move |tx| {
            tx.query_row(
                &format!("SELECT {RULE_COLS} FROM eb_rules WHERE arn = ?1"),
                params![arn],
                rule_row,
            )
            .optional()
            .map_err(query_err(OP))
        })
        .await
    }

    async fn list_rules(
        &self,
        bus: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EventRule>> {
        const OP: &str = "list rules";
        let (bus, prefix) = (bus.to_string(), like_prefix(prefix));
        let after = after.unwrap_or("").to_string();
        self.tx(OP, move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {RULE_COLS} FROM eb_rules
                     WHERE bus = ?1 AND name LIKE ?2 ESCAPE '\\' AND name > ?3
                     ORDER BY name LIMIT ?4"
                ))
                .map_err(query_err(OP))?;
            let rows = stmt
                .query_map(params![bus, prefix, after, limit_of(limit)], rule_row)
                .map_err(query_err(OP))?;
            collect(rows, OP)
        })
        .await
    }

    async fn delete_rule(&self, bus: &str, name: &str) -> Result<RuleDeleted> {
        const OP: &str = "delete a rule";
        let (bus, name) = (bus.to_string(), name.to_string());
        self.tx(OP, move |tx| {
            let targets: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM eb_targets WHERE bus = ?1 AND rule = ?2",
                    params![bus, name],
                    |r| r.get(0),
                )
                .map_err(query_err(OP))?;
            let exists: Option<String> = tx
                .query_row(
                    "SELECT name FROM eb_rules WHERE bus = ?1 AND name = ?2",
                    params![bus, name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(query_err(OP))?;
            if exists.is_none() {
                return Ok(RuleDeleted::Missing);
            }
            if targets > 0 {
                return Ok(RuleDeleted::HasTargets);
            }
            tx.execute(
                "DELETE FROM eb_rules WHERE bus = ?1 AND name = ?2",
                params![bus, name],
            )
            .map_err(query_err(OP))?;
            Ok(RuleDeleted::Deleted)
        })
        .await
    }

    async fn targets(&self, bus: &str, rule: &str) -> Result<Vec<RuleTarget>> {
        const OP: &str = "list targets";
        let (bus, rule) = (bus.to_string(), rule.to_string());
        self.tx(OP, move |tx| targets_of(tx, OP, &bus, &rule)).await
    }

    async fn put_targets(&self, bus: &str, rule: &str, targets: Vec<RuleTarget>) -> Result<bool> {
        const OP: &str = "put targets";
        let (bus, rule) = (bus.to_string(), rule.to_string());
        self.tx(OP, move |tx| {
            let exists: Option<String> = tx
                .query_row(
                    "SELECT name FROM eb_rules WHERE bus = ?1 AND name = ?2",
                    params![bus, rule],
                    |r| r.get(0),
                )
                .optional()
                .map_err(query_err(OP))?;
            if exists.is_none() {
                return Ok(false);
            }
            for t in &targets {
                tx.execute(
                    "INSERT INTO eb_targets (bus, rule, id, arn, spec) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (bus, rule, id) DO UPDATE SET arn = excluded.arn, spec = excluded.spec",
                    params![bus, rule, t.id, t.arn, t.spec],
                )
                .map_err(query_err(OP))?;
            }
            Ok(true)
        })
        .await
    }

    async fn remove_targets(&self, bus: &str, rule: &str, ids: Vec<String>) -> Result<Vec<String>> {
        const OP: &str = "remove targets";
        let (bus, rule) = (bus.to_string(), rule.to_string());
        self.tx(OP, move |tx| {
            let mut removed = Vec::new();
            for id in ids {
                let n = tx
                    .execute(
                        "DELETE FROM eb_targets WHERE bus = ?1 AND rule = ?2 AND id = ?3",
                        params![bus, rule, id],
                    )
                    .map_err(query_err(OP))?;
                if n == 1 {
                    removed.push(id);
                }
            }
            Ok(removed)
        })
        .await
    }

    async fn rule_names_by_target(
        &self,
        bus: &str,
        target_arn: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        const OP: &str = "list rules by target";
        let (bus, arn) = (bus.to_string(), target_arn.to_string());
        let after = after.unwrap_or("").to_string();
        self.tx(OP, move |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT DISTINCT rule FROM eb_targets WHERE bus = ?1 AND arn = ?2 AND rule > ?3
                     ORDER BY rule LIMIT ?4",
                )
                .map_err(query_err(OP))?;
            let rows = stmt
                .query_map(params![bus, arn, after, limit_of(limit)], |r| r.get(0))
                .map_err(query_err(OP))?;
            collect(rows, OP)
        })
        .await
    }

    async fn enabled_rules(&self, bus: &str) -> Result<Vec<(EventRule, Vec<RuleTarget>)>> {
        const OP: &str = "read a bus's rules";
        let bus = bus.to_string();
        self.tx(OP, move |tx| {
            let rules = {
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "SELECT {RULE_COLS} FROM eb_rules WHERE bus = ?1 AND enabled = 1 ORDER BY name"
                    ))
                    .map_err(query_err(OP))?;
                let rows = stmt.query_map(params![bus], rule_row).map_err(query_err(OP))?;
                collect(rows, OP)?
            };
            with_targets(tx, OP, rules)
        })
        .await
    }

    async fn add_deliveries(&self, deliveries: Vec<NewEventDelivery>) -> Result<()> {
        const OP: &str = "commit event deliveries";
        if deliveries.is_empty() {
            return Ok(());
        }
        self.tx(OP, move |tx| insert_deliveries(tx, OP, &deliveries))
            .await
    }

    async fn due_rules(&self, now_ms: i64) -> Result<Vec<(EventRule, Vec<RuleTarget>)>> {
        const OP: &str = "read due rules";
        self.tx(OP, move |tx| {
            let rules = {
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "SELECT {RULE_COLS} FROM eb_rules
                         WHERE enabled = 1 AND next_fire_ms IS NOT NULL AND next_fire_ms <= ?1
                         ORDER BY next_fire_ms"
                    ))
                    .map_err(query_err(OP))?;
                let rows = stmt
                    .query_map(params![now_ms], rule_row)
                    .map_err(query_err(OP))?;
                collect(rows, OP)?
            };
            // A due rule without targets still moves on (fire_rule with
            // no deliveries): it is returned with an empty list.
            let mut out = Vec::with_capacity(rules.len());
            for rule in rules {
                let targets = targets_of(tx, OP, &rule.bus, &rule.name)?;
                out.push((rule, targets));
            }
            Ok(out)
        })
        .await
    }

    async fn fire_rule(
        &self,
        arn: &str,
        due_ms: i64,
        next_ms: Option<i64>,
        deliveries: Vec<NewEventDelivery>,
    ) -> Result<bool> {
        const OP: &str = "fire a scheduled rule";
        let arn = arn.to_string();
        self.tx(OP, move |tx| {
            let n = tx
                .execute(
                    "UPDATE eb_rules SET next_fire_ms = ?3 WHERE arn = ?1 AND next_fire_ms = ?2",
                    params![arn, due_ms, next_ms],
                )
                .map_err(query_err(OP))?;
            if n == 1 {
                insert_deliveries(tx, OP, &deliveries)?;
            }
            Ok(n == 1)
        })
        .await
    }

    async fn next_rule_due(&self) -> Result<Option<i64>> {
        const OP: &str = "next scheduled rule";
        self.tx(OP, move |tx| {
            tx.query_row(
                "SELECT MIN(next_fire_ms) FROM eb_rules WHERE enabled = 1",
                [],
                |r| r.get(0),
            )
            .map_err(query_err(OP))
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<EventDelivery>> {
        const OP: &str = "claim event deliveries";
        let owner = owner.to_string();
        self.tx(OP, move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "UPDATE eb_deliveries SET claimed_by = ?1, lease_until_ms = ?2
                     WHERE id IN (
                         SELECT id FROM eb_deliveries
                         WHERE not_before_ms <= ?3
                           AND (lease_until_ms IS NULL OR lease_until_ms <= ?3)
                         ORDER BY not_before_ms, id LIMIT ?4)
                     RETURNING {DELIVERY_COLS}"
                ))
                .map_err(query_err(OP))?;
            let rows = stmt
                .query_map(
                    params![owner, lease_until_ms, now_ms, limit_of(limit)],
                    delivery_row,
                )
                .map_err(query_err(OP))?;
            let mut out = collect(rows, OP)?;
            out.sort_by_key(|d| d.id);
            Ok(out)
        })
        .await
    }

    async fn finish_delivery(&self, id: i64, owner: &str) -> Result<bool> {
        const OP: &str = "finish an event delivery";
        let owner = owner.to_string();
        self.tx(OP, move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM eb_deliveries WHERE id = ?1 AND claimed_by = ?2",
                    params![id, owner],
                )
                .map_err(query_err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn retry_delivery(
        &self,
        id: i64,
        owner: &str,
        attempts: u32,
        not_before_ms: i64,
    ) -> Result<bool> {
        const OP: &str = "retry an event delivery";
        let owner = owner.to_string();
        self.tx(OP, move |tx| {
            let n = tx
                .execute(
                    "UPDATE eb_deliveries SET attempts = ?3, not_before_ms = ?4,
                         claimed_by = NULL, lease_until_ms = NULL
                     WHERE id = ?1 AND claimed_by = ?2",
                    params![id, owner, attempts, not_before_ms],
                )
                .map_err(query_err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn release_delivery_claims(&self) -> Result<u64> {
        const OP: &str = "release event delivery claims";
        self.tx(OP, move |tx| {
            let n = tx
                .execute(
                    "UPDATE eb_deliveries SET claimed_by = NULL, lease_until_ms = NULL
                     WHERE claimed_by IS NOT NULL",
                    [],
                )
                .map_err(query_err(OP))?;
            Ok(n as u64)
        })
        .await
    }

    async fn next_delivery_due(&self) -> Result<Option<i64>> {
        const OP: &str = "next event delivery";
        self.tx(OP, move |tx| {
            tx.query_row(
                "SELECT MIN(MAX(not_before_ms, COALESCE(lease_until_ms, 0))) FROM eb_deliveries",
                [],
                |r| r.get(0),
            )
            .map_err(query_err(OP))
        })
        .await
    }

    async fn pending_deliveries(&self) -> Result<u64> {
        const OP: &str = "count event deliveries";
        self.tx(OP, move |tx| {
            let n: i64 = tx
                .query_row("SELECT COUNT(*) FROM eb_deliveries", [], |r| r.get(0))
                .map_err(query_err(OP))?;
            Ok(n as u64)
        })
        .await
    }
}

#[cfg(test)]
#[path = "events_bus_tests.rs"]
mod tests;
