use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ignis_store::SqliteStore;

use crate::digest;
use crate::model::{AttributeValue, Outgoing, Receive};
use crate::Sqs;

fn engine() -> (tempfile::TempDir, Sqs) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in(dir.path()).unwrap();
    (dir, Sqs::new(Arc::new(store), "us-east-1"))
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn out(body: &str) -> Outgoing {
    Outgoing {
        body: body.into(),
        sender_id: "000000000000".into(),
        ..Outgoing::default()
    }
}

fn grouped(body: &str, group: &str) -> Outgoing {
    Outgoing {
        group_id: Some(group.into()),
        ..out(body)
    }
}

fn now(max: u32) -> Receive {
    Receive {
        max_messages: max,
        visibility_timeout: None,
        wait_seconds: Some(0),
        attempt_id: None,
    }
}

#[tokio::test]
async fn create_is_idempotent_and_refuses_different_attributes() {
    let (_dir, sqs) = engine();
    let q = sqs
        .create_queue("q", attrs(&[("VisibilityTimeout", "5")]), BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(q.arn, "arn:aws:sqs:us-east-1:000000000000:q");
    assert_eq!(q.attributes["VisibilityTimeout"], "5");
    assert_eq!(q.attributes["DelaySeconds"], "0");
    let again = sqs
        .create_queue("q", attrs(&[("VisibilityTimeout", "5")]), BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(again.created, q.created);
    let e = sqs
        .create_queue("q", attrs(&[("VisibilityTimeout", "6")]), BTreeMap::new())
        .await
        .unwrap_err();
    assert_eq!(
        (e.code, e.query_code()),
        ("QueueNameExists", "QueueAlreadyExists")
    );
    let e = sqs
        .create_queue("f.fifo", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap_err();
    assert_eq!(
        e.code, "InvalidParameterValue",
        "a .fifo name needs FifoQueue"
    );
    let e = sqs
        .create_queue("f", attrs(&[("FifoQueue", "true")]), BTreeMap::new())
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    let e = sqs.queue("nope").await.unwrap_err();
    assert_eq!(
        (e.code, e.query_code()),
        (
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue"
        )
    );
}

#[tokio::test]
async fn list_pages_and_prefixes() {
    let (_dir, sqs) = engine();
    for n in ["a1", "a2", "a3", "b1"] {
        sqs.create_queue(n, BTreeMap::new(), BTreeMap::new())
            .await
            .unwrap();
    }
    let (page, token) = sqs.list_queues(Some("a"), Some(2), None).await.unwrap();
    assert_eq!(page, ["a1", "a2"]);
    let (rest, end) = sqs
        .list_queues(Some("a"), Some(2), token.as_deref())
        .await
        .unwrap();
    assert_eq!((rest, end), (vec!["a3".to_string()], None));
    assert_eq!(sqs.list_queues(None, None, None).await.unwrap().0.len(), 4);
    assert!(sqs.list_queues(None, Some(0), None).await.is_err());
}

#[tokio::test]
async fn send_receive_delete_with_sqs_digests() {
    let (_dir, sqs) = engine();
    sqs.create_queue("q", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap();
    let mut m = out("hello");
    m.attributes.insert(
        "n".into(),
        AttributeValue {
            data_type: "Number".into(),
            string_value: Some("7".into()),
            binary_value: None,
        },
    );
    m.system_attributes.insert(
        "AWSTraceHeader".into(),
        AttributeValue {
            data_type: "String".into(),
            string_value: Some("Root=1-abc".into()),
            binary_value: None,
        },
    );
    let sent = sqs.send("q", vec![m.clone(), out("")]).await.unwrap();
    let first = sent[0].as_ref().unwrap();
    assert_eq!(first.md5_of_body, "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(
        first.md5_of_message_attributes,
        digest::attributes_md5(&m.attributes)
    );
    assert!(first.md5_of_system_attributes.is_some());
    assert_eq!(sent[1].as_ref().unwrap_err().code, "MissingParameter");
    let got = sqs.receive("q", now(10)).await.unwrap();
    assert_eq!(got.len(), 1);
    let d = &got[0];
    assert_eq!(
        (d.message_id.as_str(), d.body.as_str()),
        (first.message_id.as_str(), "hello")
    );
    assert_eq!(d.message_attributes, m.attributes);
    assert_eq!(d.attributes["ApproximateReceiveCount"], "1");
    assert_eq!(d.attributes["AWSTraceHeader"], "Root=1-abc");
    assert_eq!(d.attributes["SenderId"], "000000000000");
    assert!(
        sqs.receive("q", now(10)).await.unwrap().is_empty(),
        "in flight"
    );
    let c = sqs.counts("q").await.unwrap();
    assert_eq!((c.visible, c.in_flight), (0, 1));
    let deleted = sqs
        .delete("q", &[d.receipt_handle.clone(), "garbage".into()])
        .await
        .unwrap();
    assert!(deleted[0].is_ok());
    assert_eq!(
        deleted[1].as_ref().unwrap_err().code,
        "ReceiptHandleIsInvalid"
    );
    assert_eq!(sqs.counts("q").await.unwrap().in_flight, 0);
    // A handle of another queue is not one of this queue's.
    sqs.create_queue("other", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap();
    let e = sqs
        .delete("other", std::slice::from_ref(&d.receipt_handle))
        .await
        .unwrap();
    assert!(e[0].is_err());
    let e = sqs.send("nope", vec![out("x")]).await.unwrap_err();
    assert_eq!(e.code, "QueueDoesNotExist");
}

#[tokio::test]
async fn visibility_changes_and_their_errors() {
    let (_dir, sqs) = engine();
    sqs.create_queue("q", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap();
    sqs.send("q", vec![out("a")]).await.unwrap();
    let d = sqs.receive("q", now(1)).await.unwrap().remove(0);
    let r = sqs
        .change_visibility(
            "q",
            &[
                (d.receipt_handle.clone(), 0),
                (d.receipt_handle.clone(), 43_201),
            ],
        )
        .await
        .unwrap();
    assert!(r[0].is_ok());
    assert_eq!(r[1].as_ref().unwrap_err().code, "InvalidParameterValue");
    // Visible again at once: a new receive, a new handle; the old one is stale.
    let again = sqs.receive("q", now(1)).await.unwrap().remove(0);
    assert_eq!(again.attributes["ApproximateReceiveCount"], "2");
    let r = sqs
        .change_visibility("q", &[(d.receipt_handle.clone(), 10)])
        .await
        .unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().code, "InvalidParameterValue");
    sqs.change_visibility("q", &[(again.receipt_handle.clone(), 0)])
        .await
        .unwrap();
    let r = sqs
        .change_visibility("q", &[(again.receipt_handle.clone(), 10)])
        .await
        .unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().code, "MessageNotInflight");
}

#[tokio::test]
async fn a_long_poll_returns_when_a_message_is_sent() {
    let (_dir, sqs) = engine();
    sqs.create_queue("q", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap();
    let poller = {
        let sqs = sqs.clone();
        tokio::spawn(async move {
            sqs.receive(
                "q",
                Receive {
                    wait_seconds: Some(20),
                    ..now(10)
                },
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!poller.is_finished(), "nothing to receive yet");
    sqs.send("q", vec![out("wake")]).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(15), poller)
        .await
        .expect("woken by the send, well before the 20 s wait")
        .unwrap()
        .unwrap();
    assert_eq!(got[0].body, "wake");
}

#[tokio::test]
async fn delayed_messages_wait_their_delay() {
    let (_dir, sqs) = engine();
    sqs.create_queue("q", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap();
    let mut m = out("later");
    m.delay_seconds = Some(1);
    sqs.send("q", vec![m]).await.unwrap();
    assert!(sqs.receive("q", now(1)).await.unwrap().is_empty());
    assert_eq!(sqs.counts("q").await.unwrap().delayed, 1);
    let got = sqs
        .receive(
            "q",
            Receive {
                wait_seconds: Some(5),
                ..now(1)
            },
        )
        .await
        .unwrap();
    assert_eq!(got[0].body, "later");
}

#[tokio::test]
async fn redrive_moves_messages_after_max_receives_and_back() {
    let (_dir, sqs) = engine();
    let dlq = sqs
        .create_queue("dlq", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap();
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":2}}"#,
        dlq.arn
    );
    let e = sqs
        .create_queue(
            "f.fifo",
            attrs(&[("FifoQueue", "true"), ("RedrivePolicy", &policy)]),
            BTreeMap::new(),
        )
        .await
        .unwrap_err();
    assert!(e.message.contains("same type"), "{}", e.message);
    let q = sqs
        .create_queue(
            "src",
            attrs(&[("RedrivePolicy", &policy), ("VisibilityTimeout", "0")]),
            BTreeMap::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        q.attributes["RedrivePolicy"],
        format!(
            r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":2}}"#,
            dlq.arn
        )
    );
    assert_eq!(sqs.dead_letter_sources("dlq").await.unwrap(), ["src"]);
    let sent = sqs.send("src", vec![out("poison")]).await.unwrap();
    let id = sent[0].as_ref().unwrap().message_id.clone();
    assert_eq!(sqs.receive("src", now(1)).await.unwrap().len(), 1);
    assert_eq!(sqs.receive("src", now(1)).await.unwrap().len(), 1);
    assert!(
        sqs.receive("src", now(1)).await.unwrap().is_empty(),
        "moved, not delivered"
    );
    let dead = sqs.receive("dlq", now(1)).await.unwrap().remove(0);
    assert_eq!(dead.message_id, id);
    assert_eq!(dead.attributes["DeadLetterQueueSourceArn"], q.arn);
    sqs.change_visibility("dlq", &[(dead.receipt_handle, 0)])
        .await
        .unwrap();
    let handle = sqs.start_move_task(&dlq.arn, None, None).await.unwrap();
    let back = sqs
        .receive(
            "src",
            Receive {
                wait_seconds: Some(10),
                ..now(1)
            },
        )
        .await
        .unwrap();
    assert_eq!(back[0].message_id, id);
    assert_eq!(back[0].attributes["ApproximateReceiveCount"], "1");
    let mut tasks = Vec::new();
    for _ in 0..100 {
        tasks = sqs.list_move_tasks(&dlq.arn, 10).await.unwrap();
        if tasks[0].status != "RUNNING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        (tasks[0].handle.as_str(), tasks[0].status.as_str()),
        (handle.as_str(), "COMPLETED")
    );
    assert_eq!(tasks[0].moved, 1);
    let e = sqs.start_move_task(&q.arn, None, None).await.unwrap_err();
    assert_eq!(
        e.code, "InvalidParameterValue",
        "src is not a dead-letter queue"
    );
    let e = sqs.cancel_move_task(&handle).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue", "it finished");
}

#[tokio::test]
async fn fifo_order_deduplication_and_sequence_numbers() {
    let (_dir, sqs) = engine();
    sqs.create_queue(
        "f.fifo",
        attrs(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]),
        BTreeMap::new(),
    )
    .await
    .unwrap();
    let sent = sqs
        .send(
            "f.fifo",
            vec![
                grouped("a1", "a"),
                grouped("b1", "b"),
                grouped("a2", "a"),
                grouped("a1", "a"),
            ],
        )
        .await
        .unwrap();
    let ids: Vec<_> = sent.iter().map(|s| s.as_ref().unwrap().clone()).collect();
    assert_eq!(
        ids[3].message_id, ids[0].message_id,
        "content-based duplicate"
    );
    assert_eq!(ids[3].sequence_number, ids[0].sequence_number);
    let seq = |i: usize| {
        ids[i]
            .sequence_number
            .clone()
            .unwrap()
            .parse::<u128>()
            .unwrap()
    };
    assert!(seq(0) < seq(1) && seq(1) < seq(2));
    let mut delayed = grouped("x", "a");
    delayed.delay_seconds = Some(3);
    assert!(sqs.send("f.fifo", vec![delayed]).await.unwrap()[0].is_err());
    let got = sqs.receive("f.fifo", now(10)).await.unwrap();
    let bodies: Vec<_> = got.iter().map(|d| d.body.as_str()).collect();
    assert_eq!(bodies, ["a1", "a2", "b1"]);
    assert_eq!(got[0].attributes["MessageGroupId"], "a");
    assert_eq!(
        got[0].attributes["SequenceNumber"],
        ids[0].sequence_number.clone().unwrap()
    );
    assert_eq!(
        got[0].attributes["MessageDeduplicationId"],
        digest::sha256_hex(b"a1")
    );
    // Without content-based deduplication an id is required.
    sqs.create_queue("g.fifo", attrs(&[("FifoQueue", "true")]), BTreeMap::new())
        .await
        .unwrap();
    let r = sqs.send("g.fifo", vec![grouped("x", "g")]).await.unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().code, "InvalidParameterValue");
}

#[tokio::test]
async fn fifo_deletes_refuse_expired_handles_standard_ones_ignore_stale_ones() {
    let (_dir, sqs) = engine();
    sqs.create_queue(
        "f.fifo",
        attrs(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]),
        BTreeMap::new(),
    )
    .await
    .unwrap();
    sqs.create_queue("s", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap();
    for q in ["f.fifo", "s"] {
        sqs.send(q, vec![grouped("a", "g")]).await.unwrap();
        let first = sqs.receive(q, now(1)).await.unwrap().remove(0);
        // Visible again at once, and received again: a newer handle.
        sqs.change_visibility(q, &[(first.receipt_handle.clone(), 0)])
            .await
            .unwrap();
        let second = sqs.receive(q, now(1)).await.unwrap().remove(0);
        let stale = sqs
            .delete(q, std::slice::from_ref(&first.receipt_handle))
            .await
            .unwrap();
        if q == "s" {
            assert!(stale[0].is_ok(), "standard: succeeds");
        } else {
            let e = stale[0].as_ref().unwrap_err();
            assert!(
                e.message.ends_with("The receipt handle has expired."),
                "{}",
                e.message
            );
        }
        assert_eq!(
            sqs.counts(q).await.unwrap().in_flight,
            1,
            "{q}: not deleted"
        );
        sqs.change_visibility(q, &[(second.receipt_handle.clone(), 0)])
            .await
            .unwrap();
        let late = sqs
            .delete(q, std::slice::from_ref(&second.receipt_handle))
            .await
            .unwrap();
        assert_eq!(
            late[0].is_err(),
            q == "f.fifo",
            "{q}: the latest handle, not in flight"
        );
        let third = sqs.receive(q, now(1)).await.unwrap();
        assert_eq!(third.len(), usize::from(q == "f.fifo"), "{q}");
        if let Some(m) = third.first() {
            let ok = sqs
                .delete(q, std::slice::from_ref(&m.receipt_handle))
                .await
                .unwrap();
            assert!(ok[0].is_ok());
            let again = sqs
                .delete(q, std::slice::from_ref(&m.receipt_handle))
                .await
                .unwrap();
            assert!(again[0].is_ok(), "deleted already: success");
        }
    }
}

#[tokio::test]
async fn a_fifo_receive_attempt_retried_gets_the_same_messages() {
    let (_dir, sqs) = engine();
    sqs.create_queue(
        "f.fifo",
        attrs(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]),
        BTreeMap::new(),
    )
    .await
    .unwrap();
    sqs.send("f.fifo", vec![grouped("a", "g")]).await.unwrap();
    let r = Receive {
        attempt_id: Some("try".into()),
        ..now(10)
    };
    let first = sqs.receive("f.fifo", r.clone()).await.unwrap();
    let second = sqs.receive("f.fifo", r).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first, second);
}

#[tokio::test]
async fn attributes_purge_tags_and_delete() {
    let (_dir, sqs) = engine();
    sqs.create_queue("q", BTreeMap::new(), attrs(&[("team", "a")]))
        .await
        .unwrap();
    let e = sqs
        .set_attributes("q", attrs(&[("MessageRetentionPeriod", "59")]))
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidAttributeValue");
    sqs.set_attributes("q", attrs(&[("Policy", r#"{"Version":"2012-10-17"}"#)]))
        .await
        .unwrap();
    assert_eq!(
        sqs.queue("q").await.unwrap().attributes["Policy"],
        r#"{"Version":"2012-10-17"}"#
    );
    sqs.tag_queue("q", attrs(&[("env", "dev")])).await.unwrap();
    sqs.untag_queue("q", &["team".into()]).await.unwrap();
    assert_eq!(sqs.queue("q").await.unwrap().tags, attrs(&[("env", "dev")]));
    sqs.send("q", vec![out("a")]).await.unwrap();
    sqs.purge_queue("q").await.unwrap();
    assert_eq!(sqs.counts("q").await.unwrap().visible, 0);
    let e = sqs.purge_queue("q").await.unwrap_err();
    assert_eq!(
        (e.code, e.query_code()),
        (
            "PurgeQueueInProgress",
            "AWS.SimpleQueueService.PurgeQueueInProgress"
        )
    );
    sqs.delete_queue("q").await.unwrap();
    assert_eq!(
        sqs.delete_queue("q").await.unwrap_err().code,
        "QueueDoesNotExist"
    );
    assert_eq!(
        sqs.send("q", vec![out("a")]).await.unwrap_err().code,
        "QueueDoesNotExist"
    );
}

#[tokio::test]
async fn a_move_task_can_be_cancelled_and_lists_its_progress() {
    let (_dir, sqs) = engine();
    let dlq = sqs
        .create_queue("dlq", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap();
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":1}}"#,
        dlq.arn
    );
    sqs.create_queue("src", attrs(&[("RedrivePolicy", &policy)]), BTreeMap::new())
        .await
        .unwrap();
    let dest = sqs
        .create_queue("dest", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap();
    // Twenty messages at one a second: cancelled long before the end.
    let batch = (0..20).map(|i| out(&format!("m{i}"))).collect();
    sqs.send("dlq", batch).await.unwrap();
    let e = sqs
        .start_move_task(
            &dlq.arn,
            Some("arn:aws:sqs:us-east-1:000000000000:none"),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "ResourceNotFoundException");
    let e = sqs
        .start_move_task(&dlq.arn, Some(&dest.arn), Some(501))
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    let handle = sqs
        .start_move_task(&dlq.arn, Some(&dest.arn), Some(1))
        .await
        .unwrap();
    let e = sqs.start_move_task(&dlq.arn, None, None).await.unwrap_err();
    assert!(
        e.message.contains("already a task running"),
        "{}",
        e.message
    );
    let listed = sqs.list_move_tasks(&dlq.arn, 1).await.unwrap();
    assert_eq!(listed[0].handle, handle);
    assert_eq!(listed[0].to_move, 20);
    assert_eq!(
        listed[0].destination_arn.as_deref(),
        Some(dest.arn.as_str())
    );
    sqs.cancel_move_task(&handle).await.unwrap();
    let mut status = String::new();
    for _ in 0..200 {
        status = sqs.list_move_tasks(&dlq.arn, 1).await.unwrap()[0]
            .status
            .clone();
        if status == "CANCELLED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(status, "CANCELLED");
    let moved = sqs.counts("dest").await.unwrap().visible;
    let left = sqs.counts("dlq").await.unwrap().visible;
    assert_eq!(moved + left, 20, "nothing lost");
    assert!(left >= 1, "cancelled before it moved everything");
    assert_eq!(
        sqs.cancel_move_task("bm8=").await.unwrap_err().code,
        "ResourceNotFoundException"
    );
}
