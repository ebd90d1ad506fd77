//! The dispatcher: delivers the outbox's rows and deletes each once it is
//! delivered or given up, following the store's claim protocol (see
//! `ignis_store::sns`): rows are claimed under a lease, a failed HTTP/S
//! delivery is put back with its next retry's due time, and at start-up
//! the claims a killed process left are released, so every committed
//! delivery is made at least once.
//!
//! In `enforce` mode a delivery to a function needs the function's
//! resource policy to allow `sns.amazonaws.com` `lambda:InvokeFunction`,
//! one to a queue the queue's policy to allow it `sqs:SendMessage` (with
//! `aws:SourceArn` the topic); a refused delivery is logged and failed
//! (to the subscription's dead-letter queue, if it has one).

use std::sync::Arc;
use std::time::Duration;

use ignis_identity::policy::{
    authorize, Decision, PolicyDocument, PolicyKind, Principal, RequestContext,
};
use ignis_store::sns::{NewDelivery, SnsDelivery};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::delivery_policy::RetryPolicy;
use crate::message::{Delivery, Kind, Urls};
use crate::service::{Inner, Sns};
use crate::targets::{QueueMessage, TargetError};

/// Deliveries in flight at once.
const PARALLEL: usize = 16;
/// How long a claim holds (longer than one attempt: HTTP times out at 15 s).
const LEASE_MS: i64 = 60_000;
/// Retries of a delivery to a function or queue that failed on the
/// server's side (store failures), 1 s apart.
const TARGET_RETRIES: u32 = 10;

impl Sns {
    /// Starts the dispatcher: releases claims a previous process left, then
    /// delivers until `stop`.
    pub async fn start(&self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        match self.inner.store.release_delivery_claims().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                released = n,
                "SNS deliveries left claimed by a previous process will be made again"
            ),
            Err(e) => tracing::error!(error = %e, "release SNS delivery claims"),
        }
        let inner = self.inner.clone();
        tokio::spawn(async move { run(inner, stop).await })
    }

    /// Deliveries waiting to be made.
    pub async fn backlog(&self) -> u64 {
        self.inner.store.pending_deliveries().await.unwrap_or(0)
    }
}

async fn run(inner: Arc<Inner>, stop: CancellationToken) {
    let owner = format!("sns-{}", uuid::Uuid::new_v4());
    let mut running: JoinSet<()> = JoinSet::new();
    loop {
        let free = PARALLEL.saturating_sub(running.len());
        let mut claimed = 0;
        if free > 0 {
            let now = chrono::Utc::now().timestamp_millis();
            match inner
                .store
                .claim_deliveries(&owner, now, now + LEASE_MS, free)
                .await
            {
                Ok(rows) => {
                    claimed = rows.len();
                    for row in rows {
                        let (inner, owner) = (inner.clone(), owner.clone());
                        running.spawn(async move { deliver(&inner, &owner, row).await });
                    }
                }
                Err(e) => tracing::error!(error = %e, "claim SNS deliveries"),
            }
        }
        if claimed > 0 && running.len() < PARALLEL {
            continue;
        }
        // With deliveries in flight and nothing more to claim, the next
        // thing to happen is most likely one of them ending.
        let wait = if claimed == 0 && !running.is_empty() {
            Duration::from_secs(1)
        } else {
            next_wait(&inner).await
        };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = inner.wake.notified() => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    // Rows still claimed are released at the next start.
    running.abort_all();
}

async fn next_wait(inner: &Inner) -> Duration {
    let now = chrono::Utc::now().timestamp_millis();
    match inner.store.next_delivery_due().await {
        Ok(Some(due)) => Duration::from_millis((due - now).clamp(10, 1_000) as u64),
        _ => Duration::from_secs(1),
    }
}

async fn deliver(inner: &Inner, owner: &str, row: SnsDelivery) {
    let d: Delivery = match serde_json::from_str(&row.payload) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(id = row.id, error = %e, "an SNS delivery does not decode; dropped");
            let _ = inner.store.finish_delivery(row.id, owner, None).await;
            return;
        }
    };
    let result = attempt(inner, &d).await;
    let store = &inner.store;
    let outcome = match result {
        Ok(()) => store.finish_delivery(row.id, owner, None).await,
        Err(err) => {
            let attempts = row.attempts + 1;
            let retry = match &err {
                TargetError::Client(_) => None,
                TargetError::Server(_) if matches!(d.protocol.as_str(), "http" | "https") => d
                    .delivery_policy
                    .as_deref()
                    .and_then(|p| RetryPolicy::parse(p).ok())
                    .unwrap_or_default()
                    .delay(attempts),
                TargetError::Server(_) => {
                    (attempts <= TARGET_RETRIES).then_some(Duration::from_secs(1))
                }
            };
            match retry {
                Some(delay) => {
                    tracing::info!(subscription = %d.subscription_arn, endpoint = %d.endpoint, attempt = attempts, error = %err, "SNS delivery failed; retried in {delay:?}");
                    let due = chrono::Utc::now().timestamp_millis() + delay.as_millis() as i64;
                    store.retry_delivery(row.id, owner, attempts, due).await
                }
                None => {
                    tracing::warn!(subscription = %d.subscription_arn, endpoint = %d.endpoint, attempts, error = %err, kind = d.kind.as_str(), "SNS delivery failed for good");
                    let then = dead_letter(&d);
                    store.finish_delivery(row.id, owner, then).await
                }
            }
        }
    };
    match outcome {
        Ok(true) => {}
        Ok(false) => tracing::info!(
            id = row.id,
            "an SNS delivery's claim was lost (its lease passed); it is made again"
        ),
        Err(e) => {
            tracing::error!(id = row.id, error = %e, "record an SNS delivery's outcome; it will be made again")
        }
    }
    inner.wake.notify_one();
}

/// The delivery of a failed notification to the subscription's
/// dead-letter queue: the message as the subscription would have had it.
fn dead_letter(d: &Delivery) -> Option<NewDelivery> {
    let arn = d
        .dead_letter_arn
        .clone()
        .filter(|_| d.kind == Kind::Notification)?;
    let mut dlq = d.clone();
    dlq.protocol = "sqs".into();
    dlq.endpoint = arn;
    dlq.dead_letter_arn = None;
    // A raw subscription's message stays raw; an HTTP one's as JSON.
    Some(NewDelivery {
        subscription_arn: d.subscription_arn.clone(),
        ordering_key: None,
        payload: serde_json::to_string(&dlq).ok()?,
        not_before_ms: 0,
    })
}

async fn attempt(inner: &Inner, d: &Delivery) -> Result<(), TargetError> {
    let urls = Urls {
        base: &inner.base_url,
    };
    let subscribe_url = d.token.as_ref().map(|t| urls.subscribe(&d.topic_arn, t));
    let signature = inner
        .signer
        .sign(&d.signature_version, &d.signed(subscribe_url.as_deref()))
        .await
        .map_err(TargetError::Server)?;
    match d.protocol.as_str() {
        "lambda" => {
            if inner.enforce {
                let policy = inner.targets.function_policy(&d.endpoint).await?;
                allowed(
                    inner,
                    policy.as_deref(),
                    "lambda:InvokeFunction",
                    &d.endpoint,
                    &d.topic_arn,
                )?;
            }
            let event = d.lambda_event(&urls, &signature);
            inner
                .targets
                .invoke(&d.endpoint, event.to_string().into_bytes())
                .await
        }
        "sqs" => {
            let policy = inner.targets.queue_policy(&d.endpoint).await?;
            if inner.enforce {
                allowed(
                    inner,
                    policy.as_deref(),
                    "sqs:SendMessage",
                    &d.endpoint,
                    &d.topic_arn,
                )?;
            }
            let message = if d.raw {
                QueueMessage {
                    body: d.message.clone(),
                    attributes: d.attributes.clone(),
                    group_id: d.group_id.clone(),
                    dedup_id: d.dedup_id.clone(),
                }
            } else {
                QueueMessage {
                    body: d.json(&urls, &signature).to_string(),
                    attributes: Default::default(),
                    group_id: d.group_id.clone(),
                    dedup_id: d.dedup_id.clone(),
                }
            };
            inner.targets.send(&d.endpoint, message).await
        }
        "http" | "https" => post(inner, d, &urls, &signature).await,
        other => Err(TargetError::Client(format!(
            "protocol {other} is not delivered"
        ))),
    }
}

/// Whether the resource `policy` lets `sns.amazonaws.com` do `action` on
/// `resource` for `topic_arn`.
fn allowed(
    inner: &Inner,
    policy: Option<&str>,
    action: &str,
    resource: &str,
    topic_arn: &str,
) -> Result<(), TargetError> {
    let refused = |why: &str| {
        TargetError::Client(format!(
            "sns.amazonaws.com may not {action} on {resource}: {why}"
        ))
    };
    let text = policy.ok_or_else(|| refused("it has no resource policy"))?;
    let doc = PolicyDocument::parse(text, PolicyKind::Resource)
        .map_err(|e| refused(&format!("its policy does not parse ({e})")))?;
    let ctx = RequestContext::new(Principal::service("sns.amazonaws.com"), action, resource)
        .with_key("aws:SourceArn", topic_arn)
        .with_key("aws:SourceAccount", inner.account.as_str());
    match authorize(&ctx, &[], Some(&doc)) {
        Decision::Allow => Ok(()),
        _ => Err(refused("its policy does not allow it")),
    }
}

async fn post(
    inner: &Inner,
    d: &Delivery,
    urls: &Urls<'_>,
    signature: &str,
) -> Result<(), TargetError> {
    let body = if d.raw && d.kind == Kind::Notification {
        d.message.clone()
    } else {
        d.json(urls, signature).to_string()
    };
    let mut req = inner
        .http
        .post(&d.endpoint)
        .header("content-type", "text/plain; charset=UTF-8")
        .header("x-amz-sns-message-type", d.kind.as_str())
        .header("x-amz-sns-message-id", &d.message_id)
        .header("x-amz-sns-topic-arn", &d.topic_arn)
        .header("user-agent", "Amazon Simple Notification Service Agent");
    if d.kind == Kind::Notification {
        req = req.header("x-amz-sns-subscription-arn", &d.subscription_arn);
        if d.raw {
            req = req.header("x-amz-sns-rawdelivery", "true");
        }
    }
    match req.body(body).send().await {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => Err(TargetError::Server(format!(
            "the endpoint answered {}",
            resp.status()
        ))),
        Err(e) => Err(TargetError::Server(format!("POST failed: {e}"))),
    }
}
