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
use ignis_router::InvokeInput;
use ignis_s3::notify::{Answer, Destinations, Dispatcher};
use ignis_sqs::{Outgoing, Sqs};
use ignis_store::{SnsStore, SqliteStore};
use tokio_util::sync::CancellationToken;

/// Functions, queues and topics of this node.
pub(crate) struct NodeDestinations {
    pub(crate) events: AsyncInvoker,
    pub(crate) functions: Arc<Functions>,
    pub(crate) sqs: Sqs,
    pub(crate) sns: ignis_sns::Sns,
    pub(crate) store: Arc<SqliteStore>,
    pub(crate) rules: ignis_eventbridge::EventBridge,
}

/// A function ARN's name and qualifier.
fn function_of(arn: &str) -> Option<(String, Option<String>)> {
    let rest = arn.splitn(7, ':').nth(6)?;
    Some(match rest.split_once(':') {
        Some((name, q)) => (name.to_string(), Some(q.to_string())),
        None => (rest.to_string(), None),
    })
}

impl Destinations for NodeDestinations {
    fn exists<'a>(&'a self, arn: &'a str) -> Answer<'a, bool> {
        Box::pin(async move {
            match arn.split(':').nth(2) {
                Some("lambda") => match function_of(arn) {
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
            match arn.split(':').nth(2) {
                Some("lambda") => {
                    let (function, qualifier) =
                        function_of(arn).ok_or_else(|| format!("{arn} is not a function ARN"))?;
                    self.events
                        .enqueue(InvokeInput {
                            function,
                            qualifier,
                            payload: Bytes::from(payload.to_string()),
                            client_context: None,
                            invoked_arn: arn.to_string(),
                            request_id: None,
                            tail: false,
                            trace_id: None,
                        })
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
                Some("sqs") => {
                    let name = self
                        .sqs
                        .name_of_arn(arn)
                        .ok_or_else(|| format!("{arn} does not exist"))?;
                    let outgoing = Outgoing {
                        body: payload.to_string(),
                        sender_id: ignis_model::arn::ACCOUNT_ID.to_owned(),
                        ..Outgoing::default()
                    };
                    let sent = self
                        .sqs
                        .send(name, vec![outgoing])
                        .await
                        .map_err(|e| e.to_string())?;
                    match sent.into_iter().next() {
                        Some(Ok(_)) => Ok(()),
                        Some(Err(e)) => Err(format!("{}: {}", e.code, e.message)),
                        None => Err("the queue answered nothing".into()),
                    }
                }
                Some("sns") => self
                    .sns
                    .publish_message(arn, payload.to_string(), Vec::new())
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{}: {}", e.code, e.message)),
                Some("events") => {
                    let event: serde_json::Value =
                        serde_json::from_str(payload).map_err(|e| e.to_string())?;
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
                _ => Err(format!("Ignis does not deliver to {arn}")),
            }
        })
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
