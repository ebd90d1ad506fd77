//! [`SqsStore`]: the queue service's durable state — queues with their
//! attributes and tags, their messages, FIFO deduplication records and
//! message move tasks. SQS's validation, defaults and messages belong to
//! `ignis-sqs`; the store keeps rows and the invariants one transaction
//! must hold. Every method is one transaction: a message a send returned
//! for is committed.
//!
//! # Claim protocol (receive)
//!
//! - **Send**: each message is one row, `visible_at_ms` = sent time plus
//!   its delay, `receipt` unset; a batch is one transaction. FIFO messages
//!   take the queue's next sequence number, and a deduplication key seen in
//!   the last five minutes returns the first message's id instead of a row.
//! - **Claim** ([`SqsStore::claim`]): in one transaction, select the
//!   queue's visible rows (`visible_at_ms <= now`) in order —
//!   `(visible_at_ms, id)` for a standard queue; for a FIFO queue, of each
//!   message group with no message in flight, the visible prefix of the
//!   group in sequence order, groups ordered by their oldest message, so a
//!   batch may hold several messages of one group, in order — and for each:
//!   delete it if its retention passed (from the first send); move it to
//!   the dead-letter queue if its `receive_count` already reached the
//!   redrive policy's `maxReceiveCount` (a new row there, same message id,
//!   body, attributes and sent time, receive count reset, `dlq_source` set);
//!   otherwise deliver it: `visible_at_ms = now + visibility timeout`,
//!   `receipt` = a fresh random token, `receive_count + 1`,
//!   `first_receive_ms` if unset. Repeat until `limit` are delivered or none
//!   is left. SQLite has one writer, so the transaction is atomic against
//!   other claims. A PostgreSQL backend does the same in one statement per
//!   step: `UPDATE sqs_messages SET visible_at_ms = $now + $vis, receipt =
//!   $token, receive_count = receive_count + 1, first_receive_ms =
//!   COALESCE(first_receive_ms, $now) WHERE id IN (SELECT id FROM
//!   sqs_messages WHERE queue = $q AND visible_at_ms <= $now ORDER BY
//!   visible_at_ms, id LIMIT $n FOR UPDATE SKIP LOCKED) RETURNING …` (the
//!   expired and dead rows taken by the same locked select and deleted or
//!   moved first, in the same transaction); FIFO selects its candidates with
//!   window functions in an inner select (PostgreSQL refuses `FOR UPDATE`
//!   beside a window) and locks them in an outer `SELECT id … WHERE id IN
//!   (…) FOR UPDATE SKIP LOCKED`, so receivers on several nodes never take
//!   the same row, and a group's in-flight check sees committed claims only.
//! - **Delete / change visibility**: by row id and receipt token; a token
//!   that is not the row's latest (the message was received again since)
//!   changes nothing. A message whose visibility passed is claimable again:
//!   at least once, never lost.

use std::collections::BTreeMap;

use crate::store::StoreError;

/// A queue's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsQueueRecord {
    /// The name (`….fifo` for a FIFO queue).
    pub name: String,
    /// Every settable attribute, with its value or default.
    pub attributes: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Creation time, seconds since the Unix epoch.
    pub created_s: i64,
    /// Last attribute change, seconds since the Unix epoch.
    pub modified_s: i64,
}

/// A message to store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewMessage {
    /// The message id (a UUID).
    pub message_id: String,
    /// The body.
    pub body: String,
    /// Message attributes, encoded by the engine.
    pub attributes: Vec<u8>,
    /// System attributes, encoded by the engine.
    pub system_attributes: Vec<u8>,
    /// MD5 of the body, hex.
    pub md5_body: String,
    /// MD5 of the message attributes, hex.
    pub md5_attributes: Option<String>,
    /// MD5 of the system attributes, hex.
    pub md5_system: Option<String>,
    /// Who sent it.
    pub sender_id: String,
    /// When it was first sent, Unix epoch milliseconds.
    pub sent_ms: i64,
    /// When it becomes visible, Unix epoch milliseconds.
    pub visible_at_ms: i64,
    /// FIFO: the message group.
    pub group_id: Option<String>,
    /// FIFO: the deduplication id (as given or computed).
    pub dedup_id: Option<String>,
    /// FIFO: the deduplication key (the id, scoped) and when it expires,
    /// Unix epoch milliseconds.
    pub dedup: Option<(String, i64)>,
    /// The ARN of the queue a redrive moved it from.
    pub dlq_source: Option<String>,
}

/// What storing one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Stored; FIFO: its sequence number.
    Stored {
        /// The sequence number (FIFO queues).
        sequence: Option<i64>,
    },
    /// A FIFO duplicate within the deduplication window: the first
    /// message's id and sequence number; nothing stored.
    Duplicate {
        /// The first message's id.
        message_id: String,
        /// Its sequence number.
        sequence: Option<i64>,
    },
}

/// A stored message as a claim returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The row id.
    pub id: i64,
    /// The message id.
    pub message_id: String,
    /// The body.
    pub body: String,
    /// Message attributes as encoded.
    pub attributes: Vec<u8>,
    /// System attributes as encoded.
    pub system_attributes: Vec<u8>,
    /// MD5 of the body, hex.
    pub md5_body: String,
    /// MD5 of the message attributes, hex.
    pub md5_attributes: Option<String>,
    /// Who sent it.
    pub sender_id: String,
    /// First sent, Unix epoch milliseconds.
    pub sent_ms: i64,
    /// Receives so far, this one included.
    pub receive_count: u32,
    /// The first receive, Unix epoch milliseconds.
    pub first_receive_ms: Option<i64>,
    /// The token of this receive.
    pub receipt: String,
    /// FIFO: the message group.
    pub group_id: Option<String>,
    /// FIFO: the deduplication id.
    pub dedup_id: Option<String>,
    /// FIFO: the sequence number.
    pub sequence: Option<i64>,
    /// The ARN of the queue a redrive moved it from.
    pub dlq_source: Option<String>,
}

/// How to claim (see the module's claim protocol).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimSpec {
    /// Now, Unix epoch milliseconds.
    pub now_ms: i64,
    /// Deliver at most this many.
    pub limit: usize,
    /// Delivered messages are invisible until then, Unix epoch ms.
    pub visible_until_ms: i64,
    /// The receipt token of this receive.
    pub token: String,
    /// Messages first sent before this are dropped (retention), Unix epoch ms.
    pub expired_before_ms: i64,
    /// FIFO order (per message group).
    pub fifo: bool,
    /// The redrive policy: the dead-letter queue's name and
    /// `maxReceiveCount`.
    pub redrive: Option<(String, u32)>,
    /// This queue's ARN (the moved messages' `dlq_source`).
    pub source_arn: String,
}

/// What a claim did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Claimed {
    /// The messages delivered, in order.
    pub delivered: Vec<StoredMessage>,
    /// Messages moved to the dead-letter queue.
    pub moved: usize,
    /// Messages dropped as past their retention.
    pub expired: usize,
}

/// What a visibility change did to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisibilityOutcome {
    /// Changed.
    Changed,
    /// The handle is the message's latest, but it is not in flight.
    NotInFlight,
    /// No such message, or it was received again since (a newer handle).
    Gone,
}

/// What a delete did to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Deleted.
    Deleted,
    /// The message was received again since: a newer token; not deleted.
    Stale,
    /// The token is the latest but the message is no longer in flight (its
    /// visibility timeout passed); not deleted (asked only in flight).
    Expired,
    /// No such message (deleted already).
    Gone,
}

/// What a purge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeOutcome {
    /// The messages were deleted; how many.
    Purged(u64),
    /// A purge ran within the interval; nothing changed.
    InProgress,
    /// No such queue.
    NoQueue,
}

/// A queue's messages by state (at the time given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageCounts {
    /// Visible.
    pub visible: u64,
    /// Received and not visible again yet.
    pub in_flight: u64,
    /// Not visible yet, never received (delayed).
    pub delayed: u64,
}

/// A message move task's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveTaskRecord {
    /// The handle naming it.
    pub handle: String,
    /// The dead-letter queue's ARN.
    pub source_arn: String,
    /// Where messages go; `None`: each back to its `dlq_source`.
    pub destination_arn: Option<String>,
    /// Messages per second asked for.
    pub max_per_second: Option<u32>,
    /// `RUNNING`, `COMPLETED`, `CANCELLING`, `CANCELLED` or `FAILED`.
    pub status: String,
    /// Moved so far.
    pub moved: u64,
    /// To move when it started.
    pub to_move: u64,
    /// Start, Unix epoch milliseconds.
    pub started_ms: i64,
    /// Why it failed.
    pub failure_reason: Option<String>,
}

/// Where a move sends messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveTarget {
    /// Into this queue (by name).
    Queue(String),
    /// Each back to the queue its `dlq_source` ARN names; `names` maps
    /// those ARNs to queue names (ARNs not in it are left in place).
    Sources(BTreeMap<String, String>),
}

/// The queue service's durable state. Every method is one transaction.
#[async_trait::async_trait]
pub trait SqsStore: Send + Sync + 'static {
    /// Stores a queue unless one of its name exists; returns the queue of
    /// that name and whether this call created it.
    async fn create_queue(
        &self,
        queue: &SqsQueueRecord,
    ) -> Result<(SqsQueueRecord, bool), StoreError>;
    /// The queue of this name.
    async fn get_queue(&self, name: &str) -> Result<Option<SqsQueueRecord>, StoreError>;
    /// Every queue, by name.
    async fn list_queues(&self) -> Result<Vec<SqsQueueRecord>, StoreError>;
    /// Sets attributes (an empty value removes one) and the modified time;
    /// `false` without the queue.
    async fn set_queue_attributes(
        &self,
        name: &str,
        set: &BTreeMap<String, String>,
        modified_s: i64,
    ) -> Result<bool, StoreError>;
    /// Adds or replaces tags in `set` and removes those in `remove`;
    /// `false` without the queue.
    async fn tag_queue(
        &self,
        name: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<bool, StoreError>;
    /// Deletes a queue with its messages and deduplication records;
    /// `false` without the queue.
    async fn delete_queue(&self, name: &str) -> Result<bool, StoreError>;
    /// Deletes every message unless the last purge was less than
    /// `min_interval_ms` before `now_ms`.
    async fn purge_queue(
        &self,
        name: &str,
        now_ms: i64,
        min_interval_ms: i64,
    ) -> Result<PurgeOutcome, StoreError>;

    /// Stores messages in one transaction, in order. FIFO messages (with
    /// `group_id`) take increasing sequence numbers; one whose `dedup` key
    /// is recorded and not expired at `now_ms` is a duplicate. `None`
    /// without the queue.
    async fn send(
        &self,
        queue: &str,
        messages: &[NewMessage],
        now_ms: i64,
    ) -> Result<Option<Vec<SendOutcome>>, StoreError>;
    /// Claims messages to deliver (see the module's claim protocol).
    async fn claim(&self, queue: &str, spec: &ClaimSpec) -> Result<Claimed, StoreError>;
    /// The earliest time after `now_ms` a message of the queue becomes
    /// visible, if any.
    async fn next_visible_ms(&self, queue: &str, now_ms: i64) -> Result<Option<i64>, StoreError>;
    /// Deletes messages by `(row id, receipt token)`, per entry. Only the
    /// latest token deletes; with `in_flight_only` (FIFO queues) only while
    /// the message is in flight at `now_ms`.
    async fn delete_messages(
        &self,
        queue: &str,
        handles: &[(i64, String)],
        now_ms: i64,
        in_flight_only: bool,
    ) -> Result<Vec<DeleteOutcome>, StoreError>;
    /// Sets `visible_at_ms` of in-flight messages by `(row id, receipt
    /// token, visible_at_ms)`, per entry.
    async fn change_visibility(
        &self,
        queue: &str,
        entries: &[(i64, String, i64)],
        now_ms: i64,
    ) -> Result<Vec<VisibilityOutcome>, StoreError>;
    /// The queue's messages by state at `now_ms`.
    async fn message_counts(&self, queue: &str, now_ms: i64) -> Result<MessageCounts, StoreError>;

    /// Moves up to `limit` visible messages of `from` to `to` (receive
    /// count reset, `dlq_source` cleared, same id, body, attributes and
    /// sent time); how many moved.
    async fn move_messages(
        &self,
        from: &str,
        to: &MoveTarget,
        limit: usize,
        now_ms: i64,
    ) -> Result<u64, StoreError>;
    /// Stores a new move task.
    async fn create_move_task(&self, task: &MoveTaskRecord) -> Result<(), StoreError>;
    /// Updates a move task's status, count and failure reason; `false`
    /// without it.
    async fn update_move_task(
        &self,
        handle: &str,
        status: &str,
        moved: u64,
        failure_reason: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// The move task of this handle.
    async fn get_move_task(&self, handle: &str) -> Result<Option<MoveTaskRecord>, StoreError>;
    /// The move tasks of a source queue, newest first, at most `limit`.
    async fn list_move_tasks(
        &self,
        source_arn: &str,
        limit: usize,
    ) -> Result<Vec<MoveTaskRecord>, StoreError>;
}
