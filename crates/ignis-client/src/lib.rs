//! A typed async client of Ignis's HTTP API: the Lambda management and Invoke
//! operations (REST-JSON, exactly as AWS Lambda speaks them) and Ignis's own
//! logs endpoint. Every failure is a [`ClientError`] whose message fits on one
//! line, ready for a command line to print.
#![deny(missing_docs)]

mod backlog;
mod client;
mod error;
mod invoke;
mod logs;
mod request;
mod runtimes;

pub use backlog::AsyncBacklog;
pub use client::{Client, Credentials};
pub use error::ClientError;
pub use invoke::{InvocationType, InvokeOutput, InvokeRequest};
pub use logs::LogQuery;
pub use request::{CreateFunction, UpdateFunctionConfiguration, ZipCode};
