//! Lambda's event source mappings for Ignis (see `docs/queues.md`, "Event
//! source mappings").
//!
//! - [`Mappings`] ([`service`]): `CreateEventSourceMapping`, `Get…`,
//!   `Update…`, `Delete…`, `List…` over [`ignis_store::MappingStore`],
//!   with Lambda's validation ([`validate`], [`filter`]) and its state
//!   machine ([`state`]). The HTTP edge (`ignis-api`) resolves the function
//!   and renders [`wire`]'s shapes.
//! - The [`supervisor::Supervisor`] starts and stops each mapping's
//!   pollers as its state says, and settles the state machine; a
//!   [`supervisor::Runner`] runs one kind of source: [`sqs::poller`] for
//!   Ignis's queues (the RabbitMQ consumer plugs in the same way).
#![deny(missing_docs)]

mod errors;
pub mod filter;
pub mod mapping;
mod records;
pub mod rmq;
pub mod service;
pub mod source;
pub mod sqs;
pub mod state;
pub mod supervisor;
pub mod validate;
pub mod wire;

pub use mapping::{FunctionTarget, Mapping};
pub use service::{FunctionFilter, Mappings};
pub use source::{Catalog, QueueFacts, Source};
pub use state::State;
pub use supervisor::{Runner, Supervisor};
