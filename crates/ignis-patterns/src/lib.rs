//! Event matching for Ignis: the JSON pattern language AWS uses in three
//! places, parsed once and matched many times, with no I/O (see
//! `docs/patterns.md`).
//!
//! - [`EventPattern`] — EventBridge rules (`PutRule`, `TestEventPattern`):
//!   the full language (exact values, `prefix`, `suffix`,
//!   `equals-ignore-case`, `wildcard`, `anything-but`, `numeric`, `exists`,
//!   `cidr`, `$or`, nested fields and arrays).
//! - [`lambda::Filters`] — an event source mapping's `FilterCriteria`: the
//!   same language as EventBridge Pipes has it, applied to the record, with
//!   Lambda's handling of the record's data field (`body` for SQS, `data`
//!   for MQ).
//! - [`sns::FilterPolicy`] — an SNS subscription's filter policy, on message
//!   attributes or on the message body.
//!
//! All three parse into one tree (module `ast`) checked by one parser whose
//! `Language` says which operators and limits apply, and are matched by one
//! matcher (module `matching`); the differences between the
//! services are the `Language`'s methods, not separate code paths.
//!
//! ```
//! use ignis_patterns::{lambda::Filters, sns, EventPattern};
//! use serde_json::json;
//!
//! let rule = EventPattern::parse(r#"{"source": ["aws.s3"], "detail": {"size": [{"numeric": [">", 10]}]}}"#)?;
//! assert!(rule.matches(&json!({"source": "aws.s3", "detail": {"size": 11}})));
//!
//! let filters = Filters::parse(&[r#"{"body": {"kind": ["order"]}}"#.to_string()]).expect("valid");
//! assert!(filters.matches_sqs(&json!({"messageId": "1", "body": "{\"kind\": \"order\"}"})));
//!
//! let policy = sns::FilterPolicy::parse(r#"{"store": [{"prefix": "ex"}]}"#, sns::FilterPolicyScope::MessageAttributes)?;
//! let attributes: sns::MessageAttributes = [("store", "String", "example_corp")].into_iter().collect();
//! assert!(policy.matches_attributes(&attributes));
//! # Ok::<(), ignis_patterns::PatternError>(())
//! ```
#![deny(missing_docs)]

mod ast;
mod cidr;
pub mod error;
pub mod eventbridge;
pub mod lambda;
mod matching;
mod parse;
pub mod sns;
mod text;

#[cfg(test)]
mod tests;

pub use error::PatternError;
pub use eventbridge::EventPattern;
