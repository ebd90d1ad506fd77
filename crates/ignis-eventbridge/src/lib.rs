//! Event rules for Ignis: an EventBridge-compatible service (see
//! `docs/eventbridge.md`).
//!
//! The front authenticates a request whose `X-Amz-Target` is
//! `AWSEvents.<Operation>` and then:
//!
//! ```text
//! let op = EventsOp::parse(operation, &body)?;        // typed, checked
//! authorize(caller, op.action(), op.resource(region, account))?;
//! let output = events.execute(op).await?;              // JSON output
//! ```
//!
//! State lives behind [`ignis_store::EventBusStore`]. PutEvents answers
//! only once one delivery row per matching rule target (patterns matched
//! with `ignis-patterns`, input transformed) is committed; scheduled rules
//! (`ignis-schedule`) commit theirs per tick. The dispatcher
//! ([`EventBridge::start`]) delivers the rows — asynchronous invocations
//! for functions, messages for queues and topics through the [`Targets`]
//! seam, events for other buses — with the targets' retry policies and
//! dead-letter queues, and resumes after a crash.
#![deny(missing_docs)]

mod delivery;
mod dispatch;
pub mod error;
pub mod event;
pub mod names;
mod op;
pub mod path;
mod schedule;
mod service;
pub mod target;
pub mod targets;

pub use op::{EventEntry, EventsOp, PutRuleInput, Tag, SERVED};
pub use service::{Clock, EventBridge, EventBridgeConfig, SystemClock};
pub use targets::{Message, TargetError, Targets};
