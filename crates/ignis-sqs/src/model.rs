//! The engine's vocabulary: what goes into a queue and what comes out,
//! independent of either wire protocol.

use std::collections::BTreeMap;

/// The largest message body plus attributes, bytes (SQS's current limit).
pub const MAX_MESSAGE_SIZE: usize = 1024 * 1024;

/// A message attribute's value (`DataType` is `String`, `Number` or
/// `Binary`, optionally followed by `.` and a custom label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeValue {
    /// `String`, `Number`, `Binary`, or one of them with a custom label
    /// (`Number.float`).
    pub data_type: String,
    /// The value of a `String` or `Number` attribute.
    pub string_value: Option<String>,
    /// The value of a `Binary` attribute (raw bytes, not base64).
    pub binary_value: Option<Vec<u8>>,
}

/// Message attributes by name, in name order (the order SQS's MD5 uses).
pub type MessageAttributes = BTreeMap<String, AttributeValue>;

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outgoing {
    /// The body, as given (XML-valid Unicode, checked by the engine).
    pub body: String,
    /// Seconds before the message can be received; `None`: the queue's
    /// `DelaySeconds`. FIFO queues refuse a per-message delay.
    pub delay_seconds: Option<u32>,
    /// Message attributes.
    pub attributes: MessageAttributes,
    /// System attributes (`AWSTraceHeader` is the only one SQS accepts).
    pub system_attributes: MessageAttributes,
    /// FIFO: the message group (required on a FIFO queue).
    pub group_id: Option<String>,
    /// FIFO: the deduplication id (else the body's SHA-256 when the queue
    /// has content-based deduplication, else refused).
    pub deduplication_id: Option<String>,
    /// Who sent it (the `SenderId` attribute: an account id or a
    /// principal's unique id).
    pub sender_id: String,
}

/// What a send answered, per message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The message id (a UUID; for a FIFO duplicate, the first message's).
    pub message_id: String,
    /// The MD5 of the body, hex.
    pub md5_of_body: String,
    /// The MD5 of the message attributes as SQS computes it, hex; `None`
    /// without attributes.
    pub md5_of_message_attributes: Option<String>,
    /// The MD5 of the system attributes, hex; `None` without them.
    pub md5_of_system_attributes: Option<String>,
    /// FIFO: the sequence number (128-bit, decimal, increasing per group).
    pub sequence_number: Option<String>,
}

/// How to receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receive {
    /// At most this many messages (1–10 on the wire; the engine accepts up
    /// to 10,000 for event source pollers).
    pub max_messages: u32,
    /// The visibility timeout for what is received; `None`: the queue's.
    pub visibility_timeout: Option<u32>,
    /// Longest wait for a first message, seconds (0–20); `None`: the
    /// queue's `ReceiveMessageWaitTimeSeconds`.
    pub wait_seconds: Option<u32>,
    /// FIFO: the receive request attempt id (a retried receive within five
    /// minutes gets the same messages).
    pub attempt_id: Option<String>,
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The message id.
    pub message_id: String,
    /// The handle for this receive (deletes and visibility changes name
    /// it; a later receive makes a new one).
    pub receipt_handle: String,
    /// The body.
    pub body: String,
    /// The MD5 of the body, hex.
    pub md5_of_body: String,
    /// The MD5 of the message attributes, hex; `None` without attributes.
    pub md5_of_message_attributes: Option<String>,
    /// Message attributes (all of them; the wire selects by name).
    pub message_attributes: MessageAttributes,
    /// System attributes, all of them (the wire selects): `SenderId`,
    /// `SentTimestamp`, `ApproximateReceiveCount`,
    /// `ApproximateFirstReceiveTimestamp`, and where they apply
    /// `MessageGroupId`, `MessageDeduplicationId`, `SequenceNumber`,
    /// `AWSTraceHeader`, `DeadLetterQueueSourceArn`.
    pub attributes: BTreeMap<String, String>,
}

/// A queue as the engine knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// The name (`…​.fifo` for a FIFO queue).
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// Its attributes as SQS names them, every settable one with its value
    /// or default (`VisibilityTimeout`, `RedrivePolicy`, `Policy`, …);
    /// computed ones (`ApproximateNumberOfMessages`, …) come from
    /// [`crate::Sqs::counts`].
    pub attributes: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// When it was created, seconds since the Unix epoch.
    pub created: i64,
    /// When its attributes last changed, seconds since the Unix epoch.
    pub last_modified: i64,
}

impl Queue {
    /// Whether it is a FIFO queue.
    pub fn is_fifo(&self) -> bool {
        self.name.ends_with(".fifo")
    }
}

/// A queue's message counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Messages available to receive.
    pub visible: u64,
    /// Messages received and not yet deleted or visible again.
    pub in_flight: u64,
    /// Messages not yet visible because of a delay.
    pub delayed: u64,
}

/// Why one entry of a batch failed (the batch itself succeeded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    /// SQS's code (`ReceiptHandleIsInvalid`, `InvalidParameterValue`, …).
    pub code: String,
    /// The message.
    pub message: String,
    /// The caller's fault.
    pub sender_fault: bool,
}
