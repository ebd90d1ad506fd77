//! The consumer of one RabbitMQ mapping: connects to the broker with the
//! mapping's credentials and virtual host, consumes its queue with manual
//! acknowledgements and a prefetch of `BatchSize`, gathers a batch (until
//! `BatchSize` records, the batching window, or 6 MB), invokes the function
//! with the `aws:rmq` event, then acknowledges the batch after a success or
//! requeues it (`basic.nack`, requeue) after a failure and waits before the
//! next. When the broker goes away it reconnects with exponential backoff;
//! when its token is cancelled it closes the connection at once (the
//! broker requeues whatever was unacknowledged).

use std::sync::Arc;
use std::time::Duration;

use amqprs::channel::{
    BasicAckArguments, BasicConsumeArguments, BasicNackArguments, BasicQosArguments, Channel,
    ConsumerMessage,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::tls::TlsAdaptor;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::amqp::properties;
use crate::batch::{Batch, BatchLimits, Pushed};
use crate::brokers::AmqpAddress;
use crate::closes::CloseReason;
use crate::event::{encode_record, EventFrame};
use crate::locate::{Endpoint, Locator};
use crate::status::{Problem, Status};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const HEALTH_TICK: Duration = Duration::from_secs(1);

/// What a RabbitMQ mapping asks of its consumer.
#[derive(Debug, Clone)]
pub struct MappingSpec {
    /// The mapping's `EventSourceArn`, a broker ARN.
    pub event_source_arn: String,
    /// The queue (`Queues[0]`).
    pub queue: String,
    /// `VIRTUAL_HOST` from the source access configurations, else `/`.
    pub virtual_host: String,
    /// `BASIC_AUTH`'s secret ARN.
    pub secret_arn: Option<String>,
    /// `BatchSize`, `MaximumBatchingWindowInSeconds`, 6 MB.
    pub limits: BatchLimits,
}

/// How an invocation of a batch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The function returned: acknowledge the batch.
    Succeeded,
    /// Function error, timeout, throttle or refusal (said why): requeue it.
    Failed(String),
}

/// The mapping's side of a consumer: invoking its function and keeping
/// its status.
#[async_trait::async_trait]
pub trait BatchHandler: Send + Sync {
    /// Invokes the function synchronously with `event`.
    async fn invoke(&self, event: Vec<u8>) -> Outcome;
    /// The consumer's condition changed.
    fn report(&self, status: Status);
    /// Whether a record (one entry of `rmqMessagesByQueue`, serialized)
    /// goes to the function: the mapping's `FilterCriteria`. A record
    /// refused is acknowledged and never invoked, as Lambda drops it.
    fn keep(&self, _record: &[u8]) -> bool {
        true
    }
}

/// Delays between attempts: connecting again, or the next batch after a
/// failed one. Doubles from `initial` up to `max`; a success resets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The longest.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

struct Delay {
    backoff: Backoff,
    next: Duration,
}

impl Delay {
    fn new(backoff: Backoff) -> Self {
        Self {
            backoff,
            next: backoff.initial,
        }
    }
    fn take(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.backoff.max);
        now
    }
    fn reset(&mut self) {
        self.next = self.backoff.initial;
    }
}

/// Reports a status only when it differs from the last one.
struct Reporter<'a> {
    handler: &'a dyn BatchHandler,
    last: Option<Status>,
}

impl Reporter<'_> {
    fn report(&mut self, status: Status) {
        if self.last.as_ref() != Some(&status) {
            if let Status::Problem(problem) = &status {
                tracing::warn!(problem = %problem.last_processing_result(), "RabbitMQ event source");
            }
            self.handler.report(status.clone());
            self.last = Some(status);
        }
    }
}

/// Runs the mapping `spec` until `cancel` is cancelled.
pub async fn run(
    spec: MappingSpec,
    locator: Locator,
    handler: Arc<dyn BatchHandler>,
    backoff: Backoff,
    cancel: CancellationToken,
) {
    let mut reporter = Reporter {
        handler: handler.as_ref(),
        last: None,
    };
    let mut reconnect = Delay::new(backoff);
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let problem = match locator.locate(&spec.event_source_arn, spec.secret_arn.as_deref()) {
            Err(problem) => problem,
            Ok(endpoint) => match tokio::select! {
                // Dropping a connection attempt drops its socket.
                _ = cancel.cancelled() => return,
                connected = connect(&spec, &endpoint) => connected,
            } {
                Err(problem) => problem,
                Ok(session) => {
                    reconnect.reset();
                    reporter.report(Status::Consuming);
                    match consume(&spec, session, &mut reporter, backoff, &cancel).await {
                        Ended::Cancelled => return,
                        Ended::Lost(problem) => problem,
                    }
                }
            },
        };
        reporter.report(Status::Problem(problem));
        if !sleep(reconnect.take(), &cancel).await {
            return;
        }
    }
}

/// Sleeps `delay`; false if cancelled meanwhile.
async fn sleep(delay: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(delay) => true,
    }
}

struct Session {
    connection: Connection,
    channel: Channel,
    deliveries: UnboundedReceiver<ConsumerMessage>,
}

#[derive(Clone, Copy)]
enum Stage {
    Open,
    Consume,
}

/// Sorts a client error into the mapping's problem. The broker's reply
/// text names the cause (`ACCESS_REFUSED`, `NOT_ALLOWED`, `NOT_FOUND`).
fn classify(stage: Stage, text: &str) -> Problem {
    let text = text.to_string();
    match stage {
        Stage::Open if text.contains("ACCESS_REFUSED") || text.contains("403") => {
            Problem::Authentication(text)
        }
        // Without the `authentication_failure_close` capability (this
        // client does not ask for it) RabbitMQ answers a refused login by
        // dropping the connection in the handshake: a reset once the TCP
        // connection stood is a refused login.
        Stage::Open if text.contains("reset by peer") || text.to_lowercase().contains("eof") => {
            Problem::Authentication(
                "The broker closed the connection at login: check the user name and password in the secret."
                    .into(),
            )
        }
        Stage::Open if text.contains("NOT_ALLOWED") || text.contains("530") => {
            Problem::Authorization(text)
        }
        Stage::Consume if text.contains("ACCESS_REFUSED") || text.contains("403") => {
            Problem::Authorization(text)
        }
        Stage::Consume if text.contains("NOT_FOUND") || text.contains("404") => {
            Problem::Config(text)
        }
        _ => Problem::Connection(text),
    }
}

/// TLS to `address`: its certificate checked against its CA file, else
/// the public roots (webpki-roots), for the name it was registered under.
fn tls(address: &AmqpAddress) -> Result<TlsAdaptor, Problem> {
    // rustls takes its crypto from the one provider feature built in
    // (ring: this crate's Cargo.toml).
    let ca = address.ca_file.as_deref();
    let host = address.host.clone();
    // The client panics on a CA file whose certificate does not parse.
    let built = std::panic::catch_unwind(move || TlsAdaptor::without_client_auth(ca, host));
    match built {
        Ok(Ok(adaptor)) => Ok(adaptor),
        Ok(Err(e)) => Err(Problem::Config(format!(
            "The broker's CA file cannot be read: {e}"
        ))),
        Err(_) => Err(Problem::Config(
            "The broker's CA file holds a certificate that does not parse.".into(),
        )),
    }
}

async fn connect(spec: &MappingSpec, endpoint: &Endpoint) -> Result<Session, Problem> {
    let auth = &endpoint.credentials;
    let mut args = OpenConnectionArguments::new(
        &endpoint.address.host,
        endpoint.address.port,
        &auth.username,
        &auth.password,
    );
    args.virtual_host(&spec.virtual_host)
        .connection_name("ignis event source mapping");
    if endpoint.address.tls {
        args.tls_adaptor(tls(&endpoint.address)?);
    }
    let args = args.finish();
    let connection = tokio::time::timeout(CONNECT_TIMEOUT, Connection::open(&args))
        .await
        .map_err(|_| Problem::Connection("Timed out connecting to the broker.".into()))?
        .map_err(|e| classify(Stage::Open, &e.to_string()))?;
    let channel = connection
        .open_channel(None)
        .await
        .map_err(|e| classify(Stage::Open, &e.to_string()))?;
    let closed = CloseReason::default();
    channel
        .register_callback(closed.clone())
        .await
        .map_err(|e| classify(Stage::Open, &e.to_string()))?;
    let prefetch = u16::try_from(spec.limits.max_records).unwrap_or(u16::MAX);
    let consume = BasicConsumeArguments::new(&spec.queue, "")
        .manual_ack(true)
        .finish();
    let started = match channel
        .basic_qos(BasicQosArguments::new(0, prefetch, false))
        .await
    {
        Ok(()) => channel.basic_consume_rx(consume).await,
        Err(e) => Err(e),
    };
    let (_tag, deliveries) = match started {
        Ok(started) => started,
        Err(e) => {
            let why = closed.get().await.unwrap_or_else(|| e.to_string());
            return Err(classify(Stage::Consume, &why));
        }
    };
    Ok(Session {
        connection,
        channel,
        deliveries,
    })
}

enum Ended {
    Cancelled,
    Lost(Problem),
}

enum Next {
    Delivery(Box<ConsumerMessage>),
    WindowClosed,
    Lost(String),
    Cancelled,
}

async fn next(
    session: &mut Session,
    deadline: Option<Instant>,
    cancel: &CancellationToken,
) -> Next {
    loop {
        let tick = Instant::now() + HEALTH_TICK;
        let wake = deadline.map_or(tick, |d| d.min(tick));
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Next::Cancelled,
            delivery = session.deliveries.recv() => {
                return match delivery {
                    Some(delivery) => Next::Delivery(Box::new(delivery)),
                    None => Next::Lost("The broker closed the consumer.".into()),
                };
            }
            _ = tokio::time::sleep_until(wake) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Next::WindowClosed;
                }
                if !session.connection.is_open() || !session.channel.is_open() {
                    return Next::Lost("The connection to the broker was lost.".into());
                }
            }
        }
    }
}

async fn close(session: Session) {
    let _ = tokio::time::timeout(Duration::from_secs(5), session.connection.close()).await;
}

/// Gathers and invokes batches until the session is lost or cancelled.
async fn consume(
    spec: &MappingSpec,
    mut session: Session,
    reporter: &mut Reporter<'_>,
    backoff: Backoff,
    cancel: &CancellationToken,
) -> Ended {
    let frame = EventFrame::new(&spec.event_source_arn, &spec.queue, &spec.virtual_host);
    let mut batch = Batch::new(spec.limits, frame.overhead());
    let mut carried: Option<(Vec<u8>, u64)> = None;
    let mut retry = Delay::new(backoff);
    loop {
        let mut deadline = None;
        if let Some((record, tag)) = carried.take() {
            deadline = Some(Instant::now() + spec.limits.window);
            if batch.push(record, tag) == Pushed::TooLarge {
                // Cannot happen: it fitted beside others.
                tracing::warn!("a carried record no longer fits an event");
            }
        }
        // Gather.
        while batch.len() < spec.limits.max_records {
            let delivery = match next(&mut session, deadline, cancel).await {
                Next::Cancelled => {
                    close(session).await;
                    return Ended::Cancelled;
                }
                Next::Lost(why) => return Ended::Lost(Problem::Connection(why)),
                Next::WindowClosed => break,
                Next::Delivery(delivery) => *delivery,
            };
            let Some(deliver) = delivery.deliver else {
                continue;
            };
            let body = delivery.content.unwrap_or_default();
            let props = properties(delivery.basic_properties.as_ref(), body.len());
            let record = encode_record(&props, deliver.redelivered(), &body);
            let tag = deliver.delivery_tag();
            if !reporter.handler.keep(&record) {
                if let Err(e) = session
                    .channel
                    .basic_ack(BasicAckArguments::new(tag, false))
                    .await
                {
                    return Ended::Lost(Problem::Connection(e.to_string()));
                }
                continue;
            }
            if batch.is_empty() {
                deadline = Some(Instant::now() + spec.limits.window);
            }
            match batch.push(record, tag) {
                Pushed::Added => {}
                Pushed::Full => break,
                Pushed::WouldOverflow(record) => {
                    carried = Some((record, tag));
                    break;
                }
                Pushed::TooLarge => {
                    let reject = BasicNackArguments::new(tag, false, false);
                    if let Err(e) = session.channel.basic_nack(reject).await {
                        return Ended::Lost(Problem::Connection(e.to_string()));
                    }
                    reporter.report(Status::Problem(Problem::RecordTooLarge));
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        // Invoke, then settle.
        let last = batch.last_tag();
        let event = frame.event(&batch.take());
        let outcome = tokio::select! {
            _ = cancel.cancelled() => {
                close(session).await;
                return Ended::Cancelled;
            }
            outcome = reporter.handler.invoke(event) => outcome,
        };
        match outcome {
            Outcome::Succeeded => {
                if let Err(e) = session
                    .channel
                    .basic_ack(BasicAckArguments::new(last, true))
                    .await
                {
                    return Ended::Lost(Problem::Connection(e.to_string()));
                }
                retry.reset();
                reporter.report(Status::Processed);
            }
            Outcome::Failed(why) => {
                let requeue = BasicNackArguments::new(last, true, true);
                if let Err(e) = session.channel.basic_nack(requeue).await {
                    return Ended::Lost(Problem::Connection(e.to_string()));
                }
                reporter.report(Status::Problem(Problem::FunctionCallFailed(why)));
                if !sleep(retry.take(), cancel).await {
                    close(session).await;
                    return Ended::Cancelled;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_their_cap_and_reset() {
        let mut delay = Delay::new(Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(350),
        });
        let taken: Vec<u128> = (0..4).map(|_| delay.take().as_millis()).collect();
        assert_eq!(taken, vec![100, 200, 350, 350]);
        delay.reset();
        assert_eq!(delay.take(), Duration::from_millis(100));
    }

    struct Recorder(std::sync::Mutex<Vec<Status>>);

    #[async_trait::async_trait]
    impl BatchHandler for Recorder {
        async fn invoke(&self, _event: Vec<u8>) -> Outcome {
            Outcome::Succeeded
        }
        fn report(&self, status: Status) {
            self.0.lock().unwrap().push(status);
        }
    }

    #[tokio::test]
    async fn cancelling_stops_a_connection_attempt_at_once() {
        let dir = tempfile::tempdir().unwrap();
        // Accepts TCP connections and never speaks: the AMQP handshake hangs.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        crate::brokers::BrokerRegistry::new(dir.path())
            .add("main", &format!("amqp://127.0.0.1:{port}"), None)
            .unwrap();
        crate::secrets::SecretStore::open(dir.path())
            .unwrap()
            .put(
                "rabbit",
                &crate::secrets::BasicAuth {
                    username: "u".into(),
                    password: "p".into(),
                },
            )
            .unwrap();
        let recorder = Arc::new(Recorder(Default::default()));
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(
            spec(),
            Locator::new(dir.path()),
            recorder.clone(),
            Backoff::default(),
            cancel.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
        // The handshake would wait CONNECT_TIMEOUT (10 s); cancelled, it ends now.
        tokio::time::timeout(Duration::from_secs(8), task)
            .await
            .expect("the consumer stopped while connecting")
            .unwrap();
        assert!(recorder.0.lock().unwrap().is_empty());
    }

    fn spec() -> MappingSpec {
        MappingSpec {
            event_source_arn: "arn:aws:mq:us-east-1:000000000000:broker:main:b-1".into(),
            queue: "q".into(),
            virtual_host: "/".into(),
            secret_arn: Some("arn:aws:secretsmanager:us-east-1:000000000000:secret:rabbit".into()),
            limits: BatchLimits {
                max_records: 10,
                max_bytes: crate::batch::MAX_EVENT_BYTES,
                window: Duration::ZERO,
            },
        }
    }

    #[tokio::test]
    async fn an_unreachable_broker_is_reported_and_retried_until_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        crate::brokers::BrokerRegistry::new(dir.path())
            .add("main", &format!("amqp://127.0.0.1:{port}"), None)
            .unwrap();
        crate::secrets::SecretStore::open(dir.path())
            .unwrap()
            .put(
                "rabbit",
                &crate::secrets::BasicAuth {
                    username: "u".into(),
                    password: "p".into(),
                },
            )
            .unwrap();
        let spec = spec();
        let recorder = Arc::new(Recorder(Default::default()));
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(
            spec,
            Locator::new(dir.path()),
            recorder.clone(),
            Backoff {
                initial: Duration::from_millis(10),
                max: Duration::from_millis(20),
            },
            cancel.clone(),
        ));
        for _ in 0..500 {
            if !recorder.0.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
        task.await.unwrap();
        let seen = recorder.0.lock().unwrap().clone();
        assert!(
            matches!(seen.first(), Some(Status::Problem(Problem::Connection(_)))),
            "{seen:?}"
        );
        assert_eq!(seen.len(), 1, "the same problem is reported once: {seen:?}");
    }
}
