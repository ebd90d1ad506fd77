//! The seam to what rules deliver to: functions (asynchronous invocations
//! on the durable queue), queues and topics. The server implements it
//! over `ignis_events::AsyncInvoker` and its queue and topic services;
//! tests implement it in memory. Event buses are this service's own.
//!
//! In `enforce` mode a delivery needs the target's resource policy to
//! allow `events.amazonaws.com` (`lambda:InvokeFunction`,
//! `sqs:SendMessage`, `sns:Publish`, with `aws:SourceArn` the rule), as
//! AWS does; a refused delivery is a client error (to the dead-letter
//! queue, if any).

/// Why a delivery did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// The target refused it for good (no such function or queue, too
    /// large): not retried; to the dead-letter queue if any.
    Client(String),
    /// It may go through later (a store failure): retried.
    Server(String),
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Client(m) | Self::Server(m) => f.write_str(m),
        }
    }
}

/// A message for a queue or topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The body.
    pub body: String,
    /// String message attributes (a dead-letter message's `RULE_ARN`, …).
    pub attributes: Vec<(String, String)>,
    /// FIFO queue: the message group.
    pub group_id: Option<String>,
    /// FIFO queue: the deduplication id (the event's id).
    pub dedup_id: Option<String>,
}

/// Where deliveries go.
#[async_trait::async_trait]
pub trait Targets: Send + Sync + 'static {
    /// Queues an asynchronous invocation of the function `function_arn`
    /// (qualified or not) with `payload`; `Client` if there is no such
    /// function.
    async fn invoke(&self, function_arn: &str, payload: Vec<u8>) -> Result<(), TargetError>;
    /// Sends `message` to the queue or topic `arn`.
    async fn send(&self, arn: &str, message: Message) -> Result<(), TargetError>;
    /// The resource policy of the function, queue or topic `arn`, if it
    /// has one (`enforce` mode checks it lets `events.amazonaws.com`
    /// deliver); `Client` when there is no such resource.
    async fn policy(&self, arn: &str) -> Result<Option<String>, TargetError>;
}
