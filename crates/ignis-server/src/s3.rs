//! The object store on this node: [`ignis_s3::S3`] over the store and the
//! data directory, and where its notifications go
//! ([`ignis_s3::notify::Destinations`]): a function through the durable
//! asynchronous invocation queue (the event is queued, as S3 invokes a
//! function asynchronously), a queue or topic as a message, an event for
//! EventBridge on the default bus (source `aws.s3`). At start-up
//! the files a crash left unnamed are removed, the outbox's claims
//! released, and the dispatcher started.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ignis_api::functions::Functions;
use ignis_events::AsyncInvoker;
use ignis_s3::notify::{Answer, Destinations, Dispatcher};
use ignis_sqs::Sqs;
use ignis_store::{SnsStore, SqliteStore};
use tokio_util::sync::CancellationToken;

use crate::node::{self, QueueSend};

/// Functions, queues and topics of this node.
pub(crate) struct NodeDestinations {
    pub(crate) events: AsyncInvoker,
    pub(crate) functions: Arc<Functions>,
    pub(crate) sqs: Sqs,
    pub(crate) sns: ignis_sns::Sns,
    pub(crate) store: Arc<SqliteStore>,
    pub(crate) rules: ignis_eventbridge::EventBridge,
}

impl Destinations for NodeDestinations {
    fn exists<'a>(&'a self, arn: &'a str) -> Answer<'a, bool> {
        Box::pin(async move {
            match arn.split(':').nth(2) {
                Some("lambda") => match node::function_of(arn) {
                    Some((name, q)) => self.functions.resolve(&name, q.as_deref()).await.is_ok(),
                    None => false,
                },
                Some("sqs") => self.sqs.queue_by_arn(arn).await.is_ok(),
                Some("sns") => matches!(self.store.topic(arn).await, Ok(Some(_))),
                _ => false,
            }
        })
    }

    fn deliver<'a>(&'a self, arn: &'a str, payload: &'a str) -> Answer<'a, Result<(), String>> {
        Box::pin(async move {
            let delivered = match arn.split(':').nth(2) {
                Some("lambda") => {
                    let payload = Bytes::from(payload.to_owned());
                    node::invoke_async(&self.events, &self.functions, arn, payload).await
                }
                Some("sqs") => {
                    let send = QueueSend {
                        body: payload.to_owned(),
                        ..QueueSend::default()
                    };
                    node::send_to_queue(&self.sqs, arn, send).await
                }
                Some("sns") => node::publish(&self.sns, arn, payload.to_owned(), Vec::new()).await,
                Some("events") => return self.to_bus(arn, payload).await,
                _ => return Err(format!("Ignis does not deliver to {arn}")),
            };
            delivered.map_err(|r| r.text())
        })
    }
}

impl NodeDestinations {
    /// Puts an S3 event (EventBridge's shape, made by the notifier) on a bus.
    async fn to_bus(&self, arn: &str, payload: &str) -> Result<(), String> {
        let event: serde_json::Value = serde_json::from_str(payload).map_err(|e| e.to_string())?;
        let resources = event["resources"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        self.rules
            .put_event(
                arn,
                "aws.s3",
                event["detail-type"].as_str().unwrap_or("Object Created"),
                resources,
                event["detail"].clone(),
            )
            .await
            .map(|_| ())
            .map_err(|e| format!("{}: {}", e.code, e.message))
    }
}

/// The object store, recovered, with its dispatcher running until `stop`.
pub(crate) async fn start(
    store: Arc<SqliteStore>,
    data_dir: &Path,
    region: &str,
    destinations: NodeDestinations,
    stop: CancellationToken,
) -> anyhow::Result<ignis_s3::S3> {
    let s3 = ignis_s3::S3::new(ignis_s3::S3Config {
        data_dir: data_dir.to_path_buf(),
        store: store as Arc<dyn ignis_store::ObjectStore>,
        region: region.to_string(),
        destinations: Arc::new(destinations),
    });
    let removed = s3
        .recover()
        .await
        .map_err(|e| anyhow::anyhow!("recover the object store: {e}"))?;
    if removed > 0 {
        tracing::info!(removed, "object files a crash left behind removed");
    }
    let dispatcher = Dispatcher::new(&s3);
    dispatcher
        .recover()
        .await
        .map_err(|e| anyhow::anyhow!("release the notification outbox: {e}"))?;
    tokio::spawn(async move {
        tokio::select! {
            () = dispatcher.run() => {}
            () = stop.cancelled() => {}
        }
    });
    Ok(s3)
}
