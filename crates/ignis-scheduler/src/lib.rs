//! An EventBridge Scheduler-compatible service for Ignis (see
//! `docs/schedules.md`).
//!
//! - [`SchedulerOp`] — the API's operations, read from a request's method,
//!   path, query and body ([`wire`]); the front authorizes and renders.
//! - [`Scheduler`] — the operations over the store ([`ignis_store::schedules`]).
//! - The engine ([`Scheduler::run_due`], [`Scheduler::spawn_engine`]) —
//!   claims each due tick once in the store and hands it to a [`Deliver`]
//!   (the server's functions, queues and topics).
//! - [`Clock`] — time, injectable: [`SystemClock`] in the server,
//!   [`ManualClock`] in tests.

#![deny(missing_docs)]

mod clock;
mod engine;
mod error;
pub mod model;
mod service;
pub mod wire;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Deliver, DeliveryError, Outgoing};
pub use error::SchedulerError;
pub use service::{Scheduler, DEFAULT_GROUP};
pub use wire::SchedulerOp;
