//! [`SqsStore`] on SQLite: each method one transaction on the connection
//! [`SqliteStore`] holds (tables of migration 7); the claim protocol is
//! described in [`crate::sqs`].

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::{query_err, SqliteStore};
use crate::sqs::{
    ClaimSpec, Claimed, DeleteOutcome, MessageCounts, MoveTarget, MoveTaskRecord, NewMessage,
    PurgeOutcome, SendOutcome, SqsQueueRecord, SqsStore, StoredMessage, VisibilityOutcome,
};
use crate::store::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

fn encode_map(op: &'static str, map: &BTreeMap<String, String>) -> Result<String> {
    serde_json::to_string(map).map_err(|source| StoreError::Encode {
        name: op.to_string(),
        source,
    })
}

fn decode_map(name: &str, text: &str) -> Result<BTreeMap<String, String>> {
    serde_json::from_str(text).map_err(|source| StoreError::CorruptRecord {
        name: format!("queue {name}"),
        source,
    })
}

const QUEUE_COLS: &str = "name, attributes, tags, created_s, modified_s";

fn queue_row(row: &Row<'_>) -> rusqlite::Result<(String, String, String, i64, i64)> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn queue_record(raw: (String, String, String, i64, i64)) -> Result<SqsQueueRecord> {
    let (name, attributes, tags, created_s, modified_s) = raw;
    Ok(SqsQueueRecord {
        attributes: decode_map(&name, &attributes)?,
        tags: decode_map(&name, &tags)?,
        name,
        created_s,
        modified_s,
    })
}

fn read_queue(
    tx: &Transaction<'_>,
    op: &'static str,
    name: &str,
) -> Result<Option<SqsQueueRecord>> {
    tx.prepare_cached(&format!(
        "SELECT {QUEUE_COLS} FROM sqs_queues WHERE name = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([name], queue_row).optional())
    .map_err(query_err(op))?
    .map(queue_record)
    .transpose()
}

fn queue_exists(tx: &Transaction<'_>, op: &'static str, name: &str) -> Result<bool> {
    tx.prepare_cached("SELECT 1 FROM sqs_queues WHERE name = ?1")
        .and_then(|mut stmt| stmt.exists([name]))
        .map_err(query_err(op))
}

const MESSAGE_COLS: &str = "id, message_id, body, attributes, system_attributes, md5_body, \
     md5_attributes, sender_id, sent_ms, receive_count, first_receive_ms, receipt, group_id, \
     dedup_id, sequence, dlq_source";

fn message_row(row: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    let count: i64 = row.get(9)?;
    Ok(StoredMessage {
        id: row.get(0)?,
        message_id: row.get(1)?,
        body: row.get(2)?,
        attributes: row.get(3)?,
        system_attributes: row.get(4)?,
        md5_body: row.get(5)?,
        md5_attributes: row.get(6)?,
        sender_id: row.get(7)?,
        sent_ms: row.get(8)?,
        receive_count: u32::try_from(count).unwrap_or(u32::MAX),
        first_receive_ms: row.get(10)?,
        receipt: row.get::<_, Option<String>>(11)?.unwrap_or_default(),
        group_id: row.get(12)?,
        dedup_id: row.get(13)?,
        sequence: row.get(14)?,
        dlq_source: row.get(15)?,
    })
}

/// Inserts one message row (sequence as given).
fn insert_message(
    tx: &Transaction<'_>,
    op: &'static str,
    queue: &str,
    m: &NewMessage,
    sequence: Option<i64>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO sqs_messages (queue, message_id, body, attributes, system_attributes,
             md5_body, md5_attributes, md5_system, sender_id, sent_ms, visible_at_ms,
             group_id, dedup_id, sequence, dlq_source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            queue,
            m.message_id,
            m.body,
            m.attributes,
            m.system_attributes,
            m.md5_body,
            m.md5_attributes,
            m.md5_system,
            m.sender_id,
            m.sent_ms,
            m.visible_at_ms,
            m.group_id,
            m.dedup_id,
            sequence,
            m.dlq_source,
        ])
    })
    .map_err(query_err(op))?;
    Ok(())
}

/// Stores one message of a send, with FIFO sequence and deduplication.
fn send_one(tx: &Transaction<'_>, queue: &str, m: &NewMessage, now_ms: i64) -> Result<SendOutcome> {
    const OP: &str = "send a message";
    if let Some((key, _)) = &m.dedup {
        let seen: Option<(String, Option<i64>)> = tx
            .prepare_cached(
                "SELECT message_id, sequence FROM sqs_dedup
                 WHERE queue = ?1 AND key = ?2 AND expires_ms > ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![queue, key, now_ms], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(query_err(OP))?;
        if let Some((message_id, sequence)) = seen {
            return Ok(SendOutcome::Duplicate {
                message_id,
                sequence,
            });
        }
    }
    let sequence = if m.group_id.is_some() {
        let n: i64 = tx
            .prepare_cached(
                "UPDATE sqs_queues SET sequence = sequence + 1 WHERE name = ?1 RETURNING sequence",
            )
            .and_then(|mut stmt| stmt.query_row([queue], |r| r.get(0)))
            .map_err(query_err(OP))?;
        Some(n)
    } else {
        None
    };
    insert_message(tx, OP, queue, m, sequence)?;
    if let Some((key, expires_ms)) = &m.dedup {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO sqs_dedup (queue, key, message_id, sequence, expires_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut stmt| stmt.execute(params![queue, key, m.message_id, sequence, expires_ms]))
        .map_err(query_err(OP))?;
    }
    Ok(SendOutcome::Stored { sequence })
}

/// Candidate rows of a claim: `(id, sent_ms, receive_count)`, in delivery
/// order, at most `limit`.
fn candidates(
    tx: &Transaction<'_>,
    queue: &str,
    spec: &ClaimSpec,
    limit: usize,
) -> Result<Vec<(i64, i64, i64)>> {
    const OP: &str = "select messages to receive";
    let sql = if spec.fifo {
        // Per group: nothing in flight, and only the visible prefix (a
        // delayed message holds back the ones after it); groups by their
        // oldest message.
        "SELECT id, sent_ms, receive_count FROM (
             SELECT id, sent_ms, receive_count, visible_at_ms,
                    MIN(CASE WHEN visible_at_ms > ?2 THEN id END) OVER w AS first_hidden,
                    MAX(CASE WHEN visible_at_ms > ?2 AND receipt IS NOT NULL THEN 1 ELSE 0 END)
                        OVER w AS busy,
                    MIN(id) OVER w AS head
             FROM sqs_messages WHERE queue = ?1
             WINDOW w AS (PARTITION BY group_id))
         WHERE busy = 0 AND visible_at_ms <= ?2 AND (first_hidden IS NULL OR id < first_hidden)
         ORDER BY head, id LIMIT ?3"
    } else {
        "SELECT id, sent_ms, receive_count FROM sqs_messages
         WHERE queue = ?1 AND visible_at_ms <= ?2
         ORDER BY visible_at_ms, id LIMIT ?3"
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = tx.prepare_cached(sql).map_err(query_err(OP))?;
    let rows = stmt
        .query_map(params![queue, spec.now_ms, limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(query_err(OP))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(query_err(OP))
}

/// Moves row `id` into queue `to` as a new row (receive count reset,
/// `dlq_source` as given) and deletes it.
fn move_row(
    tx: &Transaction<'_>,
    op: &'static str,
    id: i64,
    to: &str,
    dlq_source: Option<&str>,
    now_ms: i64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO sqs_messages (queue, message_id, body, attributes, system_attributes,
             md5_body, md5_attributes, md5_system, sender_id, sent_ms, visible_at_ms,
             group_id, dedup_id, sequence, dlq_source)
         SELECT ?2, message_id, body, attributes, system_attributes, md5_body, md5_attributes,
             md5_system, sender_id, sent_ms, ?4, group_id, dedup_id, sequence, ?3
         FROM sqs_messages WHERE id = ?1",
    )
    .and_then(|mut stmt| stmt.execute(params![id, to, dlq_source, now_ms]))
    .map_err(query_err(op))?;
    delete_row(tx, op, id)
}

fn delete_row(tx: &Transaction<'_>, op: &'static str, id: i64) -> Result<()> {
    tx.prepare_cached("DELETE FROM sqs_messages WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute([id]))
        .map_err(query_err(op))?;
    Ok(())
}

fn claim(tx: &Transaction<'_>, queue: &str, spec: &ClaimSpec) -> Result<Claimed> {
    const OP: &str = "receive messages";
    let mut out = Claimed::default();
    let mut delivered = std::collections::HashSet::new();
    let dlq = match &spec.redrive {
        Some((dlq, max)) if queue_exists(tx, OP, dlq)? => Some((dlq.as_str(), i64::from(*max))),
        _ => None,
    };
    while out.delivered.len() < spec.limit {
        let want = spec.limit - out.delivered.len();
        let rows = candidates(tx, queue, spec, want)?;
        if rows.is_empty() {
            break;
        }
        let mut skipped = false;
        for (id, sent_ms, receive_count) in rows {
            if !delivered.insert(id) {
                // Delivered in an earlier pass (a zero visibility timeout).
                continue;
            }
            if sent_ms < spec.expired_before_ms {
                delete_row(tx, OP, id)?;
                out.expired += 1;
                skipped = true;
            } else if let Some((dlq, _)) = dlq.filter(|(_, max)| receive_count >= *max) {
                move_row(tx, OP, id, dlq, Some(&spec.source_arn), spec.now_ms)?;
                out.moved += 1;
                skipped = true;
            } else {
                let m = tx
                    .prepare_cached(&format!(
                        "UPDATE sqs_messages SET visible_at_ms = ?2, receipt = ?3,
                             receive_count = receive_count + 1,
                             first_receive_ms = COALESCE(first_receive_ms, ?4)
                         WHERE id = ?1 RETURNING {MESSAGE_COLS}"
                    ))
                    .and_then(|mut stmt| {
                        stmt.query_row(
                            params![id, spec.visible_until_ms, spec.token, spec.now_ms],
                            message_row,
                        )
                    })
                    .map_err(query_err(OP))?;
                out.delivered.push(m);
            }
        }
        // FIFO: a delivered message holds its group, so a second pass only
        // finds more when something was dropped or moved.
        if !skipped {
            break;
        }
    }
    Ok(out)
}

fn move_messages(
    tx: &Transaction<'_>,
    from: &str,
    to: &MoveTarget,
    limit: usize,
    now_ms: i64,
) -> Result<u64> {
    const OP: &str = "move messages";
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows: Vec<(i64, Option<String>)> = {
        let mut stmt = tx
            .prepare_cached(
                "SELECT id, dlq_source FROM sqs_messages
                 WHERE queue = ?1 AND visible_at_ms <= ?2 ORDER BY visible_at_ms, id LIMIT ?3",
            )
            .map_err(query_err(OP))?;
        let rows = stmt
            .query_map(params![from, now_ms, limit], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(query_err(OP))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(query_err(OP))?
    };
    let mut moved = 0;
    for (id, source) in rows {
        let dest = match to {
            MoveTarget::Queue(name) => Some(name.as_str()),
            MoveTarget::Sources(names) => source
                .as_deref()
                .and_then(|arn| names.get(arn))
                .map(String::as_str),
        };
        if let Some(dest) = dest {
            if queue_exists(tx, OP, dest)? {
                move_row(tx, OP, id, dest, None, now_ms)?;
                moved += 1;
            }
        }
    }
    Ok(moved)
}

/// Deletes one message by handle; when nothing was deleted, says why.
fn delete_one(
    tx: &Transaction<'_>,
    queue: &str,
    id: i64,
    token: &str,
    now_ms: i64,
    in_flight_only: bool,
) -> Result<DeleteOutcome> {
    const OP: &str = "delete messages";
    let deleted = tx
        .prepare_cached(
            "DELETE FROM sqs_messages WHERE id = ?1 AND queue = ?2 AND receipt = ?3
                 AND (?4 = 0 OR visible_at_ms > ?5)",
        )
        .and_then(|mut stmt| stmt.execute(params![id, queue, token, in_flight_only, now_ms]))
        .map_err(query_err(OP))?;
    if deleted == 1 {
        return Ok(DeleteOutcome::Deleted);
    }
    let found: Option<Option<String>> = tx
        .prepare_cached("SELECT receipt FROM sqs_messages WHERE id = ?1 AND queue = ?2")
        .and_then(|mut stmt| stmt.query_row(params![id, queue], |r| r.get(0)).optional())
        .map_err(query_err(OP))?;
    Ok(match found {
        None => DeleteOutcome::Gone,
        Some(receipt) if receipt.as_deref() == Some(token) => DeleteOutcome::Expired,
        Some(_) => DeleteOutcome::Stale,
    })
}

const TASK_COLS: &str = "handle, source_arn, destination_arn, max_per_second, status, moved, \
                         to_move, started_ms, failure_reason";

fn task_row(row: &Row<'_>) -> rusqlite::Result<MoveTaskRecord> {
    let rate: Option<i64> = row.get(3)?;
    let moved: i64 = row.get(5)?;
    let to_move: i64 = row.get(6)?;
    Ok(MoveTaskRecord {
        handle: row.get(0)?,
        source_arn: row.get(1)?,
        destination_arn: row.get(2)?,
        max_per_second: rate.and_then(|r| u32::try_from(r).ok()),
        status: row.get(4)?,
        moved: u64::try_from(moved).unwrap_or(0),
        to_move: u64::try_from(to_move).unwrap_or(0),
        started_ms: row.get(7)?,
        failure_reason: row.get(8)?,
    })
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl SqsStore for SqliteStore {
    async fn create_queue(&self, queue: &SqsQueueRecord) -> Result<(SqsQueueRecord, bool)> {
        const OP: &str = "create a queue";
        let attributes = encode_map(OP, &queue.attributes)?;
        let tags = encode_map(OP, &queue.tags)?;
        let queue = queue.clone();
        self.tx(OP, move |tx| {
            let inserted = tx
                .execute(
                    "INSERT INTO sqs_queues (name, attributes, tags, created_s, modified_s)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING",
                    params![
                        queue.name,
                        attributes,
                        tags,
                        queue.created_s,
                        queue.modified_s
                    ],
                )
                .map_err(query_err(OP))?;
            if inserted == 1 {
                return Ok((queue, true));
            }
            let existing = read_queue(tx, OP, &queue.name)?
                .ok_or_else(|| StoreError::Conflict(format!("queue {} vanished", queue.name)))?;
            Ok((existing, false))
        })
        .await
    }

    async fn get_queue(&self, name: &str) -> Result<Option<SqsQueueRecord>> {
        const OP: &str = "get a queue";
        let name = name.to_string();
        self.tx(OP, move |tx| read_queue(tx, OP, &name)).await
    }

    async fn list_queues(&self) -> Result<Vec<SqsQueueRecord>> {
        const OP: &str = "list queues";
        self.tx(OP, move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {QUEUE_COLS} FROM sqs_queues ORDER BY name"
                ))
                .map_err(query_err(OP))?;
            let raw = stmt
                .query_map([], queue_row)
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(query_err(OP))?;
            raw.into_iter().map(queue_record).collect()
        })
        .await
    }

    async fn set_queue_attributes(
        &self,
        name: &str,
        set: &BTreeMap<String, String>,
        modified_s: i64,
    ) -> Result<bool> {
        const OP: &str = "set queue attributes";
        let (name, set) = (name.to_string(), set.clone());
        self.tx(OP, move |tx| {
            let Some(mut queue) = read_queue(tx, OP, &name)? else {
                return Ok(false);
            };
            for (k, v) in set {
                if v.is_empty() {
                    queue.attributes.remove(&k);
                } else {
                    queue.attributes.insert(k, v);
                }
            }
            tx.execute(
                "UPDATE sqs_queues SET attributes = ?2, modified_s = ?3 WHERE name = ?1",
                params![name, encode_map(OP, &queue.attributes)?, modified_s],
            )
            .map_err(query_err(OP))?;
            Ok(true)
        })
        .await
    }

    async fn tag_queue(
        &self,
        name: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<bool> {
        const OP: &str = "tag a queue";
        let (name, set, remove) = (name.to_string(), set.clone(), remove.to_vec());
        self.tx(OP, move |tx| {
            let Some(mut queue) = read_queue(tx, OP, &name)? else {
                return Ok(false);
            };
            queue.tags.extend(set);
            for k in remove {
                queue.tags.remove(&k);
            }
            tx.execute(
                "UPDATE sqs_queues SET tags = ?2 WHERE name = ?1",
                params![name, encode_map(OP, &queue.tags)?],
            )
            .map_err(query_err(OP))?;
            Ok(true)
        })
        .await
    }

    async fn delete_queue(&self, name: &str) -> Result<bool> {
        const OP: &str = "delete a queue";
        let name = name.to_string();
        self.tx(OP, move |tx| {
            let n = tx
                .execute("DELETE FROM sqs_queues WHERE name = ?1", [&name])
                .map_err(query_err(OP))?;
            tx.execute("DELETE FROM sqs_messages WHERE queue = ?1", [&name])
                .map_err(query_err(OP))?;
            tx.execute("DELETE FROM sqs_dedup WHERE queue = ?1", [&name])
                .map_err(query_err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn purge_queue(
        &self,
        name: &str,
        now_ms: i64,
        min_interval_ms: i64,
    ) -> Result<PurgeOutcome> {
        const OP: &str = "purge a queue";
        let name = name.to_string();
        self.tx(OP, move |tx| {
            let last: Option<Option<i64>> = tx
                .query_row(
                    "SELECT purged_ms FROM sqs_queues WHERE name = ?1",
                    [&name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(query_err(OP))?;
            match last {
                None => return Ok(PurgeOutcome::NoQueue),
                Some(Some(t)) if now_ms - t < min_interval_ms => {
                    return Ok(PurgeOutcome::InProgress)
                }
                Some(_) => {}
            }
            tx.execute(
                "UPDATE sqs_queues SET purged_ms = ?2 WHERE name = ?1",
                params![name, now_ms],
            )
            .map_err(query_err(OP))?;
            let n = tx
                .execute("DELETE FROM sqs_messages WHERE queue = ?1", [&name])
                .map_err(query_err(OP))?;
            Ok(PurgeOutcome::Purged(n as u64))
        })
        .await
    }

    async fn send(
        &self,
        queue: &str,
        messages: &[NewMessage],
        now_ms: i64,
    ) -> Result<Option<Vec<SendOutcome>>> {
        const OP: &str = "send messages";
        let (queue, messages) = (queue.to_string(), messages.to_vec());
        self.tx(OP, move |tx| {
            if !queue_exists(tx, OP, &queue)? {
                return Ok(None);
            }
            if messages.iter().any(|m| m.dedup.is_some()) {
                tx.prepare_cached("DELETE FROM sqs_dedup WHERE queue = ?1 AND expires_ms <= ?2")
                    .and_then(|mut stmt| stmt.execute(params![queue, now_ms]))
                    .map_err(query_err(OP))?;
            }
            messages
                .iter()
                .map(|m| send_one(tx, &queue, m, now_ms))
                .collect::<Result<Vec<_>>>()
                .map(Some)
        })
        .await
    }

    async fn claim(&self, queue: &str, spec: &ClaimSpec) -> Result<Claimed> {
        const OP: &str = "receive messages";
        let (queue, spec) = (queue.to_string(), spec.clone());
        self.tx(OP, move |tx| claim(tx, &queue, &spec)).await
    }

    async fn next_visible_ms(&self, queue: &str, now_ms: i64) -> Result<Option<i64>> {
        const OP: &str = "read when a message becomes visible";
        let queue = queue.to_string();
        self.tx(OP, move |tx| {
            tx.prepare_cached(
                "SELECT MIN(visible_at_ms) FROM sqs_messages WHERE queue = ?1 AND visible_at_ms > ?2",
            )
            .and_then(|mut stmt| stmt.query_row(params![queue, now_ms], |r| r.get(0)))
            .map_err(query_err(OP))
        })
        .await
    }

    async fn delete_messages(
        &self,
        queue: &str,
        handles: &[(i64, String)],
        now_ms: i64,
        in_flight_only: bool,
    ) -> Result<Vec<DeleteOutcome>> {
        const OP: &str = "delete messages";
        let (queue, handles) = (queue.to_string(), handles.to_vec());
        self.tx(OP, move |tx| {
            handles
                .iter()
                .map(|(id, token)| delete_one(tx, &queue, *id, token, now_ms, in_flight_only))
                .collect()
        })
        .await
    }

    async fn change_visibility(
        &self,
        queue: &str,
        entries: &[(i64, String, i64)],
        now_ms: i64,
    ) -> Result<Vec<VisibilityOutcome>> {
        const OP: &str = "change message visibility";
        let (queue, entries) = (queue.to_string(), entries.to_vec());
        self.tx(OP, move |tx| {
            let mut out = Vec::with_capacity(entries.len());
            for (id, token, visible_at_ms) in entries {
                let found: Option<i64> = tx
                    .prepare_cached(
                        "SELECT visible_at_ms FROM sqs_messages WHERE id = ?1 AND queue = ?2 AND receipt = ?3",
                    )
                    .and_then(|mut stmt| stmt.query_row(params![id, queue, token], |r| r.get(0)).optional())
                    .map_err(query_err(OP))?;
                out.push(match found {
                    None => VisibilityOutcome::Gone,
                    Some(at) if at <= now_ms => VisibilityOutcome::NotInFlight,
                    Some(_) => {
                        tx.prepare_cached("UPDATE sqs_messages SET visible_at_ms = ?2 WHERE id = ?1")
                            .and_then(|mut stmt| stmt.execute(params![id, visible_at_ms]))
                            .map_err(query_err(OP))?;
                        VisibilityOutcome::Changed
                    }
                });
            }
            Ok(out)
        })
        .await
    }

    async fn message_counts(&self, queue: &str, now_ms: i64) -> Result<MessageCounts> {
        const OP: &str = "count messages";
        let queue = queue.to_string();
        self.tx(OP, move |tx| {
            tx.prepare_cached(
                "SELECT COALESCE(SUM(visible_at_ms <= ?2), 0),
                        COALESCE(SUM(visible_at_ms > ?2 AND receipt IS NOT NULL), 0),
                        COALESCE(SUM(visible_at_ms > ?2 AND receipt IS NULL), 0)
                 FROM sqs_messages WHERE queue = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![queue, now_ms], |r| {
                    let (v, f, d): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                    Ok(MessageCounts {
                        visible: v as u64,
                        in_flight: f as u64,
                        delayed: d as u64,
                    })
                })
            })
            .map_err(query_err(OP))
        })
        .await
    }

    async fn move_messages(
        &self,
        from: &str,
        to: &MoveTarget,
        limit: usize,
        now_ms: i64,
    ) -> Result<u64> {
        const OP: &str = "move messages";
        let (from, to) = (from.to_string(), to.clone());
        self.tx(OP, move |tx| move_messages(tx, &from, &to, limit, now_ms))
            .await
    }

    async fn create_move_task(&self, task: &MoveTaskRecord) -> Result<()> {
        const OP: &str = "create a message move task";
        let t = task.clone();
        self.tx(OP, move |tx| {
            tx.execute(
                &format!("INSERT INTO sqs_move_tasks ({TASK_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                params![
                    t.handle,
                    t.source_arn,
                    t.destination_arn,
                    t.max_per_second,
                    t.status,
                    to_i64(t.moved),
                    to_i64(t.to_move),
                    t.started_ms,
                    t.failure_reason
                ],
            )
            .map_err(query_err(OP))?;
            Ok(())
        })
        .await
    }

    async fn update_move_task(
        &self,
        handle: &str,
        status: &str,
        moved: u64,
        failure_reason: Option<&str>,
    ) -> Result<bool> {
        const OP: &str = "update a message move task";
        let (handle, status, reason) = (
            handle.to_string(),
            status.to_string(),
            failure_reason.map(str::to_string),
        );
        self.tx(OP, move |tx| {
            let n = tx
                .execute(
                    "UPDATE sqs_move_tasks SET status = ?2, moved = ?3, failure_reason = ?4 WHERE handle = ?1",
                    params![handle, status, to_i64(moved), reason],
                )
                .map_err(query_err(OP))?;
            Ok(n == 1)
        })
        .await
    }

    async fn get_move_task(&self, handle: &str) -> Result<Option<MoveTaskRecord>> {
        const OP: &str = "get a message move task";
        let handle = handle.to_string();
        self.tx(OP, move |tx| {
            tx.query_row(
                &format!("SELECT {TASK_COLS} FROM sqs_move_tasks WHERE handle = ?1"),
                [&handle],
                task_row,
            )
            .optional()
            .map_err(query_err(OP))
        })
        .await
    }

    async fn list_move_tasks(&self, source_arn: &str, limit: usize) -> Result<Vec<MoveTaskRecord>> {
        const OP: &str = "list message move tasks";
        let source = source_arn.to_string();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.tx(OP, move |tx| {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT {TASK_COLS} FROM sqs_move_tasks WHERE source_arn = ?1
                     ORDER BY started_ms DESC, rowid DESC LIMIT ?2"
                ))
                .map_err(query_err(OP))?;
            let rows = stmt
                .query_map(params![source, limit], task_row)
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(query_err(OP))?;
            Ok(rows)
        })
        .await
    }
}

#[cfg(test)]
#[path = "sqs_tests.rs"]
mod tests;
