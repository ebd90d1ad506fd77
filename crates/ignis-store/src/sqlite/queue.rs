//! The asynchronous invocation queue in SQLite (`async_events`, migration
//! 6); the claim protocol is described in [`crate::queue`].

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::query_err;
use crate::queue::{QueueStats, QueuedEvent};
use crate::store::StoreError;

const COLUMNS: &str = "id, function, qualifier, request_id, invoked_arn, payload, client_context, \
                       trace_id, attempts, enqueued_ms, not_before_ms";

fn from_row(row: &Row<'_>) -> rusqlite::Result<QueuedEvent> {
    let qualifier: String = row.get(2)?;
    let attempts: i64 = row.get(8)?;
    Ok(QueuedEvent {
        id: row.get(0)?,
        function: row.get(1)?,
        qualifier: (!qualifier.is_empty()).then_some(qualifier),
        request_id: row.get(3)?,
        invoked_arn: row.get(4)?,
        payload: row.get(5)?,
        client_context: row.get(6)?,
        trace_id: row.get(7)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        enqueued_ms: row.get(9)?,
        not_before_ms: row.get(10)?,
    })
}

pub(super) fn enqueue(conn: &Connection, e: &QueuedEvent) -> Result<i64, StoreError> {
    const OP: &str = "queue an event";
    conn.prepare_cached(
        "INSERT INTO async_events (function, qualifier, request_id, invoked_arn, payload,
             client_context, trace_id, attempts, enqueued_ms, not_before_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            e.function,
            e.qualifier.as_deref().unwrap_or(""),
            e.request_id,
            e.invoked_arn,
            e.payload,
            e.client_context,
            e.trace_id,
            i64::from(e.attempts),
            e.enqueued_ms,
            e.not_before_ms,
        ])
    })
    .map_err(query_err(OP))?;
    Ok(conn.last_insert_rowid())
}

pub(super) fn claim(
    conn: &Connection,
    owner: &str,
    now_ms: i64,
    lease_until_ms: i64,
    limit: usize,
    per_function: usize,
    skip_json: &str,
) -> Result<Vec<QueuedEvent>, StoreError> {
    const OP: &str = "claim queued events";
    // The window numbers each function's claimable events in due order;
    // PostgreSQL, which refuses FOR UPDATE beside a window, selects these
    // candidates first and locks them in an outer `SELECT id FROM
    // async_events WHERE id IN (…) FOR UPDATE SKIP LOCKED`.
    let sql = format!(
        "UPDATE async_events SET claimed_by = ?1, lease_until_ms = ?2
         WHERE id IN (
             SELECT id FROM (
                 SELECT id, not_before_ms,
                        ROW_NUMBER() OVER (PARTITION BY function ORDER BY not_before_ms, id) AS nth
                 FROM async_events
                 WHERE not_before_ms <= ?3 AND (lease_until_ms IS NULL OR lease_until_ms <= ?3)
                   AND function NOT IN (SELECT value FROM json_each(?6)))
             WHERE nth <= ?5
             ORDER BY not_before_ms, id LIMIT ?4)
         RETURNING {COLUMNS}"
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let per_function = i64::try_from(per_function).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&sql).map_err(query_err(OP))?;
    let rows = stmt
        .query_map(
            params![
                owner,
                lease_until_ms,
                now_ms,
                limit,
                per_function,
                skip_json
            ],
            from_row,
        )
        .map_err(query_err(OP))?;
    let mut claimed = rows.collect::<Result<Vec<_>, _>>().map_err(query_err(OP))?;
    claimed.sort_by_key(|e| (e.not_before_ms, e.id));
    Ok(claimed)
}

pub(super) fn renew(
    conn: &Connection,
    owner: &str,
    lease_until_ms: i64,
) -> Result<u64, StoreError> {
    let n = conn
        .execute(
            "UPDATE async_events SET lease_until_ms = ?2 WHERE claimed_by = ?1",
            params![owner, lease_until_ms],
        )
        .map_err(query_err("renew event leases"))?;
    Ok(n as u64)
}

pub(super) fn complete(
    conn: &mut Connection,
    id: i64,
    owner: &str,
    then: Option<&QueuedEvent>,
) -> Result<bool, StoreError> {
    const OP: &str = "complete a queued event";
    let tx = conn.transaction().map_err(query_err(OP))?;
    let deleted = tx
        .execute(
            "DELETE FROM async_events WHERE id = ?1 AND claimed_by = ?2",
            params![id, owner],
        )
        .map_err(query_err(OP))?;
    if deleted == 0 {
        return Ok(false);
    }
    if let Some(next) = then {
        enqueue(&tx, next)?;
    }
    tx.commit().map_err(query_err(OP))?;
    Ok(true)
}

pub(super) fn reschedule(
    conn: &Connection,
    id: i64,
    owner: &str,
    attempts: u32,
    not_before_ms: i64,
) -> Result<bool, StoreError> {
    let n = conn
        .execute(
            "UPDATE async_events SET attempts = ?3, not_before_ms = ?4, claimed_by = NULL,
                 lease_until_ms = NULL
             WHERE id = ?1 AND claimed_by = ?2",
            params![id, owner, i64::from(attempts), not_before_ms],
        )
        .map_err(query_err("reschedule a queued event"))?;
    Ok(n == 1)
}

pub(super) fn release(conn: &Connection, owner: Option<&str>) -> Result<u64, StoreError> {
    let n = conn
        .execute(
            "UPDATE async_events SET claimed_by = NULL, lease_until_ms = NULL
             WHERE claimed_by IS NOT NULL AND (?1 IS NULL OR claimed_by = ?1)",
            params![owner],
        )
        .map_err(query_err("release event claims"))?;
    Ok(n as u64)
}

pub(super) fn next_due(conn: &Connection) -> Result<Option<i64>, StoreError> {
    conn.query_row(
        "SELECT MIN(MAX(not_before_ms, COALESCE(lease_until_ms, 0))) FROM async_events",
        [],
        |row| row.get::<_, Option<i64>>(0),
    )
    .optional()
    .map(Option::flatten)
    .map_err(query_err("read the queue's next due time"))
}

pub(super) fn stats(conn: &Connection, function: &str) -> Result<QueueStats, StoreError> {
    conn.query_row(
        "SELECT COUNT(*), COUNT(claimed_by), MIN(enqueued_ms) FROM async_events WHERE function = ?1",
        [function],
        |row| {
            let (depth, claimed): (i64, i64) = (row.get(0)?, row.get(1)?);
            Ok(QueueStats {
                depth: depth as u64,
                claimed: claimed as u64,
                oldest_enqueued_ms: row.get(2)?,
            })
        },
    )
    .map_err(query_err("read the queue's backlog"))
}

#[cfg(test)]
mod tests {
    use crate::queue::QueuedEvent;
    use crate::{SqliteStore, Store};

    fn event(function: &str, request_id: &str, due: i64) -> QueuedEvent {
        QueuedEvent {
            id: 0,
            function: function.into(),
            qualifier: None,
            request_id: request_id.into(),
            invoked_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function}"),
            payload: br#"{"n":1}"#.to_vec(),
            client_context: None,
            trace_id: None,
            attempts: 0,
            enqueued_ms: due,
            not_before_ms: due,
        }
    }

    fn ids(events: &[QueuedEvent]) -> Vec<&str> {
        events.iter().map(|e| e.request_id.as_str()).collect()
    }

    fn open() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_in(dir.path()).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn due_events_are_claimed_once_in_due_order() {
        let (_dir, store) = open();
        store.enqueue_event(&event("f", "b", 20)).await.unwrap();
        store.enqueue_event(&event("f", "a", 10)).await.unwrap();
        store
            .enqueue_event(&event("f", "later", 500))
            .await
            .unwrap();
        let claimed = store
            .claim_events("p1", 100, 1_000, 10, usize::MAX, &[])
            .await
            .unwrap();
        assert_eq!(ids(&claimed), ["a", "b"], "due ones, earliest first");
        assert_eq!(claimed[0].payload, br#"{"n":1}"#);
        // Held under a live lease: nobody claims them again.
        assert!(store
            .claim_events("p2", 200, 1_200, 10, usize::MAX, &[])
            .await
            .unwrap()
            .is_empty());
        // The limit is kept.
        let (_dir2, other) = open();
        for i in 0..5 {
            other
                .enqueue_event(&event("f", &i.to_string(), 0))
                .await
                .unwrap();
        }
        assert_eq!(
            other
                .claim_events("p", 1, 100, 3, usize::MAX, &[])
                .await
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            other
                .claim_events("p", 1, 100, 3, usize::MAX, &[])
                .await
                .unwrap()
                .len(),
            2
        );
    }

    #[tokio::test]
    async fn claims_take_at_most_so_many_per_function_and_skip_the_ones_named() {
        let (_dir, store) = open();
        for (f, id, due) in [
            ("f", "f1", 1),
            ("f", "f2", 2),
            ("f", "f3", 3),
            ("g", "g1", 4),
            ("h", "h1", 5),
        ] {
            store.enqueue_event(&event(f, id, due)).await.unwrap();
        }
        let claimed = store
            .claim_events("p", 10, 100, 10, 2, &["h".to_string()])
            .await
            .unwrap();
        assert_eq!(ids(&claimed), ["f1", "f2", "g1"]);
        let rest = store.claim_events("p", 10, 100, 10, 2, &[]).await.unwrap();
        assert_eq!(ids(&rest), ["f3", "h1"]);
    }

    #[tokio::test]
    async fn deleting_a_function_drops_its_queued_events() {
        let (_dir, store) = open();
        let f = ignis_test_support::function("f").build();
        store.create_function(&f).await.unwrap();
        store.enqueue_event(&event("f", "a", 0)).await.unwrap();
        store.enqueue_event(&event("g", "b", 0)).await.unwrap();
        store.delete_function("f").await.unwrap();
        assert_eq!(store.event_queue_stats("f").await.unwrap().depth, 0);
        assert_eq!(store.event_queue_stats("g").await.unwrap().depth, 1);
    }

    #[tokio::test]
    async fn an_expired_lease_is_claimed_again_and_the_old_owner_loses_it() {
        let (_dir, store) = open();
        store.enqueue_event(&event("f", "a", 0)).await.unwrap();
        let first = store
            .claim_events("dead", 10, 100, 10, usize::MAX, &[])
            .await
            .unwrap();
        assert_eq!(ids(&first), ["a"]);
        assert!(store
            .claim_events("p2", 99, 199, 10, usize::MAX, &[])
            .await
            .unwrap()
            .is_empty());
        let again = store
            .claim_events("p2", 100, 200, 10, usize::MAX, &[])
            .await
            .unwrap();
        assert_eq!(ids(&again), ["a"], "the lease passed: claimed again");
        // The first owner can no longer finish or reschedule it.
        assert!(!store
            .complete_event(first[0].id, "dead", None)
            .await
            .unwrap());
        assert!(!store
            .reschedule_event(first[0].id, "dead", 1, 0)
            .await
            .unwrap());
        assert!(store.complete_event(again[0].id, "p2", None).await.unwrap());
        assert_eq!(store.event_queue_stats("f").await.unwrap().depth, 0);
    }

    #[tokio::test]
    async fn renewed_leases_keep_their_events() {
        let (_dir, store) = open();
        store.enqueue_event(&event("f", "a", 0)).await.unwrap();
        store.enqueue_event(&event("g", "b", 0)).await.unwrap();
        store
            .claim_events("p1", 0, 100, 1, usize::MAX, &[])
            .await
            .unwrap();
        assert_eq!(store.renew_event_leases("p1", 1_000).await.unwrap(), 1);
        let other = store
            .claim_events("p2", 500, 600, 10, usize::MAX, &[])
            .await
            .unwrap();
        assert_eq!(ids(&other), ["b"], "a is still p1's");
    }

    #[tokio::test]
    async fn reschedule_counts_the_attempt_and_waits_until_due() {
        let (_dir, store) = open();
        store.enqueue_event(&event("f", "a", 0)).await.unwrap();
        let e = store
            .claim_events("p", 0, 100, 10, usize::MAX, &[])
            .await
            .unwrap()
            .remove(0);
        assert_eq!(e.attempts, 0);
        assert!(store.reschedule_event(e.id, "p", 1, 60_000).await.unwrap());
        assert_eq!(store.next_event_due().await.unwrap(), Some(60_000));
        assert!(store
            .claim_events("p", 59_999, 70_000, 10, usize::MAX, &[])
            .await
            .unwrap()
            .is_empty());
        let e = store
            .claim_events("p", 60_000, 70_000, 10, usize::MAX, &[])
            .await
            .unwrap()
            .remove(0);
        assert_eq!((e.request_id.as_str(), e.attempts), ("a", 1));
        assert_eq!(e.enqueued_ms, 0, "its age is from when it was accepted");
        // Claimed, it is due again when its lease ends.
        assert_eq!(store.next_event_due().await.unwrap(), Some(70_000));
    }

    #[tokio::test]
    async fn completing_writes_the_follow_up_in_the_same_transaction() {
        let (_dir, store) = open();
        store.enqueue_event(&event("f", "a", 0)).await.unwrap();
        let e = store
            .claim_events("p", 0, 100, 10, usize::MAX, &[])
            .await
            .unwrap()
            .remove(0);
        let record = event("dest", "r", 5);
        assert!(store
            .complete_event(e.id, "p", Some(&record))
            .await
            .unwrap());
        assert_eq!(store.event_queue_stats("f").await.unwrap().depth, 0);
        let next = store
            .claim_events("p", 5, 100, 10, usize::MAX, &[])
            .await
            .unwrap();
        assert_eq!(ids(&next), ["r"]);
        assert_eq!(next[0].function, "dest");
        // A lost claim writes no follow-up either.
        assert!(!store
            .complete_event(next[0].id, "other", Some(&event("dest", "x", 0)))
            .await
            .unwrap());
        assert_eq!(store.event_queue_stats("dest").await.unwrap().depth, 1);
    }

    #[tokio::test]
    async fn claims_survive_a_reopen_and_start_up_releases_them() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open_in(dir.path()).unwrap();
            let mut e = event("f", "a", 7);
            e.qualifier = Some("live".into());
            e.client_context = Some("{}".into());
            store.enqueue_event(&e).await.unwrap();
            store.enqueue_event(&event("f", "b", 8)).await.unwrap();
            store
                .claim_events("killed", 10, i64::MAX, 10, usize::MAX, &[])
                .await
                .unwrap();
        }
        let store = SqliteStore::open_in(dir.path()).unwrap();
        let stats = store.event_queue_stats("f").await.unwrap();
        assert_eq!((stats.depth, stats.claimed), (2, 2));
        assert_eq!(stats.oldest_enqueued_ms, Some(7));
        assert!(store
            .claim_events("new", 20, 100, 10, usize::MAX, &[])
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.release_event_claims(None).await.unwrap(), 2);
        let again = store
            .claim_events("new", 20, 100, 10, usize::MAX, &[])
            .await
            .unwrap();
        assert_eq!(ids(&again), ["a", "b"]);
        assert_eq!(again[0].qualifier.as_deref(), Some("live"));
        assert_eq!(again[0].client_context.as_deref(), Some("{}"));
        assert_eq!(again[1].qualifier, None);
        // An owner's release leaves the others' claims alone.
        store.enqueue_event(&event("f", "c", 0)).await.unwrap();
        store
            .claim_events("other", 20, 100, 10, usize::MAX, &[])
            .await
            .unwrap();
        assert_eq!(store.release_event_claims(Some("new")).await.unwrap(), 2);
        assert_eq!(store.event_queue_stats("f").await.unwrap().claimed, 1);
        assert_eq!(store.event_queue_stats("nobody").await.unwrap().depth, 0);
    }
}
