//! Queues and topics as destinations: the [`Sink`] seam.
//!
//! An invocation record whose destination is not a function, and a failed
//! event whose function names a dead-letter queue or topic, go to a
//! [`Sink`] the server plugs in ([`crate::AsyncInvoker::set_sink`]) over
//! the services that own those ARNs (SQS, SNS). The seam keeps this crate
//! free of them, and the same sink serves every other sender of messages to
//! an ARN (event source mappings' failure destinations, rule and schedule
//! targets).
//!
//! Delivery is at least once: the message is handed to the sink before the
//! event's row is deleted, so a crash between the two delivers it again.

use std::future::Future;
use std::pin::Pin;

/// A message for a queue or topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkMessage {
    /// The body.
    pub body: String,
    /// Message attributes: name, data type (`String` or `Number`), value.
    pub attributes: Vec<(String, &'static str, String)>,
}

/// Why a sink did not take a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// No service of this node owns the ARN's service.
    #[error("Ignis does not serve {0} destinations")]
    NotServed(String),
    /// The queue or topic is not there.
    #[error("{0} does not exist")]
    Missing(String),
    /// The service refused the message.
    #[error("{0}")]
    Refused(String),
}

/// The future a [`Sink`] answers with.
pub type Delivery<'a> = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

/// Delivers messages to queues and topics by ARN.
pub trait Sink: Send + Sync + 'static {
    /// Sends `message` to the queue or topic `arn`; durable when it returns
    /// `Ok` (the target service's own guarantee).
    fn deliver<'a>(&'a self, arn: &'a str, message: SinkMessage) -> Delivery<'a>;
}
