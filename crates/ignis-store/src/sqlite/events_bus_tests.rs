use super::*;

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in(dir.path()).unwrap();
    (dir, store)
}

fn bus(name: &str) -> EventBus {
    EventBus {
        name: name.into(),
        arn: format!("arn:aws:events:us-east-1:000000000000:event-bus/{name}"),
        description: None,
        tags: BTreeMap::new(),
        created_ms: 1,
    }
}

fn rule(bus: &str, name: &str, next: Option<i64>) -> EventRule {
    EventRule {
        bus: bus.into(),
        name: name.into(),
        arn: format!("arn:aws:events:us-east-1:000000000000:rule/{bus}/{name}"),
        enabled: true,
        spec: "{}".into(),
        next_fire_ms: next,
        tags: BTreeMap::new(),
        created_ms: 1,
    }
}

fn target(id: &str, arn: &str) -> RuleTarget {
    RuleTarget {
        id: id.into(),
        arn: arn.into(),
        spec: "{}".into(),
    }
}

fn delivery(rule: &str, payload: &str) -> NewEventDelivery {
    NewEventDelivery {
        rule_arn: rule.into(),
        target_arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
        payload: payload.into(),
        not_before_ms: 0,
    }
}

#[tokio::test]
async fn buses_rules_and_targets() {
    let (_d, s) = store();
    assert!(s.create_bus(bus("default")).await.unwrap());
    assert!(!s.create_bus(bus("default")).await.unwrap());
    assert!(s.create_bus(bus("orders")).await.unwrap());
    let names: Vec<_> = s
        .list_buses("or", None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["orders"]);
    // A rule needs its bus.
    assert!(!s.put_rule(rule("missing", "r", None)).await.unwrap());
    assert!(s.put_rule(rule("orders", "r1", None)).await.unwrap());
    assert!(s.put_rule(rule("orders", "r2", None)).await.unwrap());
    let mut off = rule("orders", "r3", None);
    off.enabled = false;
    assert!(s.put_rule(off).await.unwrap());
    assert!(s
        .put_targets(
            "orders",
            "r1",
            vec![target("a", "arn:x"), target("b", "arn:y")]
        )
        .await
        .unwrap());
    assert!(s
        .put_targets("orders", "r3", vec![target("a", "arn:x")])
        .await
        .unwrap());
    assert!(!s
        .put_targets("orders", "nope", vec![target("a", "arn:x")])
        .await
        .unwrap());
    // Enabled rules with targets only.
    let enabled = s.enabled_rules("orders").await.unwrap();
    assert_eq!(enabled.len(), 1);
    assert_eq!(enabled[0].0.name, "r1");
    assert_eq!(enabled[0].1.len(), 2);
    assert_eq!(
        s.rule_names_by_target("orders", "arn:x", None, 10)
            .await
            .unwrap(),
        ["r1", "r3"]
    );
    // A rule with targets is not deleted.
    assert_eq!(
        s.delete_rule("orders", "r1").await.unwrap(),
        RuleDeleted::HasTargets
    );
    assert_eq!(
        s.remove_targets("orders", "r1", vec!["a".into(), "b".into(), "c".into()])
            .await
            .unwrap(),
        ["a", "b"]
    );
    assert_eq!(
        s.delete_rule("orders", "r1").await.unwrap(),
        RuleDeleted::Deleted
    );
    assert_eq!(
        s.delete_rule("orders", "r1").await.unwrap(),
        RuleDeleted::Missing
    );
    let names: Vec<_> = s
        .list_rules("orders", "r", Some("r2"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["r3"]);
    // Deleting the bus takes its rules and targets.
    assert!(s.delete_bus("orders").await.unwrap());
    assert!(s.rule("orders", "r3").await.unwrap().is_none());
    assert!(s.targets("orders", "r3").await.unwrap().is_empty());
}

#[tokio::test]
async fn deliveries_are_claimed_once_and_released_at_start() {
    let (_d, s) = store();
    s.add_deliveries(vec![delivery("r", "1"), delivery("r", "2")])
        .await
        .unwrap();
    let a = s.claim_deliveries("a", 10, 100, 10).await.unwrap();
    assert_eq!(a.len(), 2);
    assert!(s
        .claim_deliveries("b", 10, 100, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(!s.finish_delivery(a[0].id, "b").await.unwrap());
    assert!(s.finish_delivery(a[0].id, "a").await.unwrap());
    assert!(s.retry_delivery(a[1].id, "a", 1, 50).await.unwrap());
    assert!(s
        .claim_deliveries("b", 10, 100, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.next_delivery_due().await.unwrap(), Some(50));
    let b = s.claim_deliveries("b", 50, 100, 10).await.unwrap();
    assert_eq!(b[0].attempts, 1);
    assert_eq!(s.release_delivery_claims().await.unwrap(), 1);
    assert_eq!(s.claim_deliveries("c", 50, 100, 10).await.unwrap().len(), 1);
    assert_eq!(s.pending_deliveries().await.unwrap(), 1);
}

#[tokio::test]
async fn a_tick_is_fired_once() {
    let (_d, s) = store();
    s.create_bus(bus("default")).await.unwrap();
    let r = rule("default", "tick", Some(1_000));
    s.put_rule(r.clone()).await.unwrap();
    assert!(s.due_rules(999).await.unwrap().is_empty());
    assert_eq!(s.due_rules(1_000).await.unwrap().len(), 1);
    assert_eq!(s.next_rule_due().await.unwrap(), Some(1_000));
    assert!(s
        .fire_rule(&r.arn, 1_000, Some(61_000), vec![delivery(&r.arn, "t")])
        .await
        .unwrap());
    // A second claimer of the same tick writes nothing.
    assert!(!s
        .fire_rule(&r.arn, 1_000, Some(61_000), vec![delivery(&r.arn, "t")])
        .await
        .unwrap());
    assert_eq!(s.pending_deliveries().await.unwrap(), 1);
    assert_eq!(s.next_rule_due().await.unwrap(), Some(61_000));
}
