//! The engine: SQS's semantics over [`SqsStore`], by queue name.
//!
//! Queues' attributes are read through a short-lived cache (invalidated by
//! this engine's own changes), so a send or receive is one store
//! transaction. Long polls wait on a per-queue [`Notify`] that sends and
//! visibility changes of this process ring, and on a timer for the next
//! message to become visible, with a periodic re-check for writers in other
//! processes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ignis_store::sqs::{
    ClaimSpec, NewMessage, PurgeOutcome, SendOutcome, SqsQueueRecord, StoredMessage,
};
use ignis_store::{SqsStore, StoreError};
use tokio::sync::Notify;

use crate::attributes::Settings;
use crate::digest;
use crate::error::SqsError;
use crate::message;
use crate::model::{Counts, Delivered, EntryError, Outgoing, Queue, Receive, Sent};
use crate::names;
use crate::receipt;

mod move_task;
mod queues;

/// How long a queue's attributes are cached (other processes' changes show
/// after this).
const QUEUE_CACHE_TTL: Duration = Duration::from_secs(1);
/// A long poll re-checks the store at least this often (sends from other
/// processes do not ring this process's [`Notify`]).
const RECHECK: Duration = Duration::from_secs(1);
/// FIFO deduplication and receive-attempt window.
const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;
/// The most messages one receive returns (event source pollers).
pub const MAX_RECEIVE: u32 = 10_000;
/// The longest long poll, seconds.
const MAX_WAIT_SECONDS: u32 = 20;
/// The longest visibility timeout, seconds.
const MAX_VISIBILITY: u32 = 43_200;
/// The longest per-message delay, seconds.
const MAX_DELAY: u32 = 900;
/// FIFO sequence numbers are rendered from this base (SQS's are 20 digits).
const SEQUENCE_BASE: u128 = 18_000_000_000_000_000_000;

/// The queue service's engine. Cheap to clone (shared state behind `Arc`).
#[derive(Clone)]
pub struct Sqs {
    store: Arc<dyn SqsStore>,
    region: Arc<str>,
    shared: Arc<Shared>,
}

/// A cached queue: when it was read, the queue, its settings.
type CachedQueue = (Instant, Arc<Queue>, Arc<Settings>);
/// A FIFO receive attempt: when, and what it got.
type Attempt = (Instant, Vec<Delivered>);

/// State shared by the engine's clones (no lock is held across an await).
#[derive(Default)]
struct Shared {
    /// Queues' records and settings, with when they were read.
    queues: Mutex<HashMap<String, CachedQueue>>,
    /// Per-queue wake-ups for long polls.
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
    /// FIFO receive attempts: `(queue, attempt id)` → when, and what it got.
    attempts: Mutex<HashMap<(String, String), Attempt>>,
    /// Move tasks running in this process: handle → cancel flag.
    tasks: Mutex<HashMap<String, Arc<std::sync::atomic::AtomicBool>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A message move task (`StartMessageMoveTask`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveTask {
    /// The handle naming it.
    pub handle: String,
    /// `RUNNING`, `COMPLETED`, `CANCELLING`, `CANCELLED` or `FAILED`.
    pub status: String,
    /// The dead-letter queue's ARN.
    pub source_arn: String,
    /// Where messages go; `None`: each back to the queue it came from.
    pub destination_arn: Option<String>,
    /// The rate asked for, messages per second.
    pub max_per_second: Option<u32>,
    /// Moved so far.
    pub moved: u64,
    /// Messages to move when it started.
    pub to_move: u64,
    /// When it started, milliseconds since the Unix epoch.
    pub started_ms: i64,
    /// Why it failed, if it did.
    pub failure_reason: Option<String>,
}

/// Now, milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn store_err(e: StoreError) -> SqsError {
    tracing::error!(error = %e, "queue store failed");
    SqsError::internal(format!("the queue store failed: {e}"))
}

fn entry_invalid(message: impl Into<String>) -> EntryError {
    EntryError {
        code: "InvalidParameterValue".into(),
        message: message.into(),
        sender_fault: true,
    }
}

fn queue_of(region: &str, r: SqsQueueRecord) -> Queue {
    Queue {
        arn: names::arn(region, &r.name),
        name: r.name,
        attributes: r.attributes,
        tags: r.tags,
        created: r.created_s,
        last_modified: r.modified_s,
    }
}

impl Sqs {
    /// The engine over `store`, naming queues in `region`.
    pub fn new(store: Arc<dyn SqsStore>, region: impl Into<Arc<str>>) -> Self {
        Self {
            store,
            region: region.into(),
            shared: Arc::default(),
        }
    }

    /// The region queues are named in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The ARN of the queue `name`.
    pub fn queue_arn(&self, name: &str) -> String {
        names::arn(&self.region, name)
    }

    /// The queue name an ARN of this region and account names, if it names one.
    pub fn name_of_arn<'a>(&self, arn: &'a str) -> Option<&'a str> {
        names::name_of_arn(&self.region, arn)
    }

    /// The queue `name` and its settings, from the cache or the store.
    async fn lookup(&self, name: &str) -> Result<(Arc<Queue>, Arc<Settings>), SqsError> {
        if let Some((at, q, s)) = lock(&self.shared.queues).get(name) {
            if at.elapsed() < QUEUE_CACHE_TTL {
                return Ok((Arc::clone(q), Arc::clone(s)));
            }
        }
        let record = self.store.get_queue(name).await.map_err(store_err)?;
        let Some(record) = record else {
            self.forget(name);
            return Err(SqsError::no_queue());
        };
        let settings = Arc::new(Settings::of(&record.attributes));
        let queue = Arc::new(queue_of(&self.region, record));
        lock(&self.shared.queues).insert(
            name.to_string(),
            (Instant::now(), Arc::clone(&queue), Arc::clone(&settings)),
        );
        Ok((queue, settings))
    }

    /// Drops a queue from the cache (after a change).
    fn forget(&self, name: &str) {
        lock(&self.shared.queues).remove(name);
    }

    /// The wake-up of long polls on `queue`.
    fn waker(&self, queue: &str) -> Arc<Notify> {
        Arc::clone(
            lock(&self.shared.wakers)
                .entry(queue.to_string())
                .or_default(),
        )
    }

    /// Wakes the long polls on `queue`.
    fn wake(&self, queue: &str) {
        if let Some(n) = lock(&self.shared.wakers).get(queue) {
            n.notify_waiters();
        }
    }

    /// The queue `name` (`QueueDoesNotExist` if there is none).
    pub async fn queue(&self, name: &str) -> Result<Queue, SqsError> {
        self.forget(name);
        Ok(Queue::clone(&self.lookup(name).await?.0))
    }

    /// The queue an ARN names (`QueueDoesNotExist` if there is none).
    pub async fn queue_by_arn(&self, arn: &str) -> Result<Queue, SqsError> {
        let name = self.name_of_arn(arn).ok_or_else(SqsError::no_queue)?;
        self.queue(name).await
    }

    /// The queue's message counts now.
    pub async fn counts(&self, name: &str) -> Result<Counts, SqsError> {
        self.lookup(name).await?;
        let c = self
            .store
            .message_counts(name, now_ms())
            .await
            .map_err(store_err)?;
        Ok(Counts {
            visible: c.visible,
            in_flight: c.in_flight,
            delayed: c.delayed,
        })
    }

    /// Deletes every message (`PurgeQueueInProgress` within 60 s of the last).
    pub async fn purge_queue(&self, name: &str) -> Result<(), SqsError> {
        match self
            .store
            .purge_queue(name, now_ms(), 60_000)
            .await
            .map_err(store_err)?
        {
            PurgeOutcome::Purged(_) => Ok(()),
            PurgeOutcome::NoQueue => Err(SqsError::no_queue()),
            PurgeOutcome::InProgress => Err(SqsError {
                status: http::StatusCode::FORBIDDEN,
                ..SqsError::sender(
                    "PurgeQueueInProgress",
                    format!("Only one PurgeQueue operation on {name} is allowed every 60 seconds."),
                )
            }),
        }
    }

    /// Sends up to 10 messages (the engine accepts more for internal
    /// senders), each durable before this returns; per-entry errors for
    /// entries refused on their own (size, attributes, FIFO ids).
    pub async fn send(
        &self,
        queue: &str,
        messages: Vec<Outgoing>,
    ) -> Result<Vec<Result<Sent, EntryError>>, SqsError> {
        let (q, settings) = self.lookup(queue).await?;
        let now = now_ms();
        let mut results: Vec<Result<Sent, EntryError>> = Vec::with_capacity(messages.len());
        let mut rows = Vec::with_capacity(messages.len());
        for m in messages {
            match self.prepare(&m, q.is_fifo(), &settings, now) {
                Ok((row, sent)) => {
                    results.push(Ok(sent));
                    rows.push(row);
                }
                Err(e) => results.push(Err(e)),
            }
        }
        if rows.is_empty() {
            return Ok(results);
        }
        let outcomes = self
            .store
            .send(queue, &rows, now)
            .await
            .map_err(store_err)?;
        let Some(outcomes) = outcomes else {
            self.forget(queue);
            return Err(SqsError::no_queue());
        };
        let mut outcomes = outcomes.into_iter();
        for sent in results.iter_mut().filter_map(|r| r.as_mut().ok()) {
            match outcomes.next() {
                Some(SendOutcome::Stored { sequence }) => {
                    sent.sequence_number = sequence.map(render_sequence);
                }
                Some(SendOutcome::Duplicate {
                    message_id,
                    sequence,
                }) => {
                    sent.message_id = message_id;
                    sent.sequence_number = sequence.map(render_sequence);
                }
                None => {}
            }
        }
        self.wake(queue);
        Ok(results)
    }

    /// Checks one message and builds its row and answer.
    fn prepare(
        &self,
        m: &Outgoing,
        fifo: bool,
        settings: &Settings,
        now: i64,
    ) -> Result<(NewMessage, Sent), EntryError> {
        message::check(m, fifo, settings.max_message_size)?;
        let delay = m.delay_seconds.unwrap_or(settings.delay_seconds);
        if delay > MAX_DELAY {
            return Err(entry_invalid(format!(
                "Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
            )));
        }
        let dedup_id = if fifo {
            match (&m.deduplication_id, settings.content_based_dedup) {
                (Some(id), _) => Some(id.clone()),
                (None, true) => Some(digest::sha256_hex(m.body.as_bytes())),
                (None, false) => {
                    return Err(entry_invalid(
                        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                    ))
                }
            }
        } else {
            None
        };
        let dedup = dedup_id.as_ref().map(|id| {
            let key = match (&m.group_id, settings.dedup_per_group) {
                (Some(group), true) => format!("{group}\n{id}"),
                _ => id.clone(),
            };
            (key, now + DEDUP_WINDOW_MS)
        });
        let message_id = uuid::Uuid::new_v4().to_string();
        let md5_body = digest::md5_hex(m.body.as_bytes());
        let md5_attributes = digest::attributes_md5(&m.attributes);
        let md5_system = digest::attributes_md5(&m.system_attributes);
        let row = NewMessage {
            message_id: message_id.clone(),
            body: m.body.clone(),
            attributes: digest::encode(&m.attributes),
            system_attributes: digest::encode(&m.system_attributes),
            md5_body: md5_body.clone(),
            md5_attributes: md5_attributes.clone(),
            md5_system: md5_system.clone(),
            sender_id: m.sender_id.clone(),
            sent_ms: now,
            visible_at_ms: now + i64::from(delay) * 1000,
            group_id: m.group_id.clone(),
            dedup_id,
            dedup,
            dlq_source: None,
        };
        let sent = Sent {
            message_id,
            md5_of_body: md5_body,
            md5_of_message_attributes: md5_attributes,
            md5_of_system_attributes: md5_system,
            sequence_number: None,
        };
        Ok((row, sent))
    }

    /// Receives messages, waiting up to the wait time for a first one
    /// (woken by sends to this queue, not by polling the store in a tight
    /// loop). Messages past `maxReceiveCount` go to the dead-letter queue
    /// in the same transaction instead of being delivered; expired ones
    /// (retention) are dropped. Dropping the future cancels the wait.
    pub async fn receive(&self, queue: &str, receive: Receive) -> Result<Vec<Delivered>, SqsError> {
        let (q, settings) = self.lookup(queue).await?;
        check_receive(&receive)?;
        let attempt = receive
            .attempt_id
            .as_ref()
            .filter(|_| q.is_fifo())
            .map(|id| (queue.to_string(), id.clone()));
        if let Some(key) = &attempt {
            if let Some(earlier) = self.earlier_attempt(key) {
                return Ok(earlier);
            }
        }
        let wait = Duration::from_secs(u64::from(
            receive.wait_seconds.unwrap_or(settings.wait_seconds),
        ));
        let deadline = tokio::time::Instant::now() + wait;
        let visibility = receive
            .visibility_timeout
            .unwrap_or(settings.visibility_timeout);
        let waker = self.waker(queue);
        loop {
            let notified = waker.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let waiting = tokio::time::Instant::now() < deadline;
            let (delivered, next_visible) = self
                .claim_once(&q, &settings, receive.max_messages, visibility, waiting)
                .await?;
            let now = tokio::time::Instant::now();
            if !delivered.is_empty() || now >= deadline {
                if let Some(key) = attempt {
                    lock(&self.shared.attempts).insert(key, (Instant::now(), delivered.clone()));
                }
                return Ok(delivered);
            }
            let mut wake_at = deadline.min(now + RECHECK);
            if let Some(at) = next_visible {
                let in_ms = u64::try_from(at - now_ms()).unwrap_or(0);
                wake_at = wake_at.min(now + Duration::from_millis(in_ms));
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    /// The messages an earlier FIFO receive with this attempt id got, if
    /// it was within five minutes.
    fn earlier_attempt(&self, key: &(String, String)) -> Option<Vec<Delivered>> {
        let mut attempts = lock(&self.shared.attempts);
        let window = Duration::from_millis(DEDUP_WINDOW_MS as u64);
        attempts.retain(|_, (at, _)| at.elapsed() < window);
        attempts.get(key).map(|(_, d)| d.clone())
    }

    /// One claim: the delivered messages and, when none and the caller
    /// will wait (`waiting`), when the next message becomes visible.
    async fn claim_once(
        &self,
        q: &Queue,
        settings: &Settings,
        max: u32,
        visibility: u32,
        waiting: bool,
    ) -> Result<(Vec<Delivered>, Option<i64>), SqsError> {
        let now = now_ms();
        let redrive = settings.redrive.as_ref().and_then(|r| {
            self.name_of_arn(&r.target_arn)
                .map(|n| (n.to_string(), r.max_receive_count))
        });
        let spec = ClaimSpec {
            now_ms: now,
            limit: max as usize,
            visible_until_ms: now + i64::from(visibility) * 1000,
            token: receipt::new_token(),
            expired_before_ms: now - i64::from(settings.retention_seconds) * 1000,
            fifo: q.is_fifo(),
            redrive: redrive.clone(),
            source_arn: q.arn.clone(),
        };
        let claimed = self.store.claim(&q.name, &spec).await.map_err(store_err)?;
        if claimed.moved > 0 {
            if let Some((dlq, _)) = &redrive {
                self.wake(dlq);
            }
        }
        if claimed.expired > 0 || claimed.moved > 0 {
            tracing::debug!(queue = %q.name, expired = claimed.expired, moved = claimed.moved, "receive dropped or redrove messages");
        }
        let next = if claimed.delivered.is_empty() && waiting {
            self.store
                .next_visible_ms(&q.name, now)
                .await
                .map_err(store_err)?
        } else {
            None
        };
        let delivered = claimed
            .delivered
            .into_iter()
            .map(|m| self.delivered(&q.name, m))
            .collect();
        Ok((delivered, next))
    }

    /// A claimed row as a received message.
    fn delivered(&self, queue: &str, m: StoredMessage) -> Delivered {
        let message_attributes = digest::decode(&m.attributes).unwrap_or_default();
        let system = digest::decode(&m.system_attributes).unwrap_or_default();
        let mut attributes = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            attributes.insert(k.to_string(), v);
        };
        put("SenderId", m.sender_id);
        put("SentTimestamp", m.sent_ms.to_string());
        put("ApproximateReceiveCount", m.receive_count.to_string());
        put(
            "ApproximateFirstReceiveTimestamp",
            m.first_receive_ms.unwrap_or(m.sent_ms).to_string(),
        );
        if let Some(g) = m.group_id {
            put("MessageGroupId", g);
        }
        if let Some(d) = m.dedup_id {
            put("MessageDeduplicationId", d);
        }
        if let Some(s) = m.sequence {
            put("SequenceNumber", render_sequence(s));
        }
        if let Some(trace) = system
            .get("AWSTraceHeader")
            .and_then(|v| v.string_value.clone())
        {
            put("AWSTraceHeader", trace);
        }
        if let Some(source) = m.dlq_source {
            put("DeadLetterQueueSourceArn", source);
        }
        Delivered {
            receipt_handle: receipt::encode(queue, m.id, &m.receipt),
            message_id: m.message_id,
            body: m.body,
            md5_of_body: m.md5_body,
            md5_of_message_attributes: m.md5_attributes,
            message_attributes,
            attributes,
        }
    }

    /// Parses a receipt handle of `queue`.
    fn parse_handle(queue: &str, handle: &str) -> Result<receipt::Receipt, EntryError> {
        match receipt::decode(handle) {
            Some(r) if r.queue == queue => Ok(r),
            _ => {
                let e = SqsError::bad_receipt_handle(handle);
                Err(EntryError {
                    code: e.code.to_string(),
                    message: e.message,
                    sender_fault: true,
                })
            }
        }
    }

    /// Deletes received messages by receipt handle, per entry. On a
    /// standard queue a stale handle (the message was received again
    /// since) succeeds and deletes nothing, as SQS; on a FIFO queue a handle
    /// that is stale or whose visibility timeout passed is refused ("The
    /// receipt handle has expired"). A message already deleted is success.
    pub async fn delete(
        &self,
        queue: &str,
        receipt_handles: &[String],
    ) -> Result<Vec<Result<(), EntryError>>, SqsError> {
        use ignis_store::sqs::DeleteOutcome;
        let (q, _) = self.lookup(queue).await?;
        let mut results: Vec<Result<(), EntryError>> = receipt_handles
            .iter()
            .map(|h| Self::parse_handle(queue, h).map(|_| ()))
            .collect();
        let valid: Vec<(i64, String)> = receipt_handles
            .iter()
            .filter_map(|h| Self::parse_handle(queue, h).ok())
            .map(|r| (r.id, r.token))
            .collect();
        if valid.is_empty() {
            return Ok(results);
        }
        let outcomes = self
            .store
            .delete_messages(queue, &valid, now_ms(), q.is_fifo())
            .await
            .map_err(store_err)?;
        let mut outcomes = outcomes.into_iter();
        for (result, handle) in results.iter_mut().zip(receipt_handles) {
            if result.is_err() {
                continue;
            }
            let expired = match outcomes.next() {
                Some(DeleteOutcome::Expired) => true,
                Some(DeleteOutcome::Stale) => q.is_fifo(),
                _ => false,
            };
            if expired {
                *result = Err(entry_invalid(format!(
                    "Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
                )));
            }
        }
        Ok(results)
    }

    /// Changes received messages' visibility timeouts (seconds from now,
    /// 0–43,200), per entry.
    pub async fn change_visibility(
        &self,
        queue: &str,
        entries: &[(String, u32)],
    ) -> Result<Vec<Result<(), EntryError>>, SqsError> {
        use ignis_store::sqs::VisibilityOutcome;
        self.lookup(queue).await?;
        let now = now_ms();
        let mut results: Vec<Result<(), EntryError>> = Vec::with_capacity(entries.len());
        let mut rows = Vec::new();
        for (handle, seconds) in entries {
            if *seconds > MAX_VISIBILITY {
                results.push(Err(entry_invalid(format!(
                    "Value {seconds} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."
                ))));
                continue;
            }
            match Self::parse_handle(queue, handle) {
                Ok(r) => {
                    rows.push((r.id, r.token, now + i64::from(*seconds) * 1000));
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        let outcomes = if rows.is_empty() {
            Vec::new()
        } else {
            self.store
                .change_visibility(queue, &rows, now)
                .await
                .map_err(store_err)?
        };
        let mut outcomes = outcomes.into_iter();
        for (result, (handle, _)) in results.iter_mut().zip(entries) {
            if result.is_err() {
                continue;
            }
            match outcomes.next() {
                Some(VisibilityOutcome::Changed) | None => {}
                Some(VisibilityOutcome::NotInFlight) => {
                    *result = Err(EntryError {
                        code: "MessageNotInflight".into(),
                        message: "The message referred to isn't in flight.".into(),
                        sender_fault: true,
                    });
                }
                Some(VisibilityOutcome::Gone) => {
                    *result = Err(entry_invalid(format!(
                        "Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."
                    )));
                }
            }
        }
        if entries.iter().any(|(_, s)| *s == 0) {
            self.wake(queue);
        }
        Ok(results)
    }
}

/// Checks a receive's numbers.
fn check_receive(r: &Receive) -> Result<(), SqsError> {
    if !(1..=MAX_RECEIVE).contains(&r.max_messages) {
        return Err(SqsError::invalid_parameter(format!(
            "Value {} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.",
            r.max_messages
        )));
    }
    if let Some(v) = r.visibility_timeout.filter(|v| *v > MAX_VISIBILITY) {
        return Err(SqsError::invalid_parameter(format!(
            "Value {v} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."
        )));
    }
    if let Some(w) = r.wait_seconds.filter(|w| *w > MAX_WAIT_SECONDS) {
        return Err(SqsError::invalid_parameter(format!(
            "Value {w} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
        )));
    }
    Ok(())
}

/// A FIFO sequence number as SQS renders it (a large decimal).
fn render_sequence(n: i64) -> String {
    (SEQUENCE_BASE + u128::try_from(n).unwrap_or(0)).to_string()
}

#[cfg(test)]
mod tests;
