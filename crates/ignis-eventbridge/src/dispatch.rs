//! The dispatcher: fires scheduled rules whose tick is due and delivers
//! the outbox's rows, following the store's claim protocol (see
//! `ignis_store::events_bus`): rows are claimed under a lease, a failed
//! delivery is put back with its next retry's due time until the target's
//! `RetryPolicy` runs out (attempts or the event's age), then sent to the
//! target's dead-letter queue (if any) and dropped. At start-up the claims
//! a killed process left are released, so every committed delivery is made
//! at least once.
//!
//! A tick is claimed in the transaction that writes its deliveries (the
//! rule's next tick moves from the due one only once), so a tick fires
//! once; a rule whose ticks were missed while Ignis was down fires once on
//! start-up and then from the next tick after now.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use ignis_identity::policy::{
    authorize, Decision, PolicyDocument, PolicyKind, Principal, RequestContext,
};
use ignis_store::events_bus::EventDelivery;
use serde_json::json;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::delivery::Delivery;
use crate::event::{envelope, format_time};
use crate::names::resource_of;
use crate::service::put_events::deliveries_for;
use crate::service::{EventBridge, Inner, RuleSpec};
use crate::target::service_of;
use crate::targets::{Message, TargetError};

/// Deliveries in flight at once.
const PARALLEL: usize = 16;
/// How long a claim holds.
const LEASE_MS: i64 = 60_000;
/// The first retry's delay; doubled per attempt up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: i64 = 1_000;
/// The longest delay between retries.
const MAX_BACKOFF_MS: i64 = 60_000;

impl EventBridge {
    /// Starts the dispatcher: releases claims a previous process left, then
    /// fires ticks and delivers until `stop`.
    pub async fn start(&self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        match self.inner.store.release_delivery_claims().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                released = n,
                "EventBridge deliveries left claimed by a previous process will be made again"
            ),
            Err(e) => tracing::error!(error = %e, "release EventBridge delivery claims"),
        }
        let this = self.clone();
        tokio::spawn(async move { this.run(stop).await })
    }

    /// Deliveries waiting to be made.
    pub async fn backlog(&self) -> u64 {
        self.inner.store.pending_deliveries().await.unwrap_or(0)
    }

    /// Fires every scheduled rule whose tick is due at the clock's now:
    /// one `Scheduled Event` per tick to each of its targets; how many
    /// ticks fired.
    pub async fn fire_due(&self) -> usize {
        let now = self.inner.clock.now_ms();
        let due = match self.inner.store.due_rules(now).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "read due scheduled rules");
                return 0;
            }
        };
        let mut fired = 0;
        for (rule, targets) in due {
            let Some(tick) = rule.next_fire_ms else {
                continue;
            };
            let spec = RuleSpec::of(&rule);
            let next = spec
                .schedule_expression
                .as_deref()
                .and_then(|s| crate::schedule::next_after(s, tick, now.max(tick)));
            let time = Utc
                .timestamp_millis_opt(tick)
                .single()
                .unwrap_or_else(Utc::now);
            let event = envelope(
                &uuid::Uuid::new_v4().to_string(),
                "Scheduled Event",
                "aws.events",
                &self.inner.account,
                time,
                &self.inner.region,
                std::slice::from_ref(&rule.arn),
                json!({}),
            );
            let rows = deliveries_for(&rule, &targets, &event, &format_time(time), now);
            match self
                .inner
                .store
                .fire_rule(&rule.arn, tick, next, rows)
                .await
            {
                Ok(true) => fired += 1,
                Ok(false) => {}
                Err(e) => tracing::error!(rule = %rule.arn, error = %e, "fire a scheduled rule"),
            }
        }
        if fired > 0 {
            self.inner.wake.notify_one();
        }
        fired
    }

    /// Claims and makes the deliveries due now, waiting for each; how
    /// many were claimed (tests drive the dispatcher with this).
    pub async fn deliver_due(&self) -> usize {
        let owner = format!("events-{}", uuid::Uuid::new_v4());
        let now = self.inner.clock.now_ms();
        match self
            .inner
            .store
            .claim_deliveries(&owner, now, now + LEASE_MS, PARALLEL)
            .await
        {
            Ok(rows) => {
                let n = rows.len();
                for row in rows {
                    deliver(self, &owner, row).await;
                }
                n
            }
            Err(e) => {
                tracing::error!(error = %e, "claim EventBridge deliveries");
                0
            }
        }
    }

    async fn run(self, stop: CancellationToken) {
        let owner = format!("events-{}", uuid::Uuid::new_v4());
        let mut running: JoinSet<()> = JoinSet::new();
        loop {
            self.fire_due().await;
            let free = PARALLEL.saturating_sub(running.len());
            let mut claimed = 0;
            if free > 0 {
                let now = self.inner.clock.now_ms();
                match self
                    .inner
                    .store
                    .claim_deliveries(&owner, now, now + LEASE_MS, free)
                    .await
                {
                    Ok(rows) => {
                        claimed = rows.len();
                        for row in rows {
                            let (this, owner) = (self.clone(), owner.clone());
                            running.spawn(async move { deliver(&this, &owner, row).await });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "claim EventBridge deliveries"),
                }
            }
            if claimed > 0 && running.len() < PARALLEL {
                continue;
            }
            let wait = if claimed == 0 && !running.is_empty() {
                Duration::from_secs(1)
            } else {
                next_wait(&self.inner).await
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.inner.wake.notified() => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        // Rows still claimed are released at the next start.
        running.abort_all();
    }
}

async fn next_wait(inner: &Inner) -> Duration {
    let now = inner.clock.now_ms();
    let delivery = inner.store.next_delivery_due().await.ok().flatten();
    let tick = inner.store.next_rule_due().await.ok().flatten();
    match [delivery, tick].into_iter().flatten().min() {
        Some(due) => Duration::from_millis((due - now).clamp(10, 1_000) as u64),
        None => Duration::from_secs(1),
    }
}

async fn deliver(this: &EventBridge, owner: &str, row: EventDelivery) {
    let inner = &this.inner;
    let d: Delivery = match serde_json::from_str(&row.payload) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(id = row.id, error = %e, "an EventBridge delivery does not decode; dropped");
            let _ = inner.store.finish_delivery(row.id, owner).await;
            return;
        }
    };
    let store = &inner.store;
    let outcome = match attempt(this, &d).await {
        Ok(()) => store.finish_delivery(row.id, owner).await,
        Err(err) => {
            let attempts = row.attempts + 1;
            let now = inner.clock.now_ms();
            let backoff = (FIRST_BACKOFF_MS << attempts.min(6)).min(MAX_BACKOFF_MS);
            let too_old = now + backoff - d.first_ms > i64::from(d.target.max_event_age_s()) * 1000;
            let retry = matches!(err, TargetError::Server(_))
                && attempts <= d.target.retry_attempts()
                && !too_old;
            if retry {
                tracing::info!(rule = %d.rule_arn, target = %d.target.arn, attempt = attempts, error = %err, "EventBridge delivery failed; retried in {backoff} ms");
                store
                    .retry_delivery(row.id, owner, attempts, now + backoff)
                    .await
            } else {
                tracing::warn!(rule = %d.rule_arn, target = %d.target.arn, attempts, error = %err, "EventBridge delivery failed for good");
                dead_letter(inner, &d, &err).await;
                store.finish_delivery(row.id, owner).await
            }
        }
    };
    match outcome {
        Ok(true) => {}
        Ok(false) => tracing::info!(
            id = row.id,
            "an EventBridge delivery's claim was lost (its lease passed); it is made again"
        ),
        Err(e) => {
            tracing::error!(id = row.id, error = %e, "record an EventBridge delivery's outcome; it will be made again")
        }
    }
    inner.wake.notify_one();
}

/// Sends a failed event to the target's dead-letter queue, with AWS's
/// attributes saying why.
async fn dead_letter(inner: &Inner, d: &Delivery, err: &TargetError) {
    let Some(dlq) = d.target.dead_letter_arn() else {
        return;
    };
    let code = match err {
        TargetError::Client(_) => "CLIENT_ERROR",
        TargetError::Server(_) => "SERVER_ERROR",
    };
    let message = Message {
        body: d.event.clone(),
        attributes: vec![
            ("RULE_ARN".into(), d.rule_arn.clone()),
            ("TARGET_ARN".into(), d.target.arn.clone()),
            ("ERROR_CODE".into(), code.into()),
            ("ERROR_MESSAGE".into(), err.to_string()),
        ],
        group_id: None,
        dedup_id: None,
    };
    if let Err(e) = inner.targets.send(&dlq, message).await {
        tracing::error!(dead_letter_queue = %dlq, error = %e, "an EventBridge event could not be sent to its dead-letter queue; dropped");
    }
}

/// Whether the target's resource policy lets `events.amazonaws.com` do
/// `action` on it for the delivery's rule (`enforce` mode only).
async fn allowed(inner: &Inner, d: &Delivery, action: &str) -> Result<(), TargetError> {
    if !inner.enforce {
        return Ok(());
    }
    let arn = d.target.arn.as_str();
    let refused = |why: &str| {
        TargetError::Client(format!(
            "events.amazonaws.com may not {action} on {arn}: {why}"
        ))
    };
    let text = inner.targets.policy(arn).await?;
    let text = text.ok_or_else(|| refused("it has no resource policy"))?;
    let doc = PolicyDocument::parse(&text, PolicyKind::Resource)
        .map_err(|e| refused(&format!("its policy does not parse ({e})")))?;
    let ctx = RequestContext::new(Principal::service("events.amazonaws.com"), action, arn)
        .with_key("aws:SourceArn", d.rule_arn.as_str())
        .with_key("aws:SourceAccount", inner.account.as_str());
    match authorize(&ctx, &[], Some(&doc)) {
        Decision::Allow => Ok(()),
        _ => Err(refused("its policy does not allow it")),
    }
}

async fn attempt(this: &EventBridge, d: &Delivery) -> Result<(), TargetError> {
    let arn = d.target.arn.as_str();
    let action = match service_of(arn) {
        Some("lambda") => Some("lambda:InvokeFunction"),
        Some("sqs") => Some("sqs:SendMessage"),
        Some("sns") => Some("sns:Publish"),
        _ => None,
    };
    if let Some(action) = action {
        allowed(&this.inner, d, action).await?;
    }
    match service_of(arn) {
        Some("lambda") => {
            this.inner
                .targets
                .invoke(arn, d.input.clone().into_bytes())
                .await
        }
        Some("sqs" | "sns") => {
            let message = Message {
                body: d.input.clone(),
                attributes: Vec::new(),
                group_id: d
                    .target
                    .sqs_parameters
                    .as_ref()
                    .and_then(|p| p.message_group_id.clone()),
                dedup_id: arn.ends_with(".fifo").then(|| d.event_id.clone()),
            };
            this.inner.targets.send(arn, message).await
        }
        Some("events") => {
            let Some(crate::names::Resource::Bus(bus)) = resource_of(arn) else {
                return Err(TargetError::Client(format!("{arn} is not an event bus")));
            };
            match this.inner.store.bus(&bus).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(TargetError::Client(format!(
                        "Event bus {bus} does not exist."
                    )))
                }
                Err(e) => return Err(TargetError::Server(e.to_string())),
            }
            let event: serde_json::Value =
                serde_json::from_str(&d.event).map_err(|e| TargetError::Client(e.to_string()))?;
            this.route_on(&bus, &event)
                .await
                .map_err(|e| TargetError::Server(e.message))
        }
        _ => Err(TargetError::Client(format!(
            "Ignis does not deliver to {arn}"
        ))),
    }
}
