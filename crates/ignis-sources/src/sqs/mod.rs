//! Feeding functions from Ignis's own queues: the SQS event ([`event`])
//! and the pollers ([`poller`]) over the queue engine ([`Queues`]) and the
//! router ([`Invoker`]).

pub mod event;
pub mod poller;

use std::future::Future;
use std::pin::Pin;

use ignis_router::{Completed, InvokeError, InvokeInput};
use ignis_sqs::{Delivered, EntryError, Receive, SqsError};

use crate::source::{Catalog, QueueFacts};

/// A boxed future, for the object-safe seams.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The queue engine as the pollers use it ([`ignis_sqs::Sqs`]; a seam for
/// tests).
pub trait Queues: Send + Sync + 'static {
    /// Receives (long polling; dropping the future cancels the wait).
    fn receive<'a>(
        &'a self,
        queue: &'a str,
        receive: Receive,
    ) -> BoxFuture<'a, Result<Vec<Delivered>, SqsError>>;
    /// Deletes received messages.
    fn delete<'a>(
        &'a self,
        queue: &'a str,
        handles: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Result<(), EntryError>>, SqsError>>;
    /// Makes received messages visible after `seconds`.
    fn release<'a>(
        &'a self,
        queue: &'a str,
        handles: &'a [String],
        seconds: u32,
    ) -> BoxFuture<'a, Result<(), SqsError>>;
}

impl Queues for ignis_sqs::Sqs {
    fn receive<'a>(
        &'a self,
        queue: &'a str,
        receive: Receive,
    ) -> BoxFuture<'a, Result<Vec<Delivered>, SqsError>> {
        Box::pin(ignis_sqs::Sqs::receive(self, queue, receive))
    }

    fn delete<'a>(
        &'a self,
        queue: &'a str,
        handles: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Result<(), EntryError>>, SqsError>> {
        Box::pin(ignis_sqs::Sqs::delete(self, queue, handles))
    }

    fn release<'a>(
        &'a self,
        queue: &'a str,
        handles: &'a [String],
        seconds: u32,
    ) -> BoxFuture<'a, Result<(), SqsError>> {
        Box::pin(async move {
            let entries: Vec<(String, u32)> =
                handles.iter().map(|h| (h.clone(), seconds)).collect();
            ignis_sqs::Sqs::change_visibility(self, queue, &entries)
                .await
                .map(drop)
        })
    }
}

#[async_trait::async_trait]
impl Catalog for ignis_sqs::Sqs {
    async fn queue(&self, arn: &str) -> Result<Option<QueueFacts>, String> {
        match self.queue_by_arn(arn).await {
            Ok(q) => Ok(Some(QueueFacts {
                fifo: q.is_fifo(),
                visibility_timeout: q
                    .attributes
                    .get("VisibilityTimeout")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(30),
                name: q.name,
            })),
            Err(e) if e.code == "QueueDoesNotExist" => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Where batches run: the router (any [`ignis_events::Target`]).
pub trait Invoker: Send + Sync + 'static {
    /// Runs one invocation synchronously.
    fn invoke(&self, input: InvokeInput) -> BoxFuture<'_, Result<Completed, InvokeError>>;
    /// Resolves when memory or concurrency is released.
    fn capacity_freed(&self) -> BoxFuture<'_, ()>;
}

impl<T: ignis_events::Target> Invoker for T {
    fn invoke(&self, input: InvokeInput) -> BoxFuture<'_, Result<Completed, InvokeError>> {
        Box::pin(ignis_events::Target::invoke(self, input))
    }

    fn capacity_freed(&self) -> BoxFuture<'_, ()> {
        Box::pin(ignis_events::Target::capacity_freed(self))
    }
}

/// The [`crate::Runner`] of mappings on Ignis's queues.
pub struct SqsRunner(pub std::sync::Arc<poller::Context>);

impl crate::Runner for SqsRunner {
    fn serves(&self, mapping: &crate::Mapping) -> bool {
        matches!(mapping.source, crate::Source::Sqs { .. })
    }

    fn run(
        &self,
        mapping: crate::Mapping,
        token: tokio_util::sync::CancellationToken,
    ) -> BoxFuture<'static, ()> {
        Box::pin(poller::run(self.0.clone(), mapping, token))
    }
}

#[cfg(test)]
mod tests;
