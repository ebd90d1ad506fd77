//! Queues for Ignis: an SQS-compatible service whose queues and messages
//! live in Ignis's store (see `docs/queues.md`).
//!
//! Two faces over one engine:
//!
//! - **The engine** ([`Sqs`]'s methods in [`engine`]): create and find
//!   queues, send, receive (with long polling), delete, change visibility —
//!   SQS's semantics (visibility timeout, delays, retention, redrive to a
//!   dead-letter queue after `maxReceiveCount`, FIFO group order and
//!   five-minute deduplication) over [`ignis_store::SqsStore`]. Event source
//!   mappings, SNS subscriptions, EventBridge targets and Lambda
//!   destinations call the engine directly, by queue name, never over HTTP.
//! - **The wire** ([`op`]): the SQS API as a typed enum [`SqsOp`], parsed
//!   from the JSON protocol (`X-Amz-Target: AmazonSQS.*`) or the older query
//!   protocol (`Action=…`), executed on the engine and rendered back in the
//!   protocol it came in. The front authenticates and authorizes; nothing
//!   here reads HTTP.
#![deny(missing_docs)]

pub mod attributes;
pub mod digest;
pub mod engine;
pub mod error;
pub mod execute;
mod message;
pub mod model;
pub mod names;
pub mod op;
mod receipt;
pub mod wire;

pub use engine::{MoveTask, Sqs};
pub use error::SqsError;
pub use execute::Origin;
pub use model::*;
pub use op::{SqsOp, SqsOutput};
