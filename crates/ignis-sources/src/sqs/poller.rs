//! A mapping's pollers on an Ignis queue.
//!
//! Each poller loops: gather a batch (long-poll receives of up to 10
//! messages until `BatchSize`, the batching window's end, or 6 MB), drop
//! and delete the messages the filters refuse, invoke the function
//! synchronously, then delete what succeeded. A failed batch is left
//! alone: its messages come back after the queue's visibility timeout and
//! go to its dead-letter queue after `maxReceiveCount`, as on Lambda.
//!
//! The mapping starts [`PollerConfig::initial`] pollers; a receive that
//! comes back full adds one, up to `ScalingConfig.MaximumConcurrency` (or
//! [`PollerConfig::default_max`]); a poller whose receive comes back empty
//! leaves while more than the initial ones run. The cancellation token
//! stops them at once: a long poll in progress is dropped, a batch being
//! invoked finishes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ignis_router::{InvokeError, InvokeInput};
use ignis_sqs::Delivered;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::event::{self, ItemOutcome};
use super::{Invoker, Queues};
use crate::filter::Filters;
use crate::mapping::Mapping;
use crate::source::Source;

/// Settings of the pollers.
#[derive(Debug, Clone)]
pub struct PollerConfig {
    /// Pollers a mapping starts with.
    pub initial: usize,
    /// The most pollers of a mapping without `MaximumConcurrency`.
    pub default_max: u32,
    /// Longest long poll, seconds (SQS's 20).
    pub long_poll: u32,
    /// Pause after an error of the queue or of the function's setup.
    pub error_backoff: Duration,
    /// How long a throttled batch waits for capacity, in all, before its
    /// messages are left to come back.
    pub throttle_patience: Duration,
}

impl Default for PollerConfig {
    fn default() -> Self {
        Self {
            initial: 2,
            default_max: 10,
            long_poll: 20,
            error_backoff: Duration::from_secs(2),
            throttle_patience: Duration::from_secs(10),
        }
    }
}

/// What the pollers share.
pub struct Context {
    /// The queue engine.
    pub queues: Arc<dyn Queues>,
    /// The router.
    pub invoker: Arc<dyn Invoker>,
    /// The region in events.
    pub region: String,
    /// Settings.
    pub config: PollerConfig,
    /// Called with each batch's `LastProcessingResult`.
    pub report: Report,
}

/// Where a batch's `LastProcessingResult` goes (the mapping's record).
pub type Report = Arc<dyn Fn(&Mapping, &str) + Send + Sync>;

/// A batch the router kept refusing for want of capacity.
const THROTTLED: &str = "Function throttled";
/// A batch whose function cannot run (gone, not Active, no runtime).
const NOT_RUNNABLE: &str = "Function not runnable";

/// How a batch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchResult {
    /// Every message processed (or filtered out).
    Ok,
    /// Some or all messages failed and were left on the queue.
    Problem(&'static str),
}

impl BatchResult {
    /// Lambda's `LastProcessingResult`.
    pub fn text(&self) -> String {
        match self {
            Self::Ok => "OK".to_owned(),
            Self::Problem(why) => format!("PROBLEM: {why}"),
        }
    }
}

mod gather;

struct Run {
    ctx: Arc<Context>,
    mapping: Arc<Mapping>,
    queue: String,
    fifo: bool,
    filters: Option<Filters>,
    token: CancellationToken,
    pollers: AtomicUsize,
    grow: Notify,
    max: usize,
}

/// Runs `mapping`'s pollers until `token` is cancelled and their batches
/// in flight have finished.
pub async fn run(ctx: Arc<Context>, mapping: Mapping, token: CancellationToken) {
    let Source::Sqs { queue, fifo } = mapping.source.clone() else {
        return;
    };
    let filters = match mapping
        .filter_criteria
        .as_ref()
        .map(Filters::compile)
        .transpose()
    {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(uuid = %mapping.uuid, error = %e.message, "stored filter criteria do not compile");
            return;
        }
    };
    let max = mapping.max_concurrency(ctx.config.default_max).max(1) as usize;
    let run = Arc::new(Run {
        ctx: ctx.clone(),
        mapping: Arc::new(mapping),
        queue,
        fifo,
        filters,
        token: token.clone(),
        pollers: AtomicUsize::new(0),
        grow: Notify::new(),
        max,
    });
    let mut set = JoinSet::new();
    for _ in 0..ctx.config.initial.min(max).max(1) {
        spawn(&run, &mut set);
    }
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            _ = run.grow.notified() => {
                if run.pollers.load(Ordering::SeqCst) < run.max {
                    spawn(&run, &mut set);
                }
            }
            Some(_) = set.join_next() => {}
        }
    }
    while set.join_next().await.is_some() {}
}

fn spawn(run: &Arc<Run>, set: &mut JoinSet<()>) {
    run.pollers.fetch_add(1, Ordering::SeqCst);
    let run = run.clone();
    let span = tracing::info_span!("poller", uuid = %run.mapping.uuid, function = %run.mapping.function.arn);
    set.spawn(async move { run.poll().await }.instrument(span));
}

impl Run {
    async fn poll(self: Arc<Self>) {
        // Consecutive failed receives: the first is logged as a warning,
        // the pause doubles (up to 16 times the backoff).
        let mut failures = 0u32;
        loop {
            let gathered = tokio::select! {
                _ = self.token.cancelled() => break,
                g = self.gather() => g,
            };
            let batch = match gathered {
                Ok(batch) => {
                    failures = 0;
                    batch
                }
                Err(e) => {
                    if failures == 0 {
                        tracing::warn!(error = %e, queue = %self.queue, "receive failed; retrying with backoff");
                        (self.ctx.report)(&self.mapping, &format!("PROBLEM: {}", e.message));
                    } else {
                        tracing::debug!(error = %e, queue = %self.queue, "receive failed again");
                    }
                    let pause = self.ctx.config.error_backoff * 2u32.pow(failures.min(4));
                    failures += 1;
                    if self.pause(pause).await {
                        break;
                    }
                    continue;
                }
            };
            if batch.is_empty() {
                if self.leave_if_surplus() {
                    return;
                }
                continue;
            }
            if batch.len() >= self.mapping.batch_size.min(10) as usize {
                self.grow.notify_one();
            }
            let result = self.process(batch).await;
            (self.ctx.report)(&self.mapping, &result.text());
            match result {
                // The function has no room: one poller fewer.
                BatchResult::Problem(THROTTLED) if self.leave_if_surplus() => return,
                BatchResult::Problem(NOT_RUNNABLE | THROTTLED)
                    if self.pause(self.ctx.config.error_backoff).await =>
                {
                    break
                }
                _ => {}
            }
        }
        self.pollers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Waits `d` unless cancelled; whether it was cancelled.
    async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            _ = self.token.cancelled() => true,
            _ = tokio::time::sleep(d) => false,
        }
    }

    /// Leaves (one fewer poller) while more than the initial ones run.
    fn leave_if_surplus(&self) -> bool {
        let floor = self.ctx.config.initial.max(1);
        self.pollers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n > floor).then(|| n - 1)
            })
            .is_ok()
    }

    async fn process(&self, mut batch: Vec<Delivered>) -> BatchResult {
        if let Some(filters) = &self.filters {
            let (keep, drop): (Vec<_>, Vec<_>) = batch.into_iter().partition(|m| {
                filters.matches_sqs(&event::record(
                    m,
                    &self.mapping.event_source_arn,
                    &self.ctx.region,
                ))
            });
            if !drop.is_empty() {
                let handles: Vec<String> = drop.iter().map(|m| m.receipt_handle.clone()).collect();
                tracing::debug!(
                    count = handles.len(),
                    "deleting messages the filters refuse"
                );
                self.delete(&handles).await;
            }
            batch = keep;
            if batch.is_empty() {
                return BatchResult::Ok;
            }
        }
        let payload = self.fit(&mut batch).await;
        let request_id = uuid::Uuid::new_v4().to_string();
        let span = tracing::info_span!("batch", request_id = %request_id, size = batch.len());
        self.invoke_batch(batch, payload, request_id)
            .instrument(span)
            .await
    }

    async fn invoke_batch(
        &self,
        batch: Vec<Delivered>,
        payload: Vec<u8>,
        request_id: String,
    ) -> BatchResult {
        let payload = Bytes::from(payload);
        let started = Instant::now();
        let done = loop {
            let input = InvokeInput {
                function: self.mapping.function.name.clone(),
                qualifier: self.mapping.function.qualifier.clone(),
                payload: payload.clone(),
                client_context: None,
                invoked_arn: self.mapping.function.arn.clone(),
                request_id: Some(request_id.clone()),
                tail: false,
                trace_id: None,
            };
            match self.ctx.invoker.invoke(input).await {
                Ok(done) => break done,
                Err(InvokeError::Throttled(_) | InvokeError::NoCapacity)
                    if started.elapsed() < self.ctx.config.throttle_patience =>
                {
                    let left = self
                        .ctx
                        .config
                        .throttle_patience
                        .saturating_sub(started.elapsed());
                    tokio::select! {
                        _ = self.ctx.invoker.capacity_freed() => {}
                        _ = tokio::time::sleep(left.min(Duration::from_secs(1))) => {}
                    }
                }
                Err(e @ (InvokeError::Throttled(_) | InvokeError::NoCapacity)) => {
                    tracing::info!(error = %e, "batch throttled; its messages come back after the visibility timeout");
                    return BatchResult::Problem(THROTTLED);
                }
                Err(InvokeError::ShuttingDown) => {
                    return BatchResult::Problem("Node shutting down")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the mapping's function cannot run");
                    return BatchResult::Problem(NOT_RUNNABLE);
                }
            }
        };
        if done.function_error {
            tracing::info!(
                "function failed; the batch's messages come back after the visibility timeout"
            );
            return BatchResult::Problem("Function call failed");
        }
        if !self.mapping.report_batch_item_failures {
            self.delete(&handles(&batch)).await;
            return BatchResult::Ok;
        }
        match event::item_failures(&done.payload, &batch) {
            ItemOutcome::AllSucceeded => {
                self.delete(&handles(&batch)).await;
                BatchResult::Ok
            }
            ItemOutcome::Failed(failed) => {
                tracing::info!(
                    failed = failed.len(),
                    "function reported batch item failures"
                );
                self.delete(&event::to_delete(&batch, &failed, self.fifo))
                    .await;
                BatchResult::Problem("Function reported batch item failures")
            }
            ItemOutcome::Malformed => {
                tracing::info!(
                    "function's batch item failures response is invalid; the whole batch failed"
                );
                BatchResult::Problem("Function response invalid")
            }
        }
    }

    async fn delete(&self, handles: &[String]) {
        for chunk in handles.chunks(10) {
            match self.ctx.queues.delete(&self.queue, chunk).await {
                Ok(results) => {
                    for e in results.into_iter().filter_map(Result::err) {
                        tracing::warn!(code = %e.code, message = %e.message, "failed to delete a processed message");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "failed to delete processed messages"),
            }
        }
    }
}

fn handles(batch: &[Delivered]) -> Vec<String> {
    batch.iter().map(|m| m.receipt_handle.clone()).collect()
}
