//! The consumer against a real RabbitMQ broker: the one `IGNIS_TEST_AMQP`
//! names (`host:port/vhost/user/password`), else a private
//! `rabbitmq-server` (Debian's package, which scripts/test.sh installs)
//! started for the test on free ports with its own node name, epmd,
//! database and cookie under a temporary directory. Without either it
//! says so and passes. `tests/e2e/test_rabbitmq.py` covers the same
//! through the server.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amqprs::channel::{BasicPublishArguments, QueueDeclareArguments, QueuePurgeArguments};
use amqprs::connection::{Connection, OpenConnectionArguments};
use ignis_rmq::brokers::BrokerRegistry;
use ignis_rmq::secrets::{BasicAuth, SecretStore};
use ignis_rmq::{run, Backoff, BatchHandler, BatchLimits, Locator, MappingSpec, Outcome, Status};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const RABBITMQ_BIN: &str = "/usr/lib/rabbitmq/bin";

#[derive(Clone)]
struct Broker {
    host: String,
    port: u16,
    vhost: String,
    user: String,
    password: String,
}

fn given_broker() -> Option<Broker> {
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A rabbitmq-server of the test's own; stopped when dropped.
struct PrivateBroker {
    child: Child,
    node: String,
    env: Vec<(String, String)>,
    epmd_port: u16,
    broker: Broker,
    _dir: tempfile::TempDir,
}

impl PrivateBroker {
    fn start() -> Option<Self> {
        if !Path::new(RABBITMQ_BIN).join("rabbitmq-server").exists() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::write(base.join("enabled_plugins"), "[].\n").unwrap();
        std::fs::write(base.join("rabbitmq-env.conf"), "").unwrap();
        let node = format!("rabbit-ignis-rmq-{}@localhost", std::process::id());
        let (port, dist_port, epmd_port) = (free_port(), free_port(), free_port());
        let at = |name: &str| base.join(name).display().to_string();
        let env: Vec<(String, String)> = [
            (
                "PATH",
                std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
            ),
            ("HOME", at("")),
            ("LANG", "C.UTF-8".into()),
            ("RABBITMQ_NODENAME", node.clone()),
            ("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1".into()),
            ("RABBITMQ_NODE_PORT", port.to_string()),
            ("RABBITMQ_DIST_PORT", dist_port.to_string()),
            ("ERL_EPMD_PORT", epmd_port.to_string()),
            ("RABBITMQ_MNESIA_BASE", at("mnesia")),
            ("RABBITMQ_LOG_BASE", at("log")),
            ("RABBITMQ_ENABLED_PLUGINS_FILE", at("enabled_plugins")),
            ("RABBITMQ_CONF_ENV_FILE", at("rabbitmq-env.conf")),
            ("RABBITMQ_CONFIG_FILE", at("rabbitmq")),
            ("RABBITMQ_ADVANCED_CONFIG_FILE", at("advanced.config")),
            ("RABBITMQ_PID_FILE", at("rabbit.pid")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let out = std::fs::File::create(base.join("server.out")).unwrap();
        let child = Command::new(Path::new(RABBITMQ_BIN).join("rabbitmq-server"))
            .env_clear()
            .envs(env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start rabbitmq-server");
        let mut broker = Self {
            child,
            node,
            env,
            epmd_port,
            broker: Broker {
                host: "127.0.0.1".into(),
                port,
                vhost: "ignis-rmq".into(),
                user: "ignis".into(),
                password: format!("pw-{}", std::process::id()),
            },
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "rabbitmq-server did not open its port"
            );
            if let Some(status) = broker.child.try_wait().unwrap() {
                panic!("rabbitmq-server exited: {status}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        broker.ctl(&["await_startup"]);
        let b = broker.broker.clone();
        broker.ctl(&["add_vhost", &b.vhost]);
        broker.ctl(&["add_user", &b.user, &b.password]);
        broker.ctl(&["set_permissions", "-p", &b.vhost, &b.user, ".*", ".*", ".*"]);
        Some(broker)
    }

    fn ctl(&self, args: &[&str]) {
        let done = Command::new(Path::new(RABBITMQ_BIN).join("rabbitmqctl"))
            .env_clear()
            .envs(self.env.iter().cloned())
            .arg("-n")
            .arg(&self.node)
            .args(args)
            .output()
            .expect("run rabbitmqctl");
        assert!(
            done.status.success(),
            "rabbitmqctl {args:?}: {}{}",
            String::from_utf8_lossy(&done.stdout),
            String::from_utf8_lossy(&done.stderr)
        );
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        let _ = Command::new(Path::new(RABBITMQ_BIN).join("rabbitmqctl"))
            .env_clear()
            .envs(self.env.iter().cloned())
            .args(["-n", &self.node, "stop"])
            .output();
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("epmd")
            .env_clear()
            .envs(self.env.iter().cloned())
            .args(["-port", &self.epmd_port.to_string(), "-kill"])
            .output();
    }
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

/// Publishes `count` more messages to `queue` (declared), purging nothing.
async fn publish_more(b: &Broker, queue: &str, count: usize) -> Connection {
    publish_to(b, queue, count, false).await
}

async fn publish(b: &Broker, queue: &str, count: usize) -> Connection {
    publish_to(b, queue, count, true).await
}

async fn publish_to(b: &Broker, queue: &str, count: usize, purge: bool) -> Connection {
    let args = OpenConnectionArguments::new(&b.host, b.port, &b.user, &b.password)
        .virtual_host(&b.vhost)
        .finish();
    let conn = Connection::open(&args).await.unwrap();
    let ch = conn.open_channel(None).await.unwrap();
    ch.queue_declare(QueueDeclareArguments::durable_client_named(queue))
        .await
        .unwrap();
    if purge {
        ch.queue_purge(QueuePurgeArguments::new(queue))
            .await
            .unwrap();
    }
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
        .add("local", &format!("amqp://{}:{}", b.host, b.port), None)
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
async fn the_consumer_against_a_real_broker() {
    let private = match given_broker() {
        Some(_) => None,
        None => PrivateBroker::start(),
    };
    let Some(b) = given_broker().or_else(|| private.as_ref().map(|p| p.broker.clone())) else {
        eprintln!("no IGNIS_TEST_AMQP and no rabbitmq-server installed: no broker to test against");
        return;
    };
    messages_are_batched_acked_after_success_and_requeued_after_failure(&b).await;
    if let Some(p) = &private {
        the_consumer_comes_back_after_the_broker_does(p).await;
    }
    wrong_credentials_and_a_missing_queue_are_reported_as_lambda_does(b).await;
}

/// The broker's application stopped (every connection closed) and started
/// again: the consumer reports the lost connection, reconnects, and
/// consumes what is published after.
async fn the_consumer_comes_back_after_the_broker_does(p: &PrivateBroker) {
    let b = &p.broker;
    let dir = tempfile::tempdir().unwrap();
    let publisher = publish(b, "ignis-rmq-back", 1).await;
    let function = Arc::new(Function {
        fail: false,
        events: Default::default(),
        statuses: Default::default(),
    });
    let (cancel, task) = start(b, dir.path(), "ignis-rmq-back", function.clone());
    wait_until("the first message", || {
        function.events.lock().unwrap().len() == 1
    })
    .await;
    drop(publisher);
    p.ctl(&["stop_app"]);
    wait_until("the lost connection reported", || {
        function
            .statuses
            .lock()
            .unwrap()
            .iter()
            .any(|s| matches!(s, Status::Problem(ignis_rmq::Problem::Connection(_))))
    })
    .await;
    p.ctl(&["start_app"]);
    let _publisher = publish_more(b, "ignis-rmq-back", 2).await;
    wait_until("the messages after the restart", || {
        function.events.lock().unwrap().len() >= 2
    })
    .await;
    cancel.cancel();
    task.await.unwrap();
    let statuses = function.statuses.lock().unwrap().clone();
    assert_eq!(statuses.last(), Some(&Status::Processed), "{statuses:?}");
}

async fn messages_are_batched_acked_after_success_and_requeued_after_failure(b: &Broker) {
    let dir = tempfile::tempdir().unwrap();
    let publisher = publish(b, "ignis-rmq-ok", 10).await;
    let ok = Arc::new(Function {
        fail: false,
        events: Default::default(),
        statuses: Default::default(),
    });
    let (cancel, task) = start(b, dir.path(), "ignis-rmq-ok", ok.clone());
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
    let _publisher = publish(b, "ignis-rmq-fail", 2).await;
    let failing = Arc::new(Function {
        fail: true,
        events: Default::default(),
        statuses: Default::default(),
    });
    let (cancel, task) = start(b, dir.path(), "ignis-rmq-fail", failing.clone());
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

async fn wrong_credentials_and_a_missing_queue_are_reported_as_lambda_does(mut b: Broker) {
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
