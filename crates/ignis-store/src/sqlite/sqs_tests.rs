use std::collections::BTreeMap;

use crate::sqs::{
    ClaimSpec, DeleteOutcome, MoveTarget, MoveTaskRecord, NewMessage, PurgeOutcome, SendOutcome,
    SqsQueueRecord, SqsStore, VisibilityOutcome,
};
use crate::SqliteStore;

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in(dir.path()).unwrap();
    (dir, store)
}

fn queue(name: &str) -> SqsQueueRecord {
    SqsQueueRecord {
        name: name.into(),
        attributes: BTreeMap::from([("VisibilityTimeout".into(), "30".into())]),
        tags: BTreeMap::new(),
        created_s: 1,
        modified_s: 1,
    }
}

fn msg(body: &str, sent_ms: i64) -> NewMessage {
    NewMessage {
        message_id: format!("id-{body}"),
        body: body.into(),
        md5_body: "m".into(),
        sender_id: "s".into(),
        sent_ms,
        visible_at_ms: sent_ms,
        ..NewMessage::default()
    }
}

fn fifo(body: &str, group: &str) -> NewMessage {
    NewMessage {
        group_id: Some(group.into()),
        dedup: Some((body.into(), 300_000)),
        dedup_id: Some(body.into()),
        ..msg(body, 0)
    }
}

fn spec(now_ms: i64, limit: usize, token: &str) -> ClaimSpec {
    ClaimSpec {
        now_ms,
        limit,
        visible_until_ms: now_ms + 1_000,
        token: token.into(),
        expired_before_ms: 0,
        fifo: false,
        redrive: None,
        source_arn: "arn:q".into(),
    }
}

fn bodies(c: &crate::sqs::Claimed) -> Vec<&str> {
    c.delivered.iter().map(|m| m.body.as_str()).collect()
}

#[tokio::test]
async fn queues_are_created_once_and_changed_in_place() {
    let (_dir, store) = open();
    let (q, created) = store.create_queue(&queue("a")).await.unwrap();
    assert!(created);
    let mut other = queue("a");
    other.attributes.insert("DelaySeconds".into(), "5".into());
    let (existing, created) = store.create_queue(&other).await.unwrap();
    assert!(!created);
    assert_eq!(existing, q, "the first one stands");
    let set = BTreeMap::from([
        ("DelaySeconds".to_string(), "7".to_string()),
        ("VisibilityTimeout".to_string(), String::new()),
    ]);
    assert!(store.set_queue_attributes("a", &set, 9).await.unwrap());
    let q = store.get_queue("a").await.unwrap().unwrap();
    assert_eq!(
        q.attributes,
        BTreeMap::from([("DelaySeconds".into(), "7".into())])
    );
    assert_eq!(q.modified_s, 9);
    let tags = BTreeMap::from([("k".to_string(), "v".to_string()), ("x".into(), "y".into())]);
    assert!(store.tag_queue("a", &tags, &["x".into()]).await.unwrap());
    assert_eq!(
        store.get_queue("a").await.unwrap().unwrap().tags,
        BTreeMap::from([("k".into(), "v".into())])
    );
    assert!(!store.set_queue_attributes("nope", &set, 1).await.unwrap());
    store.create_queue(&queue("b")).await.unwrap();
    let names: Vec<_> = store
        .list_queues()
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    store.send("a", &[msg("m", 0)], 0).await.unwrap();
    assert!(store.delete_queue("a").await.unwrap());
    assert!(!store.delete_queue("a").await.unwrap());
    assert_eq!(store.send("a", &[msg("m", 0)], 0).await.unwrap(), None);
    store.create_queue(&queue("a")).await.unwrap();
    assert!(
        store
            .claim("a", &spec(10, 10, "t"))
            .await
            .unwrap()
            .delivered
            .is_empty(),
        "messages went with the queue"
    );
}

#[tokio::test]
async fn a_claim_hides_what_it_delivers_until_the_visibility_passes() {
    let (_dir, store) = open();
    store.create_queue(&queue("q")).await.unwrap();
    let batch: Vec<_> = (0..5).map(|i| msg(&format!("m{i}"), i)).collect();
    store.send("q", &batch, 0).await.unwrap();
    let mut delayed = msg("later", 0);
    delayed.visible_at_ms = 5_000;
    store.send("q", &[delayed], 0).await.unwrap();
    let first = store.claim("q", &spec(100, 3, "t1")).await.unwrap();
    assert_eq!(bodies(&first), ["m0", "m1", "m2"]);
    assert_eq!(first.delivered[0].receive_count, 1);
    assert_eq!(first.delivered[0].first_receive_ms, Some(100));
    assert_eq!(first.delivered[0].receipt, "t1");
    let counts = store.message_counts("q", 100).await.unwrap();
    assert_eq!(
        (counts.visible, counts.in_flight, counts.delayed),
        (2, 3, 1)
    );
    let second = store.claim("q", &spec(200, 10, "t2")).await.unwrap();
    assert_eq!(bodies(&second), ["m3", "m4"]);
    assert!(store
        .claim("q", &spec(300, 10, "t3"))
        .await
        .unwrap()
        .delivered
        .is_empty());
    assert_eq!(store.next_visible_ms("q", 300).await.unwrap(), Some(1_100));
    // The first batch's visibility passes: received again, count 2, new token.
    let again = store.claim("q", &spec(1_100, 10, "t4")).await.unwrap();
    assert_eq!(bodies(&again), ["m0", "m1", "m2"]);
    assert_eq!(again.delivered[0].receive_count, 2);
    assert_eq!(again.delivered[0].first_receive_ms, Some(100));
    // The old token deletes nothing; the new one deletes.
    let id = again.delivered[0].id;
    assert_eq!(
        store
            .delete_messages("q", &[(id, "t1".into())], 1_100, false)
            .await
            .unwrap(),
        [DeleteOutcome::Stale]
    );
    assert_eq!(
        store
            .delete_messages("q", &[(id, "t4".into()), (id, "t4".into())], 1_100, false)
            .await
            .unwrap(),
        [DeleteOutcome::Deleted, DeleteOutcome::Gone]
    );
    // In flight only (FIFO): the latest token of a message whose visibility
    // passed deletes nothing; otherwise the latest token deletes.
    let m = again.delivered[1].id;
    assert_eq!(
        store
            .delete_messages("q", &[(m, "t4".into())], 2_100, true)
            .await
            .unwrap(),
        [DeleteOutcome::Expired]
    );
    assert_eq!(
        store
            .delete_messages("q", &[(m, "t4".into())], 2_100, false)
            .await
            .unwrap(),
        [DeleteOutcome::Deleted]
    );
}

#[tokio::test]
async fn visibility_changes_need_the_latest_handle_of_a_message_in_flight() {
    let (_dir, store) = open();
    store.create_queue(&queue("q")).await.unwrap();
    store.send("q", &[msg("a", 0)], 0).await.unwrap();
    let m = store
        .claim("q", &spec(0, 1, "t"))
        .await
        .unwrap()
        .delivered
        .remove(0);
    let out = store
        .change_visibility(
            "q",
            &[
                (m.id, "t".into(), 50),
                (m.id, "old".into(), 50),
                (999, "t".into(), 50),
            ],
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        [
            VisibilityOutcome::Changed,
            VisibilityOutcome::Gone,
            VisibilityOutcome::Gone
        ]
    );
    assert_eq!(
        store
            .claim("q", &spec(60, 1, "t2"))
            .await
            .unwrap()
            .delivered
            .len(),
        1,
        "visible at 50"
    );
    let out = store
        .change_visibility("q", &[(m.id, "t2".into(), 5_000)], 2_000)
        .await
        .unwrap();
    assert_eq!(
        out,
        [VisibilityOutcome::NotInFlight],
        "its visibility passed at 1,060"
    );
}

#[tokio::test]
async fn expired_messages_are_dropped_and_dead_ones_move_to_the_dlq() {
    let (_dir, store) = open();
    store.create_queue(&queue("q")).await.unwrap();
    store.create_queue(&queue("dlq")).await.unwrap();
    let mut attrs = msg("dead", 5);
    attrs.attributes = vec![1, 2, 3];
    store
        .send("q", &[msg("old", 1), attrs, msg("fresh", 10)], 0)
        .await
        .unwrap();
    let mut s = spec(20, 10, "t1");
    s.redrive = Some(("dlq".into(), 1));
    s.expired_before_ms = 3;
    let first = store.claim("q", &s).await.unwrap();
    assert_eq!(bodies(&first), ["dead", "fresh"]);
    assert_eq!(first.expired, 1);
    s.now_ms = 2_000;
    s.visible_until_ms = 3_000;
    let second = store.claim("q", &s).await.unwrap();
    assert!(second.delivered.is_empty());
    assert_eq!(second.moved, 2, "received once, the maximum: moved instead");
    let mut d = spec(2_000, 10, "t2");
    d.expired_before_ms = 0;
    let in_dlq = store.claim("dlq", &d).await.unwrap();
    assert_eq!(bodies(&in_dlq), ["dead", "fresh"]);
    let dead = &in_dlq.delivered[0];
    assert_eq!(
        (dead.message_id.as_str(), dead.sent_ms, dead.receive_count),
        ("id-dead", 5, 1)
    );
    assert_eq!(dead.attributes, [1, 2, 3]);
    assert_eq!(dead.dlq_source.as_deref(), Some("arn:q"));
    // Moved back to the source by their dlq_source.
    store
        .change_visibility("dlq", &[(dead.id, "t2".into(), 2_000)], 1_999)
        .await
        .unwrap();
    let names = BTreeMap::from([("arn:q".to_string(), "q".to_string())]);
    assert_eq!(
        store
            .move_messages("dlq", &MoveTarget::Sources(names), 10, 2_000)
            .await
            .unwrap(),
        1
    );
    let back = store.claim("q", &spec(2_000, 10, "t3")).await.unwrap();
    assert_eq!(bodies(&back), ["dead"]);
    assert_eq!(back.delivered[0].receive_count, 1, "the count starts again");
    assert_eq!(back.delivered[0].dlq_source, None);
}

#[tokio::test]
async fn fifo_groups_deliver_in_order_one_batch_at_a_time() {
    let (_dir, store) = open();
    store.create_queue(&queue("f.fifo")).await.unwrap();
    let sent = store
        .send(
            "f.fifo",
            &[
                fifo("a1", "a"),
                fifo("b1", "b"),
                fifo("a2", "a"),
                fifo("a1", "a"),
                fifo("b2", "b"),
            ],
            0,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sent[0], SendOutcome::Stored { sequence: Some(1) });
    assert_eq!(sent[2], SendOutcome::Stored { sequence: Some(3) });
    assert_eq!(
        sent[3],
        SendOutcome::Duplicate {
            message_id: "id-a1".into(),
            sequence: Some(1)
        },
        "the same deduplication key within the window"
    );
    let mut s = spec(10, 3, "t1");
    s.fifo = true;
    let first = store.claim("f.fifo", &s).await.unwrap();
    assert_eq!(
        bodies(&first),
        ["a1", "a2", "b1"],
        "groups by their oldest, each in order"
    );
    s.token = "t2".into();
    assert!(
        store
            .claim("f.fifo", &s)
            .await
            .unwrap()
            .delivered
            .is_empty(),
        "b has b1 in flight"
    );
    let b1 = first.delivered[2].id;
    store
        .delete_messages("f.fifo", &[(b1, "t1".into())], 10, true)
        .await
        .unwrap();
    assert_eq!(bodies(&store.claim("f.fifo", &s).await.unwrap()), ["b2"]);
    // After the window, the key is free again.
    let later = store
        .send("f.fifo", &[fifo("a1", "a")], 300_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(later[0], SendOutcome::Stored { sequence: Some(5) });
}

#[tokio::test]
async fn fifo_delayed_messages_hold_back_the_rest_of_their_group() {
    let (_dir, store) = open();
    store.create_queue(&queue("f.fifo")).await.unwrap();
    let mut late = fifo("x1", "x");
    late.visible_at_ms = 1_000;
    store
        .send("f.fifo", &[late, fifo("x2", "x"), fifo("y1", "y")], 0)
        .await
        .unwrap();
    let mut s = spec(10, 10, "t");
    s.fifo = true;
    assert_eq!(bodies(&store.claim("f.fifo", &s).await.unwrap()), ["y1"]);
}

#[tokio::test]
async fn purges_are_rate_limited_and_move_tasks_are_recorded() {
    let (_dir, store) = open();
    store.create_queue(&queue("q")).await.unwrap();
    store
        .send("q", &[msg("a", 0), msg("b", 0)], 0)
        .await
        .unwrap();
    assert_eq!(
        store.purge_queue("q", 1_000, 60_000).await.unwrap(),
        PurgeOutcome::Purged(2)
    );
    assert_eq!(
        store.purge_queue("q", 2_000, 60_000).await.unwrap(),
        PurgeOutcome::InProgress
    );
    assert_eq!(
        store.purge_queue("q", 61_000, 60_000).await.unwrap(),
        PurgeOutcome::Purged(0)
    );
    assert_eq!(
        store.purge_queue("x", 0, 60_000).await.unwrap(),
        PurgeOutcome::NoQueue
    );
    let task = |h: &str, at| MoveTaskRecord {
        handle: h.into(),
        source_arn: "arn:dlq".into(),
        destination_arn: None,
        max_per_second: Some(5),
        status: "RUNNING".into(),
        moved: 0,
        to_move: 3,
        started_ms: at,
        failure_reason: None,
    };
    store.create_move_task(&task("h1", 1)).await.unwrap();
    store.create_move_task(&task("h2", 2)).await.unwrap();
    assert!(store
        .update_move_task("h1", "COMPLETED", 3, None)
        .await
        .unwrap());
    let listed = store.list_move_tasks("arn:dlq", 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| t.handle.as_str()).collect::<Vec<_>>(),
        ["h2", "h1"]
    );
    assert_eq!(listed[1].status, "COMPLETED");
    assert_eq!(store.get_move_task("h1").await.unwrap().unwrap().moved, 3);
    assert!(!store
        .update_move_task("h9", "FAILED", 0, None)
        .await
        .unwrap());
}

#[tokio::test]
async fn sent_messages_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open_in(dir.path()).unwrap();
        store.create_queue(&queue("q")).await.unwrap();
        store.send("q", &[msg("kept", 0)], 0).await.unwrap();
    }
    let store = SqliteStore::open_in(dir.path()).unwrap();
    assert_eq!(
        bodies(&store.claim("q", &spec(1, 10, "t")).await.unwrap()),
        ["kept"]
    );
}
