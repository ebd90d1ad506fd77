//! Asynchronous invocations (`X-Amz-Invocation-Type: Event`): accepted at
//! once, queued in memory, run in the background with Lambda's retry policy
//! (two retries of a function error, after one and then two minutes), every
//! attempt under the request id the invocation was accepted with. An
//! invocation that finds no capacity waits in the queue until memory frees
//! up; that wait is not a retry.
//!
//! The queue is in memory: queued events are lost if the node stops. A
//! durable queue in the store replaces it in a later issue. When the node
//! stops, [`AsyncInvoker::drain`] starts no new attempt and waits for the
//! running ones, within the server's grace period like a synchronous
//! invocation.
#![deny(missing_docs)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ignis_router::{Completed, InvokeError, InvokeInput, Router};
use tokio::sync::{mpsc, watch, Semaphore};

/// Settings of the async queue.
#[derive(Debug, Clone)]
pub struct AsyncConfig {
    /// Delay before each retry of a failed invocation, in order; its length
    /// is the number of retries (Lambda: 1 min, 2 min).
    pub retry_delays: Vec<Duration>,
    /// Invocations run at once from the queue.
    pub concurrency: usize,
    /// Longest wait for memory before trying an invocation that found no
    /// capacity again (a release of memory wakes it sooner).
    pub capacity_recheck: Duration,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        Self {
            retry_delays: vec![Duration::from_secs(60), Duration::from_secs(120)],
            concurrency: 64,
            capacity_recheck: Duration::from_secs(1),
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
    /// Resolves when memory is released.
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

/// The queue no longer accepts invocations (its dispatcher has stopped).
#[derive(Debug, thiserror::Error)]
#[error("the asynchronous invocation queue is closed")]
pub struct QueueClosed;

struct Job {
    input: InvokeInput,
    attempt: usize,
}

/// The handle the Invoke API enqueues events with.
#[derive(Clone)]
pub struct AsyncInvoker {
    tx: mpsc::UnboundedSender<Job>,
    /// One permit per attempt that may run at once.
    permits: Arc<Semaphore>,
    concurrency: u32,
    /// Set when the node stops: no attempt starts after it.
    stopping: watch::Sender<bool>,
}

impl AsyncInvoker {
    /// Starts the queue's dispatcher on the current runtime.
    pub fn start<T: Target>(target: Arc<T>, config: AsyncConfig) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let concurrency = config.concurrency.clamp(1, Semaphore::MAX_PERMITS) as u32;
        let permits = Arc::new(Semaphore::new(concurrency as usize));
        let (stopping, stop) = watch::channel(false);
        tokio::spawn(dispatch(
            target,
            config,
            rx,
            tx.clone(),
            permits.clone(),
            stop,
        ));
        Self {
            tx,
            permits,
            concurrency,
            stopping,
        }
    }

    /// Stops starting attempts (queued invocations stay unrun, as the queue
    /// is in memory) and resolves once every running attempt has ended.
    /// The server awaits it within its shutdown grace period.
    pub async fn drain(&self) {
        self.stopping.send_replace(true);
        let _ = self.permits.acquire_many(self.concurrency).await;
    }

    /// Queues an invocation; returns the request id every attempt runs
    /// under (the input's, or a new one).
    pub fn enqueue(&self, mut input: InvokeInput) -> Result<String, QueueClosed> {
        let request_id = input
            .request_id
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
            .clone();
        self.tx
            .send(Job { input, attempt: 0 })
            .map_err(|_| QueueClosed)?;
        Ok(request_id)
    }
}

async fn dispatch<T: Target>(
    target: Arc<T>,
    config: AsyncConfig,
    mut rx: mpsc::UnboundedReceiver<Job>,
    tx: mpsc::UnboundedSender<Job>,
    permits: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let config = Arc::new(config);
    loop {
        let job = tokio::select! {
            biased;
            _ = stop.wait_for(|stopping| *stopping) => return,
            job = rx.recv() => match job {
                Some(job) => job,
                None => return,
            },
        };
        let permit = tokio::select! {
            biased;
            _ = stop.wait_for(|stopping| *stopping) => return,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let (target, config, tx) = (target.clone(), config.clone(), tx.clone());
        let stop = stop.clone();
        tokio::spawn(async move {
            run(target.as_ref(), &config, job, &tx, stop).await;
            drop(permit);
        });
    }
}

/// Runs one attempt of `job`, waiting for capacity as long as it takes, and
/// schedules the next attempt after a function error.
async fn run<T: Target>(
    target: &T,
    config: &AsyncConfig,
    job: Job,
    tx: &mpsc::UnboundedSender<Job>,
    mut stop: watch::Receiver<bool>,
) {
    let function = job.input.function.clone();
    let request_id = job.input.request_id.clone().unwrap_or_default();
    loop {
        match target.invoke(job.input.clone()).await {
            Ok(done) if !done.function_error => return,
            Ok(_) => break,
            // Throttled events wait; a wait is not an attempt.
            Err(InvokeError::NoCapacity | InvokeError::Throttled(_)) => {
                // Wait in the queue for memory, re-checking now and then;
                // a stopping node does not start it at all (it has not run,
                // so it is not holding up the shutdown).
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|stopping| *stopping) => return,
                    _ = tokio::time::timeout(config.capacity_recheck, target.capacity_freed()) => {}
                }
                if *stop.borrow() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(%function, %request_id, error = %e, "dropping asynchronous invocation");
                return;
            }
        }
    }
    let Some(delay) = config.retry_delays.get(job.attempt).copied() else {
        tracing::warn!(%function, %request_id, attempts = job.attempt + 1, "asynchronous invocation failed; retries exhausted");
        return;
    };
    tracing::info!(%function, %request_id, attempt = job.attempt + 1, ?delay, "asynchronous invocation failed; retrying");
    let retry = Job {
        input: job.input,
        attempt: job.attempt + 1,
    };
    let tx = tx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let _ = tx.send(retry);
    });
}

#[cfg(test)]
mod tests;
