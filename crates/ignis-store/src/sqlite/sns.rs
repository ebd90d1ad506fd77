//! [`SnsStore`] on SQLite: each method one transaction on the connection
//! [`SqliteStore`] holds (tables of migration 9).

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::{query_err, SqliteStore};
use crate::sns::{
    Dedup, DeliveriesFor, NewDelivery, Published, SnsDelivery, SnsStore, SnsSubscription, SnsTopic,
};
use crate::store::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

fn encode_map(what: &str, map: &BTreeMap<String, String>) -> Result<String> {
    serde_json::to_string(map).map_err(|source| StoreError::Encode {
        name: what.to_string(),
        source,
    })
}

fn decode_map(text: &str) -> rusqlite::Result<BTreeMap<String, String>> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

const TOPIC_COLS: &str = "name, arn, attributes, tags, created_ms";

fn topic_row(row: &Row<'_>) -> rusqlite::Result<SnsTopic> {
    Ok(SnsTopic {
        name: row.get(0)?,
        arn: row.get(1)?,
        attributes: decode_map(&row.get::<_, String>(2)?)?,
        tags: decode_map(&row.get::<_, String>(3)?)?,
        created_ms: row.get(4)?,
    })
}

const SUB_COLS: &str =
    "arn, topic_arn, protocol, endpoint, owner, attributes, confirmed, token, created_ms";

fn sub_row(row: &Row<'_>) -> rusqlite::Result<SnsSubscription> {
    Ok(SnsSubscription {
        arn: row.get(0)?,
        topic_arn: row.get(1)?,
        protocol: row.get(2)?,
        endpoint: row.get(3)?,
        owner: row.get(4)?,
        attributes: decode_map(&row.get::<_, String>(5)?)?,
        confirmed: row.get(6)?,
        token: row.get(7)?,
        created_ms: row.get(8)?,
    })
}

fn get_topic(tx: &Transaction<'_>, op: &'static str, arn: &str) -> Result<Option<SnsTopic>> {
    tx.query_row(
        &format!("SELECT {TOPIC_COLS} FROM sns_topics WHERE arn = ?1"),
        [arn],
        topic_row,
    )
    .optional()
    .map_err(query_err(op))
}

fn get_sub(tx: &Transaction<'_>, op: &'static str, arn: &str) -> Result<Option<SnsSubscription>> {
    tx.query_row(
        &format!("SELECT {SUB_COLS} FROM sns_subscriptions WHERE arn = ?1"),
        [arn],
        sub_row,
    )
    .optional()
    .map_err(query_err(op))
}

fn insert_deliveries(tx: &Transaction<'_>, op: &'static str, rows: &[NewDelivery]) -> Result<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO sns_deliveries (subscription_arn, ordering_key, payload, not_before_ms)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(query_err(op))?;
    for d in rows {
        stmt.execute(params![
            d.subscription_arn,
            d.ordering_key,
            d.payload,
            d.not_before_ms
        ])
        .map_err(query_err(op))?;
    }
    Ok(())
}

const DELIVERY_COLS: &str = "id, subscription_arn, ordering_key, payload, attempts";

fn delivery_row(row: &Row<'_>) -> rusqlite::Result<SnsDelivery> {
    let attempts: i64 = row.get(4)?;
    Ok(SnsDelivery {
        id: row.get(0)?,
        subscription_arn: row.get(1)?,
        ordering_key: row.get(2)?,
        payload: row.get(3)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
    })
}

#[async_trait::async_trait]
impl SnsStore for SqliteStore {
    async fn create_topic(&self, topic: SnsTopic) -> Result<(SnsTopic, bool)> {
        const OP: &str = "create a topic";
        self.tx(OP, move |tx| {
            if let Some(found) = tx
                .query_row(
                    &format!("SELECT {TOPIC_COLS} FROM sns_topics WHERE name = ?1"),
                    [&topic.name],
                    topic_row,
                )
                .optional()
                .map_err(query_err(OP))?
            {
                return Ok((found, false));
            }
            tx.execute(
                "INSERT INTO sns_topics (arn, name, attributes, tags, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    topic.arn,
                    topic.name,
                    encode_map("topic attributes", &topic.attributes)?,
                    encode_map("topic tags", &topic.tags)?,
                    topic.created_ms
                ],
            )
            .map_err(query_err(OP))?;
            Ok((topic, true))
        })
        .await
    }

    async fn topic(&self, arn: &str) -> Result<Option<SnsTopic>> {
        let arn = arn.to_string();
        self.tx("read a topic", move |tx| {
            get_topic(tx, "read a topic", &arn)
        })
        .await
    }

    async fn update_topic(&self, topic: &SnsTopic) -> Result<bool> {
        const OP: &str = "update a topic";
        let attributes = encode_map("topic attributes", &topic.attributes)?;
        let tags = encode_map("topic tags", &topic.tags)?;
        let arn = topic.arn.clone();
        self.tx(OP, move |tx| {
            let n = tx
                .execute(
                    "UPDATE sns_topics SET attributes = ?2, tags = ?3 WHERE arn = ?1",
                    params![arn, attributes, tags],
                )
                .map_err(query_err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn delete_topic(&self, arn: &str) -> Result<bool> {
        const OP: &str = "delete a topic";
        let arn = arn.to_string();
        self.tx(OP, move |tx| {
            let n = tx
                .execute("DELETE FROM sns_topics WHERE arn = ?1", [&arn])
                .map_err(query_err(OP))?;
            tx.execute("DELETE FROM sns_subscriptions WHERE topic_arn = ?1", [&arn])
                .map_err(query_err(OP))?;
            tx.execute("DELETE FROM sns_dedup WHERE topic_arn = ?1", [&arn])
                .map_err(query_err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn list_topics(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        const OP: &str = "list topics";
        let after = after.unwrap_or("").to_string();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.tx(OP, move |tx| {
            let mut stmt = tx
                .prepare_cached("SELECT arn FROM sns_topics WHERE arn > ?1 ORDER BY arn LIMIT ?2")
                .map_err(query_err(OP))?;
            let rows = stmt
                .query_map(params![after, limit], |r| r.get(0))
                .map_err(query_err(OP))?;
            rows.collect::<rusqlite::Result<Vec<String>>>()
                .map_err(query_err(OP))
        })
        .await
    }

    async fn subscribe(
        &self,
        sub: SnsSubscription,
        deliveries: Vec<NewDelivery>,
    ) -> Result<Option<(SnsSubscription, bool)>> {
        const OP: &str = "subscribe";
        self.tx(OP, move |tx| {
            if get_topic(tx, OP, &sub.topic_arn)?.is_none() {
                return Ok(None);
            }
            let found = tx
                .query_row(
                    &format!(
                        "SELECT {SUB_COLS} FROM sns_subscriptions
                         WHERE topic_arn = ?1 AND protocol = ?2 AND endpoint = ?3"
                    ),
                    params![sub.topic_arn, sub.protocol, sub.endpoint],
                    sub_row,
                )
                .optional()
                .map_err(query_err(OP))?;
            if let Some(found) = found {
                return Ok(Some((found, false)));
            }
            tx.execute(
                &format!("INSERT INTO sns_subscriptions ({SUB_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                params![
                    sub.arn,
                    sub.topic_arn,
                    sub.protocol,
                    sub.endpoint,
                    sub.owner,
                    encode_map("subscription attributes", &sub.attributes)?,
                    sub.confirmed,
                    sub.token,
                    sub.created_ms
                ],
            )
            .map_err(query_err(OP))?;
            insert_deliveries(tx, OP, &deliveries)?;
            Ok(Some((sub, true)))
        })
        .await
    }

    async fn subscription(&self, arn: &str) -> Result<Option<SnsSubscription>> {
        let arn = arn.to_string();
        self.tx("read a subscription", move |tx| {
            get_sub(tx, "read a subscription", &arn)
        })
        .await
    }

    async fn subscription_by_token(
        &self,
        topic_arn: &str,
        token: &str,
    ) -> Result<Option<SnsSubscription>> {
        const OP: &str = "read a subscription by token";
        let (topic_arn, token) = (topic_arn.to_string(), token.to_string());
        self.tx(OP, move |tx| {
            tx.query_row(
                &format!(
                    "SELECT {SUB_COLS} FROM sns_subscriptions WHERE topic_arn = ?1 AND token = ?2"
                ),
                params![topic_arn, token],
                sub_row,
            )
            .optional()
            .map_err(query_err(OP))
        })
        .await
    }

    async fn update_subscription(&self, sub: &SnsSubscription) -> Result<bool> {
        const OP: &str = "update a subscription";
        let attributes = encode_map("subscription attributes", &sub.attributes)?;
        let (arn, confirmed, token) = (sub.arn.clone(), sub.confirmed, sub.token.clone());
        self.tx(OP, move |tx| {
            let n = tx
                .execute(
                    "UPDATE sns_subscriptions SET attributes = ?2, confirmed = ?3, token = ?4
                     WHERE arn = ?1",
                    params![arn, attributes, confirmed, token],
                )
                .map_err(query_err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn unsubscribe(&self, arn: &str, deliveries: Vec<NewDelivery>) -> Result<bool> {
        const OP: &str = "unsubscribe";
        let arn = arn.to_string();
        self.tx(OP, move |tx| {
            let n = tx
                .execute("DELETE FROM sns_subscriptions WHERE arn = ?1", [&arn])
                .map_err(query_err(OP))?;
            if n == 1 {
                insert_deliveries(tx, OP, &deliveries)?;
            }
            Ok(n == 1)
        })
        .await
    }

    async fn list_subscriptions(
        &self,
        topic_arn: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SnsSubscription>> {
        const OP: &str = "list subscriptions";
        let topic_arn = topic_arn.map(str::to_string);
        let after = after.unwrap_or("").to_string();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.tx(OP, move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {SUB_COLS} FROM sns_subscriptions
                     WHERE (?1 IS NULL OR topic_arn = ?1) AND arn > ?2 ORDER BY arn LIMIT ?3"
                ))
                .map_err(query_err(OP))?;
            let rows = stmt
                .query_map(params![topic_arn, after, limit], sub_row)
                .map_err(query_err(OP))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(query_err(OP))
        })
        .await
    }

    async fn publish(
        &self,
        topic_arn: &str,
        dedup: Option<Dedup>,
        deliveries: DeliveriesFor,
    ) -> Result<Published> {
        const OP: &str = "publish";
        let topic_arn = topic_arn.to_string();
        self.tx(OP, move |tx| {
            let sequence: Option<i64> = tx
                .query_row(
                    "SELECT sequence FROM sns_topics WHERE arn = ?1",
                    [&topic_arn],
                    |r| r.get(0),
                )
                .optional()
                .map_err(query_err(OP))?;
            let Some(sequence) = sequence else {
                return Ok(Published::NoTopic);
            };
            let mut next = 0u64;
            if let Some(d) = &dedup {
                tx.execute(
                    "DELETE FROM sns_dedup WHERE topic_arn = ?1 AND until_ms <= ?2",
                    params![topic_arn, d.now_ms],
                )
                .map_err(query_err(OP))?;
                let seen: Option<(String, i64)> = tx
                    .query_row(
                        "SELECT message_id, sequence FROM sns_dedup
                         WHERE topic_arn = ?1 AND dedup_id = ?2",
                        params![topic_arn, d.id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(query_err(OP))?;
                if let Some((message_id, sequence)) = seen {
                    return Ok(Published::Duplicate {
                        message_id,
                        sequence: sequence as u64,
                    });
                }
                let seq = sequence + 1;
                tx.execute(
                    "UPDATE sns_topics SET sequence = ?2 WHERE arn = ?1",
                    params![topic_arn, seq],
                )
                .map_err(query_err(OP))?;
                tx.execute(
                    "INSERT INTO sns_dedup (topic_arn, dedup_id, message_id, sequence, until_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![topic_arn, d.id, d.message_id, seq, d.until_ms],
                )
                .map_err(query_err(OP))?;
                next = seq as u64;
            }
            insert_deliveries(tx, OP, &deliveries(next)?)?;
            Ok(Published::Accepted { sequence: next })
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<SnsDelivery>> {
        const OP: &str = "claim deliveries";
        let owner = owner.to_string();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.tx(OP, move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "UPDATE sns_deliveries SET claimed_by = ?1, lease_until_ms = ?2
                     WHERE id IN (
                         SELECT d.id FROM sns_deliveries d
                         WHERE d.not_before_ms <= ?3
                           AND (d.lease_until_ms IS NULL OR d.lease_until_ms <= ?3)
                           AND (d.ordering_key IS NULL OR d.id = (
                               SELECT MIN(o.id) FROM sns_deliveries o
                               WHERE o.ordering_key = d.ordering_key))
                         ORDER BY d.not_before_ms, d.id LIMIT ?4)
                     RETURNING {DELIVERY_COLS}"
                ))
                .map_err(query_err(OP))?;
            let rows = stmt
                .query_map(params![owner, lease_until_ms, now_ms, limit], delivery_row)
                .map_err(query_err(OP))?;
            let mut out = rows
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(query_err(OP))?;
            out.sort_by_key(|d| d.id);
            Ok(out)
        })
        .await
    }

    async fn finish_delivery(
        &self,
        id: i64,
        owner: &str,
        then: Option<NewDelivery>,
    ) -> Result<bool> {
        const OP: &str = "finish a delivery";
        let owner = owner.to_string();
        self.tx(OP, move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM sns_deliveries WHERE id = ?1 AND claimed_by = ?2",
                    params![id, owner],
                )
                .map_err(query_err(OP))?;
            if n == 1 {
                insert_deliveries(tx, OP, then.as_slice())?;
            }
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
        const OP: &str = "reschedule a delivery";
        let owner = owner.to_string();
        self.tx(OP, move |tx| {
            let n = tx
                .execute(
                    "UPDATE sns_deliveries SET attempts = ?3, not_before_ms = ?4,
                         claimed_by = NULL, lease_until_ms = NULL
                     WHERE id = ?1 AND claimed_by = ?2",
                    params![id, owner, i64::from(attempts), not_before_ms],
                )
                .map_err(query_err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn release_delivery_claims(&self) -> Result<u64> {
        const OP: &str = "release delivery claims";
        self.tx(OP, move |tx| {
            let n = tx
                .execute(
                    "UPDATE sns_deliveries SET claimed_by = NULL, lease_until_ms = NULL
                     WHERE claimed_by IS NOT NULL",
                    [],
                )
                .map_err(query_err(OP))?;
            Ok(n as u64)
        })
        .await
    }

    async fn next_delivery_due(&self) -> Result<Option<i64>> {
        const OP: &str = "read the next delivery's due time";
        self.tx(OP, move |tx| {
            tx.query_row(
                "SELECT MIN(MAX(d.not_before_ms, COALESCE(d.lease_until_ms, 0)))
                 FROM sns_deliveries d
                 WHERE d.ordering_key IS NULL OR d.id = (
                     SELECT MIN(o.id) FROM sns_deliveries o WHERE o.ordering_key = d.ordering_key)",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map_err(query_err(OP))
        })
        .await
    }

    async fn pending_deliveries(&self) -> Result<u64> {
        const OP: &str = "count deliveries";
        self.tx(OP, move |tx| {
            tx.query_row("SELECT COUNT(*) FROM sns_deliveries", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(query_err(OP))
        })
        .await
    }
}

#[cfg(test)]
#[path = "sns_tests.rs"]
mod tests;
