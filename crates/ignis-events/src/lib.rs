//! Asynchronous invocations (`X-Amz-Invocation-Type: Event`): accepted at
//! once, queued in memory, run in the background with Lambda's retry policy
//! (two retries of a function error, after one and then two minutes). An
//! invocation that finds no capacity waits in the queue until memory frees up.
//!
//! The queue is in memory: queued events are lost if the node stops. A
//! durable queue in the store replaces it in a later issue.
#![deny(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use ignis_router::{InvokeError, InvokeInput, Router};
use tokio::sync::{mpsc, Semaphore};

/// Settings of the async queue.
#[derive(Debug, Clone)]
pub struct AsyncConfig {
    /// Delay before each retry of a failed invocation; its length is the
    /// number of retries (Lambda: 1 min, 2 min).
    pub retry_delays: Vec<Duration>,
    /// Invocations run at once from the queue.
    pub concurrency: usize,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        Self {
            retry_delays: vec![Duration::from_secs(60), Duration::from_secs(120)],
            concurrency: 64,
        }
    }
}

struct Job {
    input: InvokeInput,
    attempt: usize,
}

/// The handle the Invoke API enqueues events with.
#[derive(Clone)]
pub struct AsyncInvoker {
    tx: mpsc::UnboundedSender<Job>,
}

impl AsyncInvoker {
    /// Starts the queue's dispatcher on the current runtime.
    pub fn start(router: Arc<Router>, config: AsyncConfig) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(router, config, rx, tx.clone()));
        Self { tx }
    }

    /// Queues an invocation. Returns false if the queue is closed.
    pub fn enqueue(&self, input: InvokeInput) -> bool {
        self.tx.send(Job { input, attempt: 0 }).is_ok()
    }
}

async fn dispatch(
    router: Arc<Router>,
    config: AsyncConfig,
    mut rx: mpsc::UnboundedReceiver<Job>,
    tx: mpsc::UnboundedSender<Job>,
) {
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let config = Arc::new(config);
    while let Some(job) = rx.recv().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (router, config, tx) = (router.clone(), config.clone(), tx.clone());
        tokio::spawn(async move {
            run(&router, &config, job, &tx).await;
            drop(permit);
        });
    }
}

async fn run(router: &Router, config: &AsyncConfig, job: Job, tx: &mpsc::UnboundedSender<Job>) {
    let function = job.input.function.clone();
    loop {
        match router.invoke(job.input.clone()).await {
            Ok(done) if !done.function_error => return,
            Ok(_) => break,
            Err(InvokeError::NoCapacity) => {
                // Wait in the queue for memory, re-checking now and then.
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), router.admission().freed()).await;
            }
            Err(e) => {
                tracing::warn!(%function, error = %e, "dropping asynchronous invocation");
                return;
            }
        }
    }
    let Some(delay) = config.retry_delays.get(job.attempt).copied() else {
        tracing::warn!(%function, attempts = job.attempt + 1, "asynchronous invocation failed; retries exhausted");
        return;
    };
    tracing::info!(%function, attempt = job.attempt + 1, ?delay, "asynchronous invocation failed; retrying");
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
