use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;

use ignis_store::SqliteStore;
use serde_json::json;

use super::*;
use crate::targets::{Message, TargetError};

#[derive(Default)]
struct Fake {
    invoked: Mutex<Vec<(String, String)>>,
    sent: Mutex<Vec<(String, Message)>>,
    fail_functions: AtomicBool,
    policies: Mutex<std::collections::HashMap<String, String>>,
}

#[async_trait::async_trait]
impl Targets for Fake {
    async fn invoke(&self, function_arn: &str, payload: Vec<u8>) -> Result<(), TargetError> {
        if function_arn.ends_with(":missing") {
            return Err(TargetError::Client("Function not found".into()));
        }
        if self.fail_functions.load(Ordering::SeqCst) {
            return Err(TargetError::Server("throttled".into()));
        }
        self.invoked.lock().unwrap().push((
            function_arn.to_string(),
            String::from_utf8(payload).unwrap(),
        ));
        Ok(())
    }

    async fn send(&self, arn: &str, message: Message) -> Result<(), TargetError> {
        self.sent.lock().unwrap().push((arn.to_string(), message));
        Ok(())
    }

    async fn policy(&self, arn: &str) -> Result<Option<String>, TargetError> {
        Ok(self.policies.lock().unwrap().get(arn).cloned())
    }
}

struct Manual(AtomicI64);

impl Clock for Manual {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    eb: EventBridge,
    fake: Arc<Fake>,
    clock: Arc<Manual>,
}

impl Fixture {
    fn new() -> Self {
        Self::with_mode(false)
    }

    fn with_mode(enforce: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open_in(dir.path()).unwrap());
        let fake = Arc::new(Fake::default());
        // 2026-01-01T00:00:00Z
        let clock = Arc::new(Manual(AtomicI64::new(1_767_225_600_000)));
        let eb = EventBridge::new(EventBridgeConfig {
            store,
            targets: fake.clone(),
            region: "us-east-1".into(),
            account: "000000000000".into(),
            clock: clock.clone(),
            enforce,
        });
        Self {
            _dir: dir,
            eb,
            fake,
            clock,
        }
    }

    async fn call(&self, name: &str, body: Value) -> Result<Value, AwsError> {
        let op = EventsOp::parse(name, body.to_string().as_bytes())?.expect("served");
        self.eb.execute(op).await
    }

    async fn ok(&self, name: &str, body: Value) -> Value {
        self.call(name, body)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"))
    }

    fn advance(&self, ms: i64) {
        self.clock.0.fetch_add(ms, Ordering::SeqCst);
    }

    async fn drain(&self) {
        while self.eb.deliver_due().await > 0 {}
    }

    fn invoked(&self) -> Vec<(String, Value)> {
        self.fake
            .invoked
            .lock()
            .unwrap()
            .iter()
            .map(|(a, p)| (a.clone(), serde_json::from_str(p).unwrap()))
            .collect()
    }

    fn sent(&self) -> Vec<(String, Message)> {
        self.fake.sent.lock().unwrap().clone()
    }
}

const FUNCTION: &str = "arn:aws:lambda:us-east-1:000000000000:function:orders";
const QUEUE: &str = "arn:aws:sqs:us-east-1:000000000000:orders";

fn entry(source: &str, detail: Value) -> Value {
    json!({"Source": source, "DetailType": "Order Placed", "Detail": detail.to_string()})
}

#[tokio::test]
async fn matching_events_fan_out_to_each_target_and_others_go_nowhere() {
    let f = Fixture::new();
    let arn = f
        .ok(
            "PutRule",
            json!({"Name": "orders", "EventPattern": r#"{"source":["app.orders"],"detail":{"total":[{"numeric":[">",100]}]}}"#}),
        )
        .await;
    assert_eq!(
        arn["RuleArn"],
        "arn:aws:events:us-east-1:000000000000:rule/orders"
    );
    let put = f
        .ok(
            "PutTargets",
            json!({"Rule": "orders", "Targets": [
                {"Id": "fn", "Arn": FUNCTION},
                {"Id": "q", "Arn": QUEUE, "InputTransformer": {
                    "InputPathsMap": {"id": "$.detail.id", "src": "$.source"},
                    "InputTemplate": "{\"order\": <id>, \"from\": \"<src>\", \"rule\": \"<aws.events.rule-name>\"}"}}
            ]}),
        )
        .await;
    assert_eq!(put["FailedEntryCount"], 0);
    let out = f
        .ok(
            "PutEvents",
            json!({"Entries": [
                entry("app.orders", json!({"id": 7, "total": 250})),
                entry("app.orders", json!({"id": 8, "total": 50})),
                entry("app.billing", json!({"id": 9, "total": 900})),
            ]}),
        )
        .await;
    assert_eq!(out["FailedEntryCount"], 0);
    let ids: Vec<&str> = out["Entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["EventId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    // Committed before the answer: two rows (one event, two targets).
    assert_eq!(f.eb.backlog().await, 2);
    f.drain().await;
    let invoked = f.invoked();
    assert_eq!(invoked.len(), 1);
    let (arn, event) = &invoked[0];
    assert_eq!(arn, FUNCTION);
    assert_eq!(event["id"], ids[0]);
    assert_eq!(event["version"], "0");
    assert_eq!(event["source"], "app.orders");
    assert_eq!(event["detail-type"], "Order Placed");
    assert_eq!(event["account"], "000000000000");
    assert_eq!(event["region"], "us-east-1");
    assert_eq!(event["time"], "2026-01-01T00:00:00Z");
    assert_eq!(event["resources"], json!([]));
    assert_eq!(event["detail"], json!({"id": 7, "total": 250}));
    let sent = f.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, QUEUE);
    let body: Value = serde_json::from_str(&sent[0].1.body).unwrap();
    assert_eq!(
        body,
        json!({"order": 7, "from": "app.orders", "rule": "orders"})
    );
    assert_eq!(f.eb.backlog().await, 0);
}

#[tokio::test]
async fn per_entry_errors_and_request_limits() {
    let f = Fixture::new();
    let out = f
        .ok(
            "PutEvents",
            json!({"Entries": [
                {"Source": "app", "DetailType": "t"},
                {"Source": "app", "DetailType": "t", "Detail": "[1,2]"},
                entry("app", json!({})),
                {"Source": "app", "DetailType": "t", "Detail": "{}", "EventBusName": "nope"},
            ]}),
        )
        .await;
    assert_eq!(out["FailedEntryCount"], 3);
    let e = &out["Entries"];
    assert_eq!(e[0]["ErrorCode"], "InvalidArgument");
    assert_eq!(
        e[0]["ErrorMessage"],
        "Parameter Detail is not valid. Reason: Detail is a required argument."
    );
    assert_eq!(e[1]["ErrorCode"], "MalformedDetail");
    assert!(e[2]["EventId"].is_string());
    assert_eq!(e[3]["ErrorCode"], "ResourceNotFoundException");
    let big = "x".repeat(262_144);
    let err = f
        .call(
            "PutEvents",
            json!({"Entries": [entry("app", json!({ "big": big }))]}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
    assert!(err.message.contains("over the limit"), "{}", err.message);
    let eleven: Vec<Value> = (0..11).map(|_| entry("app", json!({}))).collect();
    let err = f
        .call("PutEvents", json!({ "Entries": eleven }))
        .await
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
}

#[tokio::test]
async fn rules_targets_and_their_refusals() {
    let f = Fixture::new();
    let err = f
        .call(
            "PutRule",
            json!({"Name": "bad", "EventPattern": "{\"source\": \"x\"}"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, "InvalidEventPatternException");
    let err = f
        .call("PutRule", json!({"Name": "none"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
    let err = f
        .call(
            "PutRule",
            json!({"Name": "s", "ScheduleExpression": "rate(1 minutes)"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.message, "Parameter ScheduleExpression is not valid.");
    f.ok(
        "PutRule",
        json!({"Name": "r", "EventPattern": "{\"source\":[\"a\"]}", "Description": "d", "Tags": [{"Key": "k", "Value": "v"}]}),
    )
    .await;
    let out = f
        .ok(
            "PutTargets",
            json!({"Rule": "r", "Targets": [
                {"Id": "ok", "Arn": QUEUE},
                {"Id": "two", "Arn": QUEUE, "Input": "{}", "InputPath": "$.detail"},
                {"Id": "kinesis", "Arn": "arn:aws:kinesis:us-east-1:000000000000:stream/s"},
            ]}),
        )
        .await;
    assert_eq!(out["FailedEntryCount"], 2);
    assert_eq!(out["FailedEntries"][0]["TargetId"], "two");
    let listed = f.ok("ListTargetsByRule", json!({"Rule": "r"})).await;
    assert_eq!(listed["Targets"], json!([{"Id": "ok", "Arn": QUEUE}]));
    let names = f
        .ok("ListRuleNamesByTarget", json!({"TargetArn": QUEUE}))
        .await;
    assert_eq!(names["RuleNames"], json!(["r"]));
    let err = f
        .call("DeleteRule", json!({"Name": "r"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
    assert_eq!(err.message, "Rule can't be deleted since it has targets.");
    let many: Vec<Value> = (0..6)
        .map(|i| json!({"Id": format!("t{i}"), "Arn": QUEUE}))
        .collect();
    let err = f
        .call("PutTargets", json!({"Rule": "r", "Targets": many}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "LimitExceededException");
    let described = f.ok("DescribeRule", json!({"Name": "r"})).await;
    assert_eq!(described["State"], "ENABLED");
    assert_eq!(described["Description"], "d");
    assert_eq!(described["EventBusName"], "default");
    let tags = f
        .ok(
            "ListTagsForResource",
            json!({"ResourceARN": described["Arn"]}),
        )
        .await;
    assert_eq!(tags["Tags"], json!([{"Key": "k", "Value": "v"}]));
    f.ok("RemoveTargets", json!({"Rule": "r", "Ids": ["ok"]}))
        .await;
    f.ok("DeleteRule", json!({"Name": "r"})).await;
    let err = f
        .call("DescribeRule", json!({"Name": "r"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "ResourceNotFoundException");
}

#[tokio::test]
async fn a_disabled_rule_delivers_nothing_and_a_custom_bus_has_its_own_rules() {
    let f = Fixture::new();
    f.ok("CreateEventBus", json!({"Name": "shop"})).await;
    let err = f
        .call("CreateEventBus", json!({"Name": "shop"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "ResourceAlreadyExistsException");
    let rule = f
        .ok(
            "PutRule",
            json!({"Name": "r", "EventBusName": "shop", "EventPattern": "{\"source\":[\"a\"]}"}),
        )
        .await;
    assert_eq!(
        rule["RuleArn"],
        "arn:aws:events:us-east-1:000000000000:rule/shop/r"
    );
    f.ok(
        "PutTargets",
        json!({"Rule": "r", "EventBusName": "shop", "Targets": [{"Id": "fn", "Arn": FUNCTION}]}),
    )
    .await;
    // On the default bus: no rule matches.
    f.ok("PutEvents", json!({"Entries": [entry("a", json!({}))]}))
        .await;
    assert_eq!(f.eb.backlog().await, 0);
    f.ok("DisableRule", json!({"Name": "r", "EventBusName": "shop"}))
        .await;
    let mut e = entry("a", json!({}));
    e["EventBusName"] = json!("arn:aws:events:us-east-1:000000000000:event-bus/shop");
    f.ok("PutEvents", json!({ "Entries": [e.clone()] })).await;
    assert_eq!(f.eb.backlog().await, 0);
    f.ok("EnableRule", json!({"Name": "r", "EventBusName": "shop"}))
        .await;
    f.ok("PutEvents", json!({ "Entries": [e] })).await;
    f.drain().await;
    assert_eq!(f.invoked().len(), 1);
    let buses = f.ok("ListEventBuses", json!({})).await;
    let names: Vec<&str> = buses["EventBuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "shop"]);
    let err = f
        .call("DeleteEventBus", json!({"Name": "default"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
    f.ok("DeleteEventBus", json!({"Name": "shop"})).await;
    let err = f
        .call("DescribeEventBus", json!({"Name": "shop"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "ResourceNotFoundException");
}

#[tokio::test]
async fn failed_deliveries_are_retried_then_sent_to_the_dead_letter_queue() {
    let f = Fixture::new();
    let dlq = "arn:aws:sqs:us-east-1:000000000000:dlq";
    f.ok(
        "PutRule",
        json!({"Name": "r", "EventPattern": "{\"source\":[\"a\"]}"}),
    )
    .await;
    f.ok(
        "PutTargets",
        json!({"Rule": "r", "Targets": [
            {"Id": "fn", "Arn": FUNCTION, "RetryPolicy": {"MaximumRetryAttempts": 1},
             "DeadLetterConfig": {"Arn": dlq}},
            {"Id": "gone", "Arn": "arn:aws:lambda:us-east-1:000000000000:function:missing",
             "DeadLetterConfig": {"Arn": dlq}}
        ]}),
    )
    .await;
    f.fake.fail_functions.store(true, Ordering::SeqCst);
    f.ok(
        "PutEvents",
        json!({"Entries": [entry("a", json!({"n": 1}))]}),
    )
    .await;
    // The missing function is a client error: straight to the DLQ; the
    // throttled one waits for its retry.
    assert_eq!(f.eb.deliver_due().await, 2);
    assert_eq!(f.sent().len(), 1);
    assert_eq!(f.eb.backlog().await, 1);
    assert_eq!(f.eb.deliver_due().await, 0);
    f.advance(60_000);
    assert_eq!(f.eb.deliver_due().await, 1);
    let sent = f.sent();
    assert_eq!(sent.len(), 2);
    for (arn, m) in &sent {
        assert_eq!(arn, dlq);
        let event: Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(event["detail"], json!({"n": 1}));
        let attrs: std::collections::BTreeMap<_, _> = m.attributes.iter().cloned().collect();
        assert_eq!(
            attrs["RULE_ARN"],
            "arn:aws:events:us-east-1:000000000000:rule/r"
        );
    }
    assert_eq!(f.eb.backlog().await, 0);
    assert!(f.invoked().is_empty());
}

#[tokio::test]
async fn a_rate_rule_fires_once_per_tick_with_a_manual_clock() {
    let f = Fixture::new();
    f.ok(
        "PutRule",
        json!({"Name": "tick", "ScheduleExpression": "rate(1 minute)"}),
    )
    .await;
    f.ok(
        "PutTargets",
        json!({"Rule": "tick", "Targets": [{"Id": "fn", "Arn": FUNCTION}]}),
    )
    .await;
    assert_eq!(f.eb.fire_due().await, 0);
    f.advance(59_999);
    assert_eq!(f.eb.fire_due().await, 0);
    f.advance(1);
    assert_eq!(f.eb.fire_due().await, 1);
    assert_eq!(f.eb.fire_due().await, 0);
    f.drain().await;
    let invoked = f.invoked();
    assert_eq!(invoked.len(), 1);
    let event = &invoked[0].1;
    assert_eq!(event["source"], "aws.events");
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert_eq!(event["detail"], json!({}));
    assert_eq!(event["time"], "2026-01-01T00:01:00Z");
    assert_eq!(
        event["resources"],
        json!(["arn:aws:events:us-east-1:000000000000:rule/tick"])
    );
    // Ten minutes missed (Ignis down): one tick, then the next after now.
    f.advance(10 * 60_000 + 30_000);
    assert_eq!(f.eb.fire_due().await, 1);
    assert_eq!(f.eb.fire_due().await, 0);
    f.advance(30_000);
    assert_eq!(f.eb.fire_due().await, 1);
    // A disabled rule does not fire.
    f.ok("DisableRule", json!({"Name": "tick"})).await;
    f.advance(120_000);
    assert_eq!(f.eb.fire_due().await, 0);
    f.drain().await;
    assert_eq!(f.invoked().len(), 3);
}

#[tokio::test]
async fn test_event_pattern_and_cross_bus_routing() {
    let f = Fixture::new();
    let event = json!({"id": "1", "source": "a", "detail-type": "t", "account": "000000000000",
        "time": "2026-01-01T00:00:00Z", "region": "us-east-1", "resources": [], "detail": {"n": 5}})
    .to_string();
    let yes = f
        .ok(
            "TestEventPattern",
            json!({"EventPattern": "{\"detail\":{\"n\":[{\"numeric\":[\">\",1]}]}}", "Event": event}),
        )
        .await;
    assert_eq!(yes["Result"], true);
    let no = f
        .ok(
            "TestEventPattern",
            json!({"EventPattern": "{\"source\":[\"b\"]}", "Event": event}),
        )
        .await;
    assert_eq!(no["Result"], false);
    let err = f
        .call(
            "TestEventPattern",
            json!({"EventPattern": "{\"source\":", "Event": event}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, "InvalidEventPatternException");
    // default → shop bus → function.
    f.ok("CreateEventBus", json!({"Name": "shop"})).await;
    f.ok(
        "PutRule",
        json!({"Name": "fwd", "EventPattern": "{\"source\":[\"a\"]}"}),
    )
    .await;
    f.ok(
        "PutTargets",
        json!({"Rule": "fwd", "Targets": [{"Id": "bus",
            "Arn": "arn:aws:events:us-east-1:000000000000:event-bus/shop"}]}),
    )
    .await;
    f.ok(
        "PutRule",
        json!({"Name": "in", "EventBusName": "shop", "EventPattern": "{\"source\":[\"a\"]}"}),
    )
    .await;
    f.ok(
        "PutTargets",
        json!({"Rule": "in", "EventBusName": "shop", "Targets": [{"Id": "fn", "Arn": FUNCTION}]}),
    )
    .await;
    let out = f
        .ok(
            "PutEvents",
            json!({"Entries": [entry("a", json!({"x": 1}))]}),
        )
        .await;
    f.drain().await;
    let invoked = f.invoked();
    assert_eq!(invoked.len(), 1);
    assert_eq!(invoked[0].1["id"], out["Entries"][0]["EventId"]);
    // Ignis's own events.
    let id =
        f.eb.put_event(
            "arn:aws:events:us-east-1:000000000000:event-bus/default",
            "a",
            "Lambda Function Invocation Result - Success",
            vec![FUNCTION.into()],
            json!({"requestContext": {"condition": "Success"}}),
        )
        .await
        .unwrap();
    f.drain().await;
    assert_eq!(f.invoked().len(), 2);
    assert_eq!(f.invoked()[1].1["id"], id);
}

#[tokio::test]
async fn deliveries_a_killed_process_held_are_made_after_a_restart() {
    let f = Fixture::new();
    f.ok(
        "PutRule",
        json!({"Name": "r", "EventPattern": "{\"source\":[\"a\"]}"}),
    )
    .await;
    f.ok(
        "PutTargets",
        json!({"Rule": "r", "Targets": [{"Id": "fn", "Arn": FUNCTION}]}),
    )
    .await;
    f.ok(
        "PutEvents",
        json!({"Entries": [entry("a", json!({"n": 1}))]}),
    )
    .await;
    // A process claimed the row and died before delivering it.
    let now = f.clock.now_ms();
    let held =
        f.eb.inner
            .store
            .claim_deliveries("dead", now, now + 60_000, 10)
            .await
            .unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(f.eb.deliver_due().await, 0);
    // The next process releases it at start and delivers it.
    let stop = tokio_util::sync::CancellationToken::new();
    let task = f.eb.start(stop.clone()).await;
    for _ in 0..500 {
        if f.eb.backlog().await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.cancel();
    task.await.unwrap();
    assert_eq!(f.eb.backlog().await, 0);
    let invoked = f.invoked();
    assert_eq!(invoked.len(), 1);
    assert_eq!(invoked[0].1["detail"], json!({"n": 1}));
}

#[tokio::test]
async fn enforce_mode_delivers_only_where_the_target_policy_allows_events() {
    let f = Fixture::with_mode(true);
    let dlq = "arn:aws:sqs:us-east-1:000000000000:dlq";
    let allow = |action: &str, resource: &str, rule: &str| {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"}, "Action": action,
            "Resource": resource, "Condition": {"ArnEquals": {"aws:SourceArn": rule}}}]})
        .to_string()
    };
    let rule = f
        .ok(
            "PutRule",
            json!({"Name": "r", "EventPattern": "{\"source\":[\"a\"]}"}),
        )
        .await["RuleArn"]
        .as_str()
        .unwrap()
        .to_string();
    {
        let mut p = f.fake.policies.lock().unwrap();
        p.insert(
            FUNCTION.into(),
            allow("lambda:InvokeFunction", FUNCTION, &rule),
        );
        // The queue allows another rule only.
        p.insert(
            QUEUE.into(),
            allow(
                "sqs:SendMessage",
                QUEUE,
                "arn:aws:events:us-east-1:000000000000:rule/other",
            ),
        );
    }
    f.ok(
        "PutTargets",
        json!({"Rule": "r", "Targets": [
            {"Id": "fn", "Arn": FUNCTION},
            {"Id": "q", "Arn": QUEUE, "DeadLetterConfig": {"Arn": dlq}}]}),
    )
    .await;
    f.ok("PutEvents", json!({"Entries": [entry("a", json!({}))]}))
        .await;
    f.drain().await;
    assert_eq!(f.invoked().len(), 1);
    let sent = f.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, dlq);
    let attrs: std::collections::BTreeMap<_, _> = sent[0].1.attributes.iter().cloned().collect();
    assert_eq!(attrs["ERROR_CODE"], "CLIENT_ERROR");
    assert!(attrs["ERROR_MESSAGE"].contains("events.amazonaws.com may not sqs:SendMessage"));
}
