//! The RabbitMQ event source (Lambda's Amazon MQ for RabbitMQ event source
//! mappings): where a broker ARN points ([`brokers`]), the credentials a
//! mapping's `BASIC_AUTH` secret names ([`secrets`]), the `aws:rmq` event
//! ([`event`], [`amqp`]), batching ([`batch`]) and the AMQP 0-9-1
//! consumer that runs one mapping ([`consumer`]). It knows nothing of the
//! mapping store or the router: the mapping's side is a
//! [`consumer::BatchHandler`]. Design: `docs/event-sources.md`.
#![deny(missing_docs)]

pub mod amqp;
pub mod arn;
pub mod batch;
pub mod brokers;
mod closes;
pub mod consumer;
pub mod event;
mod files;
pub mod locate;
pub mod secrets;
pub mod status;

pub use batch::{BatchLimits, MAX_EVENT_BYTES};
pub use consumer::{run, Backoff, BatchHandler, MappingSpec, Outcome};
pub use locate::Locator;
pub use status::{Problem, Status};
