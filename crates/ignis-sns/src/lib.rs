//! Topics for Ignis: an SNS-compatible service (see `docs/queues.md`,
//! "Topics").
//!
//! The front authenticates a request, reads it into a
//! [`ignis_protocol::QueryRequest`], and then:
//!
//! ```text
//! let op = SnsOp::parse(&req)?;                        // typed, checked
//! authorize(caller, op.action(), op.resource(..), sns.topic_policy(..))?;
//! let answer = sns.execute(op, caller_account).await?; // QueryResponse
//! ```
//!
//! State lives behind [`ignis_store::SnsStore`]. A publish is answered
//! only once one delivery row per matching subscription (filter policies
//! applied with `ignis-patterns`) is committed; the dispatcher
//! ([`Sns::start`]) delivers the rows — asynchronous invocations for
//! `lambda`, queue messages for `sqs`, signed POSTs for `http`/`https` —
//! through the [`Targets`] seam and [`signer`], and resumes after a crash.
#![deny(missing_docs)]

pub mod attributes;
pub mod delivery_policy;
mod dispatch;
pub mod error;
pub mod message;
mod op;
pub mod params;
mod service;
pub mod signer;
pub mod targets;
pub mod topics;

pub use op::{topic_arn, BatchEntry, PublishInput, SnsOp, Tag, MAX_BATCH};
pub use service::{Sns, SnsConfig, MAX_MESSAGE_SIZE, SNS_NAMESPACE};
pub use targets::{QueueMessage, TargetError, Targets};
