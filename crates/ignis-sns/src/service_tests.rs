//! The service and its dispatcher in process, over a real SQLite store and
//! in-memory targets.

use std::sync::Mutex;
use std::time::Duration;

use ignis_protocol::QueryRequest;
use ignis_store::SqliteStore;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::targets::{QueueMessage, TargetError};

#[derive(Default)]
struct Fake {
    invoked: Mutex<Vec<(String, Value)>>,
    sent: Mutex<Vec<(String, QueueMessage)>>,
    queue_policies: Mutex<BTreeMap<String, String>>,
    function_policies: Mutex<BTreeMap<String, String>>,
}

#[async_trait::async_trait]
impl Targets for Fake {
    async fn invoke(&self, arn: &str, payload: Vec<u8>) -> Result<(), TargetError> {
        let event =
            serde_json::from_slice(&payload).map_err(|e| TargetError::Client(e.to_string()))?;
        self.invoked.lock().unwrap().push((arn.to_string(), event));
        Ok(())
    }

    async fn function_policy(&self, arn: &str) -> Result<Option<String>, TargetError> {
        Ok(self.function_policies.lock().unwrap().get(arn).cloned())
    }

    async fn queue_policy(&self, arn: &str) -> Result<Option<String>, TargetError> {
        if arn.ends_with(":missing") {
            return Err(TargetError::Client("QueueDoesNotExist".into()));
        }
        Ok(self.queue_policies.lock().unwrap().get(arn).cloned())
    }

    async fn send(&self, arn: &str, message: QueueMessage) -> Result<(), TargetError> {
        self.sent.lock().unwrap().push((arn.to_string(), message));
        Ok(())
    }
}

struct Setup {
    sns: Sns,
    fake: Arc<Fake>,
    store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

fn setup(enforce: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open_in(dir.path()).unwrap());
    let fake = Arc::new(Fake::default());
    let sns = Sns::new(SnsConfig {
        store: store.clone(),
        targets: fake.clone(),
        region: "us-east-1".into(),
        account: "000000000000".into(),
        base_url: "http://127.0.0.1:9".into(),
        data_dir: dir.path().to_path_buf(),
        enforce,
    });
    Setup {
        sns,
        fake,
        store,
        _dir: dir,
    }
}

async fn call(sns: &Sns, params: &[(&str, &str)]) -> Result<String, AwsError> {
    let req = QueryRequest::from_params(
        params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )?;
    let op = SnsOp::parse(&req)?;
    Ok(sns.execute(op, "000000000000").await?.to_xml("r"))
}

const TOPIC: &str = "arn:aws:sns:us-east-1:000000000000:t";
const QUEUE: &str = "arn:aws:sqs:us-east-1:000000000000:q";

#[tokio::test]
async fn a_publish_commits_one_delivery_per_matching_subscription() {
    let s = setup(false);
    call(&s.sns, &[("Action", "CreateTopic"), ("Name", "t")])
        .await
        .unwrap();
    call(
        &s.sns,
        &[
            ("Action", "Subscribe"),
            ("TopicArn", TOPIC),
            ("Protocol", "sqs"),
            ("Endpoint", QUEUE),
            ("Attributes.entry.1.key", "FilterPolicy"),
            ("Attributes.entry.1.value", r#"{"color":["red"]}"#),
        ],
    )
    .await
    .unwrap();
    call(
        &s.sns,
        &[
            ("Action", "Subscribe"),
            ("TopicArn", TOPIC),
            ("Protocol", "lambda"),
            (
                "Endpoint",
                "arn:aws:lambda:us-east-1:000000000000:function:f",
            ),
        ],
    )
    .await
    .unwrap();
    let red = [
        ("Action", "Publish"),
        ("TopicArn", TOPIC),
        ("Message", "m1"),
        ("MessageAttributes.entry.1.Name", "color"),
        ("MessageAttributes.entry.1.Value.DataType", "String"),
        ("MessageAttributes.entry.1.Value.StringValue", "red"),
    ];
    call(&s.sns, &red).await.unwrap();
    assert_eq!(s.store.pending_deliveries().await.unwrap(), 2);
    call(
        &s.sns,
        &[
            ("Action", "Publish"),
            ("TopicArn", TOPIC),
            ("Message", "m2"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(s.store.pending_deliveries().await.unwrap(), 3);
    // A refused publish writes nothing.
    let e = call(
        &s.sns,
        &[("Action", "Publish"), ("TopicArn", TOPIC), ("Message", "")],
    )
    .await
    .unwrap_err();
    assert_eq!(e.message, "Invalid parameter: Empty message");
    assert_eq!(s.store.pending_deliveries().await.unwrap(), 3);

    let stop = CancellationToken::new();
    let task = s.sns.start(stop.clone()).await;
    for _ in 0..3000 {
        if s.store.pending_deliveries().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.store.pending_deliveries().await.unwrap(), 0);
    stop.cancel();
    task.await.unwrap();
    let sent = s.fake.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let body: Value = serde_json::from_str(&sent[0].1.body).unwrap();
    assert_eq!(body["Message"], "m1");
    assert_eq!(body["Type"], "Notification");
    assert_eq!(body["MessageAttributes"]["color"]["Value"], "red");
    let invoked = s.fake.invoked.lock().unwrap().clone();
    let messages: Vec<_> = invoked
        .iter()
        .map(|(_, e)| {
            e["Records"][0]["Sns"]["Message"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(messages, vec!["m1", "m2"]);
    assert_eq!(invoked[0].1["Records"][0]["EventSource"], "aws:sns");
}

#[tokio::test]
async fn enforce_mode_refuses_a_queue_without_a_policy_to_its_dead_letter_queue() {
    let s = setup(true);
    call(&s.sns, &[("Action", "CreateTopic"), ("Name", "t")])
        .await
        .unwrap();
    let dlq = "arn:aws:sqs:us-east-1:000000000000:dlq";
    let allow = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": dlq,
        "Condition": {"ArnEquals": {"aws:SourceArn": TOPIC}}}]});
    s.fake
        .queue_policies
        .lock()
        .unwrap()
        .insert(dlq.into(), allow.to_string());
    let redrive = serde_json::json!({"deadLetterTargetArn": dlq}).to_string();
    call(
        &s.sns,
        &[
            ("Action", "Subscribe"),
            ("TopicArn", TOPIC),
            ("Protocol", "sqs"),
            ("Endpoint", QUEUE),
            ("Attributes.entry.1.key", "RedrivePolicy"),
            ("Attributes.entry.1.value", &redrive),
            ("Attributes.entry.2.key", "RawMessageDelivery"),
            ("Attributes.entry.2.value", "true"),
        ],
    )
    .await
    .unwrap();
    call(
        &s.sns,
        &[
            ("Action", "Publish"),
            ("TopicArn", TOPIC),
            ("Message", "guarded"),
        ],
    )
    .await
    .unwrap();
    let stop = CancellationToken::new();
    let task = s.sns.start(stop.clone()).await;
    for _ in 0..3000 {
        if !s.fake.sent.lock().unwrap().is_empty()
            && s.store.pending_deliveries().await.unwrap() == 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    task.await.unwrap();
    let sent = s.fake.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, dlq);
    assert_eq!(sent[0].1.body, "guarded");
}

#[tokio::test]
async fn fifo_topics_deduplicate_and_number() {
    let s = setup(false);
    let xml = call(
        &s.sns,
        &[
            ("Action", "CreateTopic"),
            ("Name", "f.fifo"),
            ("Attributes.entry.1.key", "FifoTopic"),
            ("Attributes.entry.1.value", "true"),
            ("Attributes.entry.2.key", "ContentBasedDeduplication"),
            ("Attributes.entry.2.value", "true"),
        ],
    )
    .await
    .unwrap();
    assert!(xml.contains("<TopicArn>arn:aws:sns:us-east-1:000000000000:f.fifo</TopicArn>"));
    let topic = "arn:aws:sns:us-east-1:000000000000:f.fifo";
    let publish = |m: &'static str| {
        [
            ("Action", "Publish"),
            ("TopicArn", topic),
            ("Message", m),
            ("MessageGroupId", "g"),
        ]
    };
    let first = call(&s.sns, &publish("same")).await.unwrap();
    let again = call(&s.sns, &publish("same")).await.unwrap();
    assert!(
        first.contains("<SequenceNumber>00000000000000000001</SequenceNumber>"),
        "{first}"
    );
    assert_eq!(first, again, "a duplicate answers the first message");
    let other = call(&s.sns, &publish("other")).await.unwrap();
    assert!(other.contains("<SequenceNumber>00000000000000000002</SequenceNumber>"));
    let e = call(&s.sns, &[("Action", "CreateTopic"), ("Name", "bad.fifo")])
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidParameter");
}

#[tokio::test]
async fn enforce_mode_invokes_a_function_only_when_its_policy_allows_sns() {
    let s = setup(true);
    call(&s.sns, &[("Action", "CreateTopic"), ("Name", "t")])
        .await
        .unwrap();
    let open_fn = "arn:aws:lambda:us-east-1:000000000000:function:allowed";
    let closed_fn = "arn:aws:lambda:us-east-1:000000000000:function:closed";
    let other_topic_fn = "arn:aws:lambda:us-east-1:000000000000:function:other";
    let allow = |function: &str, source: &str| {
        serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "lambda:InvokeFunction", "Resource": function,
            "Condition": {"ArnLike": {"AWS:SourceArn": source}}}]})
        .to_string()
    };
    {
        let mut policies = s.fake.function_policies.lock().unwrap();
        policies.insert(open_fn.into(), allow(open_fn, TOPIC));
        policies.insert(
            other_topic_fn.into(),
            allow(other_topic_fn, "arn:aws:sns:us-east-1:000000000000:other"),
        );
    }
    for f in [open_fn, closed_fn, other_topic_fn] {
        call(
            &s.sns,
            &[
                ("Action", "Subscribe"),
                ("TopicArn", TOPIC),
                ("Protocol", "lambda"),
                ("Endpoint", f),
            ],
        )
        .await
        .unwrap();
    }
    call(
        &s.sns,
        &[("Action", "Publish"), ("TopicArn", TOPIC), ("Message", "m")],
    )
    .await
    .unwrap();
    let stop = CancellationToken::new();
    let task = s.sns.start(stop.clone()).await;
    for _ in 0..3000 {
        if s.store.pending_deliveries().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    task.await.unwrap();
    let invoked: Vec<String> = s
        .fake
        .invoked
        .lock()
        .unwrap()
        .iter()
        .map(|(f, _)| f.clone())
        .collect();
    assert_eq!(invoked, vec![open_fn.to_string()]);
}
