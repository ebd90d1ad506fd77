//! Message move tasks (`StartMessageMoveTask`): a background task moves a
//! dead-letter queue's messages back to the queues they came from (by each
//! message's `DeadLetterQueueSourceArn`) or to one destination, at most
//! `MaxNumberOfMessagesPerSecond` a second, recording its progress in the
//! store. A task whose process is gone shows as `FAILED`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ignis_store::sqs::{MoveTarget, MoveTaskRecord};

use super::{lock, now_ms, store_err, MoveTask, Sqs};
use crate::error::SqsError;

/// The highest rate a task may ask for, messages per second.
const MAX_RATE: u32 = 500;
/// Messages moved per step of a task without a rate.
const UNLIMITED_STEP: usize = 500;
/// The most tasks `ListMessageMoveTasks` returns.
const MAX_LIST: u32 = 10;

const RUNNING: &str = "RUNNING";
const COMPLETED: &str = "COMPLETED";
const CANCELLING: &str = "CANCELLING";
const CANCELLED: &str = "CANCELLED";
const FAILED: &str = "FAILED";

fn task_of(r: MoveTaskRecord) -> MoveTask {
    MoveTask {
        handle: r.handle,
        status: r.status,
        source_arn: r.source_arn,
        destination_arn: r.destination_arn,
        max_per_second: r.max_per_second,
        moved: r.moved,
        to_move: r.to_move,
        started_ms: r.started_ms,
        failure_reason: r.failure_reason,
    }
}

impl Sqs {
    /// Starts moving a dead-letter queue's messages back to their sources
    /// (or to `destination_arn`); the task's handle.
    pub async fn start_move_task(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
        max_per_second: Option<u32>,
    ) -> Result<String, SqsError> {
        let source = self.move_endpoint(source_arn, "SourceArn").await?;
        if let Some(rate) = max_per_second.filter(|r| !(1..=MAX_RATE).contains(r)) {
            return Err(SqsError::invalid_parameter(format!(
                "Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and 500."
            )));
        }
        if self.dead_letter_sources(&source).await?.is_empty() {
            return Err(SqsError::invalid_parameter(
                "Source queue must be configured as a Dead Letter Queue.",
            ));
        }
        let target = match destination_arn {
            Some(arn) => MoveTarget::Queue(self.move_endpoint(arn, "DestinationArn").await?),
            None => MoveTarget::Sources(self.queue_names_by_arn().await?),
        };
        let running = self
            .store
            .list_move_tasks(source_arn, usize::MAX)
            .await
            .map_err(store_err)?;
        if running
            .iter()
            .any(|t| t.status == RUNNING && self.is_live(&t.handle))
        {
            return Err(SqsError::invalid_parameter(
                "There is already a task running. Only one active task is allowed for a source queue ARN at a given time.",
            ));
        }
        let counts = self.counts(&source).await?;
        let handle = STANDARD.encode(format!("{}\n{source_arn}", uuid::Uuid::new_v4()));
        let record = MoveTaskRecord {
            handle: handle.clone(),
            source_arn: source_arn.to_string(),
            destination_arn: destination_arn.map(str::to_string),
            max_per_second,
            status: RUNNING.to_string(),
            moved: 0,
            to_move: counts.visible + counts.in_flight + counts.delayed,
            started_ms: now_ms(),
            failure_reason: None,
        };
        self.store
            .create_move_task(&record)
            .await
            .map_err(store_err)?;
        let cancel = Arc::new(AtomicBool::new(false));
        lock(&self.shared.tasks).insert(handle.clone(), Arc::clone(&cancel));
        let engine = self.clone();
        tokio::spawn(async move { engine.run_move(record, source, target, cancel).await });
        Ok(handle)
    }

    /// The queue an ARN of a move task names (`ResourceNotFoundException`).
    async fn move_endpoint(&self, arn: &str, param: &str) -> Result<String, SqsError> {
        let missing = || {
            SqsError::not_found(format!(
                "The resource that you specified for the {param} parameter doesn't exist."
            ))
        };
        let name = self.name_of_arn(arn).ok_or_else(missing)?;
        match self.queue(name).await {
            Ok(q) => Ok(q.name),
            Err(e) if e.code == "QueueDoesNotExist" => Err(missing()),
            Err(e) => Err(e),
        }
    }

    /// Every queue's name by ARN.
    async fn queue_names_by_arn(&self) -> Result<BTreeMap<String, String>, SqsError> {
        let all = self.store.list_queues().await.map_err(store_err)?;
        Ok(all
            .into_iter()
            .map(|q| (self.queue_arn(&q.name), q.name))
            .collect())
    }

    fn is_live(&self, handle: &str) -> bool {
        lock(&self.shared.tasks).contains_key(handle)
    }

    /// The task's loop: a step per second at the rate asked, else steps of
    /// [`UNLIMITED_STEP`] back to back, until everything that was there
    /// at the start moved, nothing more can move, or it is cancelled.
    async fn run_move(
        self,
        task: MoveTaskRecord,
        source: String,
        target: MoveTarget,
        cancel: Arc<AtomicBool>,
    ) {
        let step = task.max_per_second.map_or(UNLIMITED_STEP, |r| r as usize);
        let mut moved = 0u64;
        let outcome = loop {
            if cancel.load(Ordering::SeqCst) {
                break (CANCELLED, None);
            }
            let left = usize::try_from(task.to_move.saturating_sub(moved)).unwrap_or(usize::MAX);
            if left == 0 {
                break (COMPLETED, None);
            }
            match self
                .store
                .move_messages(&source, &target, step.min(left), now_ms())
                .await
            {
                Ok(0) => break (COMPLETED, None),
                Ok(n) => moved += n,
                Err(e) => break (FAILED, Some(format!("failed to move messages: {e}"))),
            }
            self.wake_targets(&target);
            if let Err(e) = self
                .store
                .update_move_task(&task.handle, RUNNING, moved, None)
                .await
            {
                tracing::warn!(error = %e, "failed to record a message move task's progress");
            }
            if task.max_per_second.is_some() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            } else {
                tokio::task::yield_now().await;
            }
        };
        let (status, reason) = outcome;
        if let Err(e) = self
            .store
            .update_move_task(&task.handle, status, moved, reason.as_deref())
            .await
        {
            tracing::warn!(error = %e, "failed to record a message move task's end");
        }
        lock(&self.shared.tasks).remove(&task.handle);
    }

    fn wake_targets(&self, target: &MoveTarget) {
        match target {
            MoveTarget::Queue(name) => self.wake(name),
            MoveTarget::Sources(names) => names.values().for_each(|n| self.wake(n)),
        }
    }

    /// The move tasks of a dead-letter queue, newest first, at most `max`.
    pub async fn list_move_tasks(
        &self,
        source_arn: &str,
        max: u32,
    ) -> Result<Vec<MoveTask>, SqsError> {
        if !(1..=MAX_LIST).contains(&max) {
            return Err(SqsError::invalid_parameter(format!(
                "Value {max} for parameter MaxResults is invalid. Reason: Must be between 1 and 10."
            )));
        }
        self.move_endpoint(source_arn, "SourceArn").await?;
        let tasks = self
            .store
            .list_move_tasks(source_arn, max as usize)
            .await
            .map_err(store_err)?;
        Ok(tasks.into_iter().map(|t| self.as_seen(t)).collect())
    }

    /// A stored task as it is now: one marked running or cancelling whose
    /// process is gone has failed.
    fn as_seen(&self, mut t: MoveTaskRecord) -> MoveTask {
        if (t.status == RUNNING || t.status == CANCELLING) && !self.is_live(&t.handle) {
            t.status = FAILED.to_string();
            t.failure_reason = Some("The task was interrupted by a restart of the service.".into());
        }
        task_of(t)
    }

    /// Cancels a running move task; how many messages it had moved.
    pub async fn cancel_move_task(&self, handle: &str) -> Result<u64, SqsError> {
        let task = self
            .store
            .get_move_task(handle)
            .await
            .map_err(store_err)?
            .ok_or_else(|| SqsError::not_found("The specified task handle doesn't exist."))?;
        let flag = lock(&self.shared.tasks).get(handle).cloned();
        let Some(flag) = flag.filter(|_| task.status == RUNNING) else {
            return Err(SqsError::invalid_parameter(
                "Only active tasks can be cancelled.",
            ));
        };
        flag.store(true, Ordering::SeqCst);
        self.store
            .update_move_task(handle, CANCELLING, task.moved, None)
            .await
            .map_err(store_err)?;
        Ok(task.moved)
    }
}
