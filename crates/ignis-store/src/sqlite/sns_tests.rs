use super::*;

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in(dir.path()).unwrap();
    (dir, store)
}

fn topic(name: &str) -> SnsTopic {
    SnsTopic {
        name: name.into(),
        arn: format!("arn:aws:sns:us-east-1:000000000000:{name}"),
        attributes: BTreeMap::new(),
        tags: BTreeMap::new(),
        created_ms: 1,
    }
}

fn sub(topic: &SnsTopic, id: &str, endpoint: &str) -> SnsSubscription {
    SnsSubscription {
        arn: format!("{}:{id}", topic.arn),
        topic_arn: topic.arn.clone(),
        protocol: "sqs".into(),
        endpoint: endpoint.into(),
        owner: "000000000000".into(),
        attributes: BTreeMap::new(),
        confirmed: true,
        token: None,
        created_ms: 1,
    }
}

fn rows(rows: Vec<NewDelivery>) -> crate::sns::DeliveriesFor {
    Box::new(move |_| Ok(rows))
}

fn delivery(sub: &str, key: Option<&str>, payload: &str) -> NewDelivery {
    NewDelivery {
        subscription_arn: sub.into(),
        ordering_key: key.map(str::to_string),
        payload: payload.into(),
        not_before_ms: 0,
    }
}

#[tokio::test]
async fn topics_and_subscriptions_round_trip() {
    let (_dir, s) = store();
    let t = topic("a");
    let (made, created) = s.create_topic(t.clone()).await.unwrap();
    assert!(created);
    assert_eq!(made, t);
    let (again, created) = s.create_topic(topic("a")).await.unwrap();
    assert!(!created);
    assert_eq!(again, t);
    s.create_topic(topic("b")).await.unwrap();
    assert_eq!(s.list_topics(None, 1).await.unwrap(), vec![t.arn.clone()]);
    assert_eq!(s.list_topics(Some(&t.arn), 10).await.unwrap().len(), 1);

    let one = sub(&t, "1", "q1");
    let (got, new) = s.subscribe(one.clone(), vec![]).await.unwrap().unwrap();
    assert!(new);
    assert_eq!(got, one);
    // The same endpoint again: the existing one, nothing new.
    let (got, new) = s
        .subscribe(sub(&t, "2", "q1"), vec![])
        .await
        .unwrap()
        .unwrap();
    assert!(!new);
    assert_eq!(got.arn, one.arn);
    assert!(s
        .subscribe(sub(&topic("zz"), "3", "q"), vec![])
        .await
        .unwrap()
        .is_none());
    let mut pending = sub(&t, "4", "http://x");
    pending.confirmed = false;
    pending.token = Some("tok".into());
    s.subscribe(
        pending.clone(),
        vec![delivery(&pending.arn, None, "confirm")],
    )
    .await
    .unwrap();
    assert_eq!(
        s.subscription_by_token(&t.arn, "tok")
            .await
            .unwrap()
            .unwrap()
            .arn,
        pending.arn
    );
    assert_eq!(
        s.list_subscriptions(Some(&t.arn), None, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(s.list_subscriptions(None, None, 1).await.unwrap().len(), 1);
    assert_eq!(s.pending_deliveries().await.unwrap(), 1);

    assert!(s
        .unsubscribe(&one.arn, vec![delivery(&one.arn, None, "bye")])
        .await
        .unwrap());
    assert!(!s.unsubscribe(&one.arn, vec![]).await.unwrap());
    assert_eq!(s.pending_deliveries().await.unwrap(), 2);
    assert!(s.delete_topic(&t.arn).await.unwrap());
    assert!(s.subscription(&pending.arn).await.unwrap().is_none());
    assert!(s.topic(&t.arn).await.unwrap().is_none());
}

#[tokio::test]
async fn publish_dedups_and_orders_groups() {
    let (_dir, s) = store();
    let t = topic("f.fifo");
    s.create_topic(t.clone()).await.unwrap();
    let dedup = |id: &str, mid: &str, now: i64| Dedup {
        id: id.into(),
        message_id: mid.into(),
        until_ms: now + 300_000,
        now_ms: now,
    };
    let p = s
        .publish(
            &t.arn,
            Some(dedup("d1", "m1", 0)),
            rows(vec![delivery("s", Some("g"), "1")]),
        )
        .await
        .unwrap();
    assert_eq!(p, Published::Accepted { sequence: 1 });
    let p = s
        .publish(
            &t.arn,
            Some(dedup("d1", "m2", 10)),
            rows(vec![delivery("s", Some("g"), "x")]),
        )
        .await
        .unwrap();
    assert_eq!(
        p,
        Published::Duplicate {
            message_id: "m1".into(),
            sequence: 1
        }
    );
    s.publish(
        &t.arn,
        Some(dedup("d2", "m3", 20)),
        rows(vec![delivery("s", Some("g"), "2")]),
    )
    .await
    .unwrap();
    s.publish(
        &t.arn,
        Some(dedup("d3", "m4", 20)),
        rows(vec![delivery("s", Some("h"), "3")]),
    )
    .await
    .unwrap();
    // After the window, the id is new again.
    let p = s
        .publish(&t.arn, Some(dedup("d1", "m5", 400_000)), rows(vec![]))
        .await
        .unwrap();
    assert_eq!(p, Published::Accepted { sequence: 4 });
    assert_eq!(
        s.publish("nope", None, rows(vec![])).await.unwrap(),
        Published::NoTopic
    );

    // Only each group's head is claimable.
    let got = s.claim_deliveries("me", 0, 1_000, 10).await.unwrap();
    let payloads: Vec<_> = got.iter().map(|d| d.payload.as_str()).collect();
    assert_eq!(payloads, vec!["1", "3"]);
    assert!(s
        .claim_deliveries("other", 0, 1_000, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(!s.finish_delivery(got[0].id, "other", None).await.unwrap());
    assert!(s.finish_delivery(got[0].id, "me", None).await.unwrap());
    let next = s.claim_deliveries("me", 0, 1_000, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].payload, "2");
    // A retry puts it back, due later.
    assert!(s.retry_delivery(next[0].id, "me", 1, 50).await.unwrap());
    assert!(s
        .claim_deliveries("me", 10, 1_000, 10)
        .await
        .unwrap()
        .is_empty());
    let again = s.claim_deliveries("me", 50, 1_000, 10).await.unwrap();
    assert_eq!(again[0].attempts, 1);
    // A passed lease frees it; start-up releases every claim.
    assert_eq!(
        s.claim_deliveries("x", 2_000, 3_000, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(s.release_delivery_claims().await.unwrap(), 2);
    // The rows are made with the message's sequence number.
    let p = s
        .publish(
            &t.arn,
            Some(dedup("d9", "m9", 400_000)),
            Box::new(|seq| Ok(vec![delivery("s9", None, &format!("seq {seq}"))])),
        )
        .await
        .unwrap();
    assert_eq!(p, Published::Accepted { sequence: 5 });
    assert_eq!(s.next_delivery_due().await.unwrap(), Some(0));
    // A group's later rows wait for its head: the head's due time counts.
    let (_dir2, s2) = store();
    s2.create_topic(t.clone()).await.unwrap();
    s2.publish(
        &t.arn,
        None,
        rows(vec![
            delivery("s", Some("k"), "a"),
            delivery("s", Some("k"), "b"),
        ]),
    )
    .await
    .unwrap();
    let head = s2.claim_deliveries("me", 0, 1_000, 10).await.unwrap();
    assert_eq!(head.len(), 1);
    assert!(s2.retry_delivery(head[0].id, "me", 1, 700).await.unwrap());
    assert_eq!(s2.next_delivery_due().await.unwrap(), Some(700));
}
