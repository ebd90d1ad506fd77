//! The consumer against a real RabbitMQ broker. Runs when
//! `IGNIS_TEST_AMQP` names one as `host:port/vhost/user/password` (the
//! end-to-end suite's fixture `tests/e2e/rabbitmq.py` starts such a
//! broker; `tests/e2e/test_rabbitmq.py` covers the same through the
//! server); otherwise it says so and passes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use amqprs::channel::{BasicPublishArguments, QueueDeclareArguments, QueuePurgeArguments};
use amqprs::connection::{Connection, OpenConnectionArguments};
use ignis_rmq::brokers::BrokerRegistry;
use ignis_rmq::secrets::{BasicAuth, SecretStore};
use ignis_rmq::{run, Backoff, BatchHandler, BatchLimits, Locator, MappingSpec, Outcome, Status};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

struct Broker {
    host: String,
    port: u16,
    vhost: String,
    user: String,
    password: String,
}

fn broker() -> Option<Broker> {
    let spec = std::env::var("IGNIS_TEST_AMQP").ok()?;
    let mut parts = spec.splitn(4, '/');
    let (host, port) = parts.next()?.rsplit_once(':')?;
    Some(Broker {
        host: host.into(),
        port: port.parse().ok()?,
        vhost: parts.next()?.into(),
        user: parts.next()?.into(),
        password: parts.next()?.into(),
    })
}

struct Function {
    fail: bool,
    events: Mutex<Vec<Value>>,
    statuses: Mutex<Vec<Status>>,
}

#[async_trait::async_trait]
impl BatchHandler for Function {
    async fn invoke(&self, event: Vec<u8>) -> Outcome {
        self.events
            .lock()
            .unwrap()
            .push(serde_json::from_slice(&event).unwrap());
        if self.fail {
            Outcome::Failed("Unhandled".into())
        } else {
            Outcome::Succeeded
        }
    }
    fn report(&self, status: Status) {
        self.statuses.lock().unwrap().push(status);
    }
    fn keep(&self, record: &[u8]) -> bool {
        // body-7 (base64 Ym9keS03) is filtered out.
        !String::from_utf8_lossy(record).contains("Ym9keS03")
    }
}

async fn publish(b: &Broker, queue: &str, count: usize) -> Connection {
    let args = OpenConnectionArguments::new(&b.host, b.port, &b.user, &b.password)
        .virtual_host(&b.vhost)
        .finish();
    let conn = Connection::open(&args).await.unwrap();
    let ch = conn.open_channel(None).await.unwrap();
    ch.queue_declare(QueueDeclareArguments::durable_client_named(queue))
        .await
        .unwrap();
    ch.queue_purge(QueuePurgeArguments::new(queue))
        .await
        .unwrap();
    for i in 0..count {
        let props = amqprs::BasicProperties::default()
            .with_content_type("text/plain")
            .with_message_id(&format!("m-{i}"))
            .finish();
        ch.basic_publish(
            props,
            format!("body-{i}").into_bytes(),
            BasicPublishArguments::new("", queue),
        )
        .await
        .unwrap();
    }
    conn
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn start(
    b: &Broker,
    dir: &std::path::Path,
    queue: &str,
    function: Arc<Function>,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    BrokerRegistry::new(dir)
        .add("local", &format!("amqp://{}:{}", b.host, b.port))
        .unwrap();
    let auth = BasicAuth {
        username: b.user.clone(),
        password: b.password.clone(),
    };
    SecretStore::open(dir)
        .unwrap()
        .put("rabbit", &auth)
        .unwrap();
    let spec = MappingSpec {
        event_source_arn: "arn:aws:mq:us-east-1:000000000000:broker:local:b-1".into(),
        queue: queue.into(),
        virtual_host: b.vhost.clone(),
        secret_arn: Some("arn:aws:secretsmanager:us-east-1:000000000000:secret:rabbit".into()),
        limits: BatchLimits {
            max_records: 4,
            max_bytes: ignis_rmq::MAX_EVENT_BYTES,
            window: Duration::from_millis(200),
        },
    };
    let cancel = CancellationToken::new();
    let backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(400),
    };
    let task = tokio::spawn(run(
        spec,
        Locator::new(dir),
        function,
        backoff,
        cancel.clone(),
    ));
    (cancel, task)
}

#[tokio::test]
async fn messages_are_batched_acked_after_success_and_requeued_after_failure() {
    let Some(b) = broker() else {
        eprintln!("IGNIS_TEST_AMQP is not set: no broker to test against");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let publisher = publish(&b, "ignis-rmq-ok", 10).await;
    let ok = Arc::new(Function {
        fail: false,
        events: Default::default(),
        statuses: Default::default(),
    });
    let (cancel, task) = start(&b, dir.path(), "ignis-rmq-ok", ok.clone());
    let count = |f: &Function| -> usize {
        f.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| {
                e["rmqMessagesByQueue"]
                    .as_object()
                    .unwrap()
                    .values()
                    .next()
                    .unwrap()
                    .as_array()
                    .unwrap()
                    .len()
            })
            .sum()
    };
    wait_until("9 messages", || count(&ok) == 9).await;
    for event in ok.events.lock().unwrap().iter() {
        assert_eq!(event["eventSource"], "aws:rmq");
        let key = format!("ignis-rmq-ok::{}", b.vhost);
        let records = event["rmqMessagesByQueue"][&key].as_array().unwrap();
        assert!(records.len() <= 4, "BatchSize 4: {}", records.len());
        assert_eq!(records[0]["basicProperties"]["contentType"], "text/plain");
    }
    cancel.cancel();
    task.await.unwrap();
    assert!(ok.statuses.lock().unwrap().contains(&Status::Processed));
    assert_eq!(count(&ok), 9, "the filtered message was not invoked");
    let ch = publisher.open_channel(None).await.unwrap();
    let (_, messages, _) = ch
        .queue_declare(
            QueueDeclareArguments::new("ignis-rmq-ok")
                .passive(true)
                .finish(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(messages, 0, "every message was acknowledged");

    // A failing function sees its batch again, redelivered.
    let _publisher = publish(&b, "ignis-rmq-fail", 2).await;
    let failing = Arc::new(Function {
        fail: true,
        events: Default::default(),
        statuses: Default::default(),
    });
    let (cancel, task) = start(&b, dir.path(), "ignis-rmq-fail", failing.clone());
    wait_until("a redelivery", || {
        failing.events.lock().unwrap().iter().any(|e| {
            e["rmqMessagesByQueue"]
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()[0]["redelivered"]
                == true
        })
    })
    .await;
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn wrong_credentials_and_a_missing_queue_are_reported_as_lambda_does() {
    let Some(mut b) = broker() else {
        eprintln!("IGNIS_TEST_AMQP is not set: no broker to test against");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let function = Arc::new(Function {
        fail: false,
        events: Default::default(),
        statuses: Default::default(),
    });
    let (cancel, task) = start(&b, dir.path(), "ignis-rmq-no-such-queue", function.clone());
    wait_until("a problem", || {
        !function.statuses.lock().unwrap().is_empty()
    })
    .await;
    cancel.cancel();
    task.await.unwrap();
    let first = function.statuses.lock().unwrap()[0].clone();
    assert_eq!(
        first.state_transition_reason(),
        Some("ESM_CONFIG_NOT_VALID"),
        "{first:?}"
    );

    b.password = "wrong".into();
    let function = Arc::new(Function {
        fail: false,
        events: Default::default(),
        statuses: Default::default(),
    });
    let (cancel, task) = start(&b, dir.path(), "ignis-rmq-ok", function.clone());
    wait_until("a problem", || {
        !function.statuses.lock().unwrap().is_empty()
    })
    .await;
    cancel.cancel();
    task.await.unwrap();
    let first = function.statuses.lock().unwrap()[0].clone();
    assert_eq!(
        first.state_transition_reason(),
        Some("EVENT_SOURCE_AUTHN_ERROR"),
        "{first:?}"
    );
    assert!(first
        .last_processing_result()
        .starts_with("PROBLEM: Connection error."));
    assert!(
        !first.last_processing_result().contains("wrong"),
        "no secret in the status"
    );
}
