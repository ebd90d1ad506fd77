//! Firing: the engine finds the schedules whose tick is due, claims each
//! tick (a compare-and-swap of the schedule's next tick in the store, so
//! one process of several sharing the store wins it), and delivers it to
//! the target, with the target's retry policy and dead-letter queue.
//!
//! The next tick is computed after *now*, not after the tick that fired:
//! ticks missed while no engine ran (the server was down) fire once, not
//! once each.
//!
//! A won tick is written as a pending firing in the claim's own
//! transaction and removed once delivered (or dead-lettered); an engine
//! starting up delivers the firings a killed process left. A tick is thus
//! claimed exactly once and delivered at least once, as AWS's Scheduler
//! delivers (a FIFO queue target deduplicates the repeat by the tick's
//! deduplication id).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ignis_store::schedules::{self, ScheduleRow};
use ignis_store::ScheduleStore;

use crate::model::Definition;
use crate::service::{definition_of, Scheduler};

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DeliveryError {
    /// A short code (`ResourceNotFoundException`, …), for the dead letter.
    pub code: String,
    /// What happened.
    pub message: String,
    /// Whether trying again may succeed.
    pub retryable: bool,
}

/// A message for a queue or topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The body.
    pub body: String,
    /// For a FIFO queue: the message group.
    pub group_id: Option<String>,
    /// For a FIFO queue: the deduplication id (one per schedule and tick).
    pub dedup_id: Option<String>,
    /// String message attributes.
    pub attributes: Vec<(String, String)>,
}

/// Where ticks go: the server delivers to its functions, queues and
/// topics; tests record.
#[async_trait::async_trait]
pub trait Deliver: Send + Sync + 'static {
    /// Invokes a function asynchronously with `payload`.
    async fn invoke(&self, function_arn: &str, payload: String) -> Result<(), DeliveryError>;
    /// Sends a message to a queue or topic.
    async fn send(&self, arn: &str, message: Outgoing) -> Result<(), DeliveryError>;
}

/// One tick to deliver.
#[derive(Debug, Clone)]
struct Firing {
    schedule_arn: String,
    definition: Definition,
    tick: DateTime<Utc>,
}

impl Scheduler {
    /// Fires every tick due now; returns how many this process claimed.
    pub async fn run_due(
        &self,
        deliver: &Arc<dyn Deliver>,
    ) -> Result<usize, ignis_store::StoreError> {
        let now = self.clock.now();
        let mut fired = 0;
        for row in self.store.due_schedules(now.timestamp_millis()).await? {
            if let Some(firing) = self.claim(&row, now).await? {
                fired += 1;
                let deliver = Arc::clone(deliver);
                deliver_with_retries(deliver, self.store.clone(), firing).await;
            }
        }
        Ok(fired)
    }

    /// Claims the row's tick if it is due (its flexible offset past); the
    /// firing to deliver if this process won it.
    async fn claim(
        &self,
        row: &ScheduleRow,
        now: DateTime<Utc>,
    ) -> Result<Option<Firing>, ignis_store::StoreError> {
        let Some(tick_ms) = row.next_tick_ms else {
            return Ok(None);
        };
        let Ok(definition) = definition_of(row) else {
            tracing::warn!(schedule = %row.name, "unreadable schedule skipped");
            return Ok(None);
        };
        let key = format!("{}/{}", row.group, row.name);
        if tick_ms + definition.offset_ms(&key, tick_ms) > now.timestamp_millis() {
            return Ok(None);
        }
        let created = DateTime::from_timestamp_millis(row.created_ms).unwrap_or(now);
        let tick = DateTime::from_timestamp_millis(tick_ms).unwrap_or(now);
        let next = definition.next_tick(created, now.max(tick));
        let delete = next.is_none() && definition.action_after_completion == "DELETE";
        let schedule_arn = self.schedule_arn(&row.group, &row.name);
        let pending = schedules::Firing {
            schedule_arn: schedule_arn.clone(),
            tick_ms,
            definition: row.definition.clone(),
        };
        let won = self
            .store
            .claim_tick(
                &row.group,
                &row.name,
                tick_ms,
                next.map(|t| t.timestamp_millis()),
                delete,
                &pending,
            )
            .await?;
        Ok(won.then_some(Firing {
            schedule_arn,
            definition,
            tick,
        }))
    }

    /// Delivers the firings a killed process won and did not finish; how
    /// many.
    pub async fn resume_pending(
        &self,
        deliver: &Arc<dyn Deliver>,
    ) -> Result<usize, ignis_store::StoreError> {
        let pending = self.store.pending_firings().await?;
        let n = pending.len();
        for p in pending {
            let Ok(definition) = serde_json::from_str::<Definition>(&p.definition) else {
                tracing::warn!(schedule = %p.schedule_arn, "unreadable pending firing dropped");
                self.store.finish_firing(&p.schedule_arn, p.tick_ms).await?;
                continue;
            };
            let tick =
                DateTime::from_timestamp_millis(p.tick_ms).unwrap_or_else(|| self.clock.now());
            tracing::info!(schedule = %p.schedule_arn, %tick, "delivering a tick a previous process won");
            let firing = Firing {
                schedule_arn: p.schedule_arn,
                definition,
                tick,
            };
            deliver_with_retries(Arc::clone(deliver), self.store.clone(), firing).await;
        }
        Ok(n)
    }

    /// Runs the engine until the task is dropped: fires what is due, then
    /// sleeps until the next tick (at most a second, so a schedule another
    /// process wrote is seen) or a change wakes it.
    pub fn spawn_engine(&self, deliver: Arc<dyn Deliver>) -> tokio::task::JoinHandle<()> {
        let scheduler = self.clone();
        tokio::spawn(async move {
            if let Err(e) = scheduler.resume_pending(&deliver).await {
                tracing::warn!(error = %e, "the scheduler could not read its pending firings");
            }
            loop {
                if let Err(e) = scheduler.run_due(&deliver).await {
                    tracing::warn!(error = %e, "the scheduler could not read its schedules");
                }
                let wait = match scheduler.store.next_schedule_tick().await {
                    // A tick already due and not fired waits for its flexible
                    // window's offset: look again in a second, not at once.
                    Ok(Some(next)) => match next - scheduler.clock.now().timestamp_millis() {
                        ms if ms <= 0 => Duration::from_secs(1),
                        ms => Duration::from_millis(ms.clamp(10, 1000) as u64),
                    },
                    _ => Duration::from_secs(1),
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = scheduler.wake.notified() => {}
                }
            }
        })
    }
}

/// Delivers a firing; failed attempts are retried (with backoff, within the
/// policy's attempts and event age) in the background, then dead-lettered.
async fn deliver_with_retries(
    deliver: Arc<dyn Deliver>,
    store: Arc<dyn ScheduleStore>,
    firing: Firing,
) {
    let first = attempt(&*deliver, &firing).await;
    let Err(error) = first else {
        finish(&*store, &firing).await;
        return;
    };
    let (retries, max_age) = firing.definition.retries();
    if !error.retryable || retries == 0 {
        dead_letter(&*deliver, &firing, &error, 0).await;
        finish(&*store, &firing).await;
        return;
    }
    tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let mut error = error;
        let mut attempts = 0;
        while attempts < retries {
            let backoff = Duration::from_secs(1 << attempts.min(6));
            if started.elapsed() + backoff > Duration::from_secs(u64::from(max_age)) {
                break;
            }
            tokio::time::sleep(backoff).await;
            attempts += 1;
            match attempt(&*deliver, &firing).await {
                Ok(()) => return finish(&*store, &firing).await,
                Err(e) if e.retryable => error = e,
                Err(e) => {
                    error = e;
                    break;
                }
            }
        }
        dead_letter(&*deliver, &firing, &error, attempts).await;
        finish(&*store, &firing).await;
    });
}

/// The firing is done (delivered or dead-lettered): no longer pending.
async fn finish(store: &dyn ScheduleStore, firing: &Firing) {
    let tick_ms = firing.tick.timestamp_millis();
    if let Err(e) = store.finish_firing(&firing.schedule_arn, tick_ms).await {
        tracing::warn!(schedule = %firing.schedule_arn, error = %e, "a delivered tick stays pending; it is delivered again at the next start");
    }
}

async fn attempt(deliver: &dyn Deliver, firing: &Firing) -> Result<(), DeliveryError> {
    let target = &firing.definition.target;
    let payload = target.input.clone().unwrap_or_else(|| "{}".into());
    match target.arn.split(':').nth(2) {
        Some("lambda") => deliver.invoke(&target.arn, payload).await,
        Some("sqs") | Some("sns") => {
            let message = Outgoing {
                body: payload,
                group_id: target
                    .sqs_parameters
                    .as_ref()
                    .and_then(|p| p.message_group_id.clone()),
                dedup_id: Some(dedup_id(&firing.schedule_arn, firing.tick)),
                attributes: Vec::new(),
            };
            deliver.send(&target.arn, message).await
        }
        _ => Err(DeliveryError {
            code: "ValidationException".into(),
            message: format!("Ignis does not deliver to {}", target.arn),
            retryable: false,
        }),
    }
}

/// Sends a tick that could not be delivered to the dead-letter queue (when
/// one is set), with Scheduler's attributes saying why.
async fn dead_letter(deliver: &dyn Deliver, firing: &Firing, error: &DeliveryError, retries: u32) {
    let target = &firing.definition.target;
    tracing::warn!(schedule = %firing.schedule_arn, tick = %firing.tick, %error, "a schedule's tick was not delivered");
    let Some(dlq) = target
        .dead_letter_config
        .as_ref()
        .and_then(|d| d.arn.clone())
    else {
        return;
    };
    let message = Outgoing {
        body: target.input.clone().unwrap_or_else(|| "{}".into()),
        group_id: None,
        dedup_id: None,
        attributes: vec![
            ("ERROR_CODE".into(), error.code.clone()),
            ("ERROR_MESSAGE".into(), error.message.clone()),
            ("EXECUTION_ID".into(), uuid::Uuid::new_v4().to_string()),
            ("RETRY_ATTEMPTS".into(), retries.to_string()),
            ("SCHEDULE_ARN".into(), firing.schedule_arn.clone()),
            ("TARGET_ARN".into(), target.arn.clone()),
        ],
    };
    if let Err(e) = deliver.send(&dlq, message).await {
        tracing::warn!(schedule = %firing.schedule_arn, dlq = %dlq, error = %e, "the dead-letter queue refused a tick");
    }
}

/// A FIFO deduplication id for a schedule's tick (at most 128 characters of
/// SQS's alphabet): a hash of the schedule's ARN and the tick's time.
fn dedup_id(schedule_arn: &str, tick: DateTime<Utc>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in schedule_arn.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}-{}", tick.timestamp_millis())
}
