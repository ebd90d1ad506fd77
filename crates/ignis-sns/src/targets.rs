//! The seam to what deliveries reach: functions (asynchronous invocations
//! on the durable queue) and queues (Ignis's SQS engine). The server
//! implements it over `ignis_events::AsyncInvoker`, the function store and
//! `ignis_sqs::Sqs`; tests implement it in memory.

use crate::attributes::MessageAttributes;

/// Why a delivery did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// The endpoint refused it for good (no such function or queue, not
    /// allowed, too large): not retried; to the dead-letter queue if any.
    Client(String),
    /// It may go through later (a store failure, an HTTP 5xx): retried.
    Server(String),
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Client(m) | Self::Server(m) => f.write_str(m),
        }
    }
}

/// A message for a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// The body.
    pub body: String,
    /// Message attributes (raw delivery only), SNS's types: the target
    /// maps `String.Array` to a `String` and decodes binaries.
    pub attributes: MessageAttributes,
    /// FIFO: the message group.
    pub group_id: Option<String>,
    /// FIFO: the deduplication id.
    pub dedup_id: Option<String>,
}

/// Where deliveries go.
#[async_trait::async_trait]
pub trait Targets: Send + Sync + 'static {
    /// Queues an asynchronous invocation of the function `function_arn`
    /// (qualified or not) with `payload`.
    async fn invoke(&self, function_arn: &str, payload: Vec<u8>) -> Result<(), TargetError>;
    /// The resource policy of the function `function_arn`, if it has one.
    async fn function_policy(&self, function_arn: &str) -> Result<Option<String>, TargetError>;
    /// The `Policy` of the queue `queue_arn`, if it has one
    /// (`Client` when there is no such queue).
    async fn queue_policy(&self, queue_arn: &str) -> Result<Option<String>, TargetError>;
    /// Sends `message` to the queue `queue_arn`.
    async fn send(&self, queue_arn: &str, message: QueueMessage) -> Result<(), TargetError>;
}
