//! The object store on this node: [`ignis_s3::S3`] over the store and the
//! data directory, and where its notifications go
//! ([`ignis_s3::notify::Destinations`]): a function through the durable
//! asynchronous invocation queue (the event is queued, as S3 invokes a
//! function asynchronously), a queue or topic as a message, an event for
//! EventBridge on the default bus (source `aws.s3`). At start-up
//! the files a crash left unnamed are removed, the outbox's claims
//! released, and the dispatcher and the lifecycle sweeper started.

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
    let sweeper = s3.clone();
    let stop_sweeper = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = dispatcher.run() => {}
            () = stop.cancelled() => {}
        }
    });
    tokio::spawn(async move {
        tokio::select! {
            () = sweep_lifecycle(sweeper, lifecycle_day_ms()) => {}
            () = stop_sweeper.cancelled() => {}
        }
    });
    Ok(s3)
}

/// The length of a lifecycle day: a real day, or
/// `IGNIS_S3_LIFECYCLE_DAY_SECS` seconds (for tests: S3's rules count whole
/// days; see docs/objects.md).
fn lifecycle_day_ms() -> i64 {
    std::env::var("IGNIS_S3_LIFECYCLE_DAY_SECS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(ignis_s3::lifecycle::DAY_MS, |s| {
            ((s * 1000.0) as i64).max(1)
        })
}

/// Applies buckets' lifecycle rules every 1/24 of a day (an hour; at
/// least every 250 ms with a shortened day).
async fn sweep_lifecycle(s3: ignis_s3::S3, day_ms: i64) {
    let every = std::time::Duration::from_millis((day_ms / 24).clamp(250, 3_600_000) as u64);
    if day_ms != ignis_s3::lifecycle::DAY_MS {
        tracing::info!(
            day_ms,
            "lifecycle days are shortened (IGNIS_S3_LIFECYCLE_DAY_SECS)"
        );
    }
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        match s3.sweep_lifecycle(now, day_ms).await {
            Ok(swept) if swept.expired + swept.aborted > 0 => {
                tracing::info!(
                    expired = swept.expired,
                    aborted = swept.aborted,
                    "lifecycle sweep"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "lifecycle sweep failed"),
        }
        tokio::time::sleep(every).await;
    }
}
