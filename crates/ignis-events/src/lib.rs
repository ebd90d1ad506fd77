//! Asynchronous invocations (`X-Amz-Invocation-Type: Event`), durable: an
//! accepted event is a row of the store's queue before its 202 is
//! answered, and stays one until it has run (or gone to its failure
//! destination). A dispatcher claims due events under a lease (see
//! `ignis_store::queue` for the claim protocol), runs them on the
//! [`Target`] (the router, within the memory budget and each function's
//! concurrency), and deletes or reschedules them:
//!
//! - a function error or timeout is retried up to `MaximumRetryAttempts`
//!   (0–2, default 2) after [`AsyncConfig::retry_delays`] (Lambda's 1 and
//!   2 minutes), every attempt under the request id it was accepted with;
//! - an event older than `MaximumEventAgeInSeconds` is not run again;
//! - a throttled attempt (no memory, a concurrency limit) waits, holding
//!   its claim but not its dispatcher slot (up to 8 per function; more go
//!   back to the queue for 5 s), and is not an attempt;
//! - when done, an invocation record goes to the `OnSuccess` / `OnFailure`
//!   destination: an Ignis function gets it as an Event invocation of its
//!   own, written in the same transaction that deletes the event; a queue
//!   or topic gets it through the [`Sink`] the server plugs in (SQS, SNS),
//!   before the event is deleted;
//! - an event that failed for good also goes to its function's
//!   `DeadLetterConfig` queue or topic through the sink, as Lambda sends
//!   it (the event, with `RequestID`, `ErrorCode` and `ErrorMessage`
//!   message attributes).
//!
//! A process killed mid-run leaves its claims behind; the next start-up
//! releases them (a single node has no other owner) and runs those events
//! again: at least once, duplicates only for the attempts that were
//! running. When the node stops, [`AsyncInvoker::drain`] starts no new
//! attempt, releases the claims of events waiting for capacity and waits
//! for the running ones.
#![deny(missing_docs)]

pub mod config;
mod dispatch;
pub mod record;
pub mod sink;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ignis_router::{Completed, InvokeError, InvokeInput, Router};
use ignis_store::{QueueStats, QueuedEvent, Store, StoreError};
use tokio::sync::{watch, Notify, Semaphore};

pub use sink::{Delivery, Sink, SinkError, SinkMessage};

/// Settings of the async queue.
#[derive(Debug, Clone)]
pub struct AsyncConfig {
    /// Delay before each retry of a failed invocation, in order (the last
    /// one repeats); how many retries run is the function's
    /// `MaximumRetryAttempts` (Lambda: 1 min, 2 min).
    pub retry_delays: Vec<Duration>,
    /// Invocations claimed from the queue and running at once (events
    /// waiting for capacity give their slot back: see
    /// `max_waiting_per_function`).
    pub concurrency: usize,
    /// Longest wait for capacity before trying an invocation that found
    /// none again (a release of memory or concurrency wakes it sooner).
    pub capacity_recheck: Duration,
    /// How long a claim holds without renewal (renewed every third of it
    /// while held): how soon another node takes over a dead one's events.
    pub lease: Duration,
    /// Longest sleep of an idle dispatcher between looks at the queue.
    pub idle_poll: Duration,
    /// Events of one function claimed in one round, and the most that
    /// wait for capacity holding their claim (without holding a dispatcher
    /// slot); more go back to the queue. While any of a function's events
    /// waits, its others are not claimed.
    pub max_waiting_per_function: usize,
    /// How long a throttled event beyond those waits in the queue before
    /// it is claimed again.
    pub throttle_backoff: Duration,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        Self {
            retry_delays: vec![Duration::from_secs(60), Duration::from_secs(120)],
            concurrency: 64,
            capacity_recheck: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            idle_poll: Duration::from_secs(5),
            max_waiting_per_function: 8,
            throttle_backoff: Duration::from_secs(5),
        }
    }
}

/// What the queue runs invocations on: the [`Router`] (a seam, so the retry
/// policy is tested with a recording fake under paused time).
pub trait Target: Send + Sync + 'static {
    /// Runs one attempt.
    fn invoke(
        &self,
        input: InvokeInput,
    ) -> impl Future<Output = Result<Completed, InvokeError>> + Send;
    /// Resolves when memory or concurrency is released.
    fn capacity_freed(&self) -> impl Future<Output = ()> + Send;
}

impl Target for Router {
    fn invoke(
        &self,
        input: InvokeInput,
    ) -> impl Future<Output = Result<Completed, InvokeError>> + Send {
        Router::invoke(self, input)
    }

    fn capacity_freed(&self) -> impl Future<Output = ()> + Send {
        let admission = self.admission().clone();
        let concurrency = self.concurrency().clone();
        async move {
            tokio::select! {
                _ = admission.freed() => {}
                _ = concurrency.freed() => {}
            }
        }
    }
}

/// Why an event was not queued.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// The node is stopping.
    #[error("the asynchronous invocation queue is closed")]
    Closed,
    /// The store refused the write.
    #[error("failed to write the event to the queue")]
    Store(#[source] StoreError),
}

/// Milliseconds since the Unix epoch, moving with tokio's clock (so paused
/// time in tests moves it too).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    base_ms: i64,
    base: tokio::time::Instant,
}

impl Clock {
    fn new() -> Self {
        let base_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self {
            base_ms,
            base: tokio::time::Instant::now(),
        }
    }

    pub(crate) fn now_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.base.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.base_ms.saturating_add(elapsed)
    }
}

/// What the queue's handle and its dispatcher share.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: AsyncConfig,
    /// This process's claims are made under this id.
    pub(crate) owner: String,
    pub(crate) clock: Clock,
    /// Wakes the dispatcher: an event was queued or rescheduled.
    pub(crate) wake: Notify,
    /// One permit per event claimed and not waiting for capacity.
    pub(crate) permits: Arc<Semaphore>,
    /// Events waiting for capacity, by function.
    pub(crate) waiting: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    pub(crate) stopping: watch::Sender<bool>,
    /// Where records and dead letters for queues and topics go, once the
    /// server has plugged their services in.
    pub(crate) sink: std::sync::OnceLock<Arc<dyn Sink>>,
}

/// The handle the Invoke API enqueues events with.
#[derive(Clone)]
pub struct AsyncInvoker {
    shared: Arc<Shared>,
    concurrency: u32,
}

impl AsyncInvoker {
    /// Starts the queue's dispatcher on the current runtime. It first
    /// releases every claim left in the store (a previous process of this
    /// single node was killed while holding them), so those events run
    /// again.
    pub fn start<T: Target>(target: Arc<T>, store: Arc<dyn Store>, config: AsyncConfig) -> Self {
        let concurrency = config.concurrency.clamp(1, Semaphore::MAX_PERMITS) as u32;
        let (stopping, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            store,
            config,
            owner: uuid::Uuid::new_v4().to_string(),
            clock: Clock::new(),
            wake: Notify::new(),
            permits: Arc::new(Semaphore::new(concurrency as usize)),
            waiting: Default::default(),
            stopping,
            sink: std::sync::OnceLock::new(),
        });
        tokio::spawn(dispatch::run(target, shared.clone()));
        Self {
            shared,
            concurrency,
        }
    }

    /// Stops starting attempts and resolves once every running attempt has
    /// ended; events not started stay queued in the store for the next
    /// start. The server awaits it within its shutdown grace period.
    pub async fn drain(&self) {
        self.shared.stopping.send_replace(true);
        let _ = self.shared.permits.acquire_many(self.concurrency).await;
        if let Err(e) = self
            .shared
            .store
            .release_event_claims(Some(&self.shared.owner))
            .await
        {
            tracing::warn!(error = %e, "could not release the queue's claims at shutdown; they are released at the next start");
        }
    }

    /// Plugs in the services that own queue and topic ARNs (once; the
    /// server builds them after the queue, as SNS delivers through it).
    pub fn set_sink(&self, sink: Arc<dyn Sink>) {
        if self.shared.sink.set(sink).is_err() {
            tracing::warn!("the asynchronous queue's sink was already set; kept the first");
        }
    }

    /// Writes an invocation to the queue (durably: when this returns, the
    /// event survives a crash); returns the request id every attempt runs
    /// under (the input's, or a new one).
    pub async fn enqueue(&self, input: InvokeInput) -> Result<String, EnqueueError> {
        if *self.shared.stopping.borrow() {
            return Err(EnqueueError::Closed);
        }
        let request_id = input
            .request_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let now = self.shared.clock.now_ms();
        let event = QueuedEvent {
            id: 0,
            function: input.function,
            qualifier: input.qualifier,
            request_id: request_id.clone(),
            invoked_arn: input.invoked_arn,
            payload: input.payload.to_vec(),
            client_context: input.client_context,
            trace_id: input.trace_id,
            attempts: 0,
            enqueued_ms: now,
            not_before_ms: now,
        };
        self.shared
            .store
            .enqueue_event(&event)
            .await
            .map_err(EnqueueError::Store)?;
        self.shared.wake.notify_one();
        Ok(request_id)
    }

    /// The backlog of `function`, and its oldest event's age.
    pub async fn stats(
        &self,
        function: &str,
    ) -> Result<(QueueStats, Option<Duration>), StoreError> {
        let stats = self.shared.store.event_queue_stats(function).await?;
        let now = self.shared.clock.now_ms();
        let age = stats
            .oldest_enqueued_ms
            .map(|t| Duration::from_millis(u64::try_from(now.saturating_sub(t)).unwrap_or(0)));
        Ok((stats, age))
    }
}

#[cfg(test)]
mod tests;
