//! Ignis's object store: enough of S3 for the AWS CLI, boto3 and the SDKs.
//!
//! - [`op`]: a request, as plain values, read into one typed [`S3Op`]
//!   (path-style and virtual-host-style addressing).
//! - [`body`]: the request body as it streams in (plain or `aws-chunked`,
//!   with its checksums checked at the end).
//! - [`files`]: object bytes on disk, written atomically.
//! - [`S3`]: the operations, over an [`ignis_store::ObjectStore`] for
//!   metadata; each answers an [`S3Response`] whose body may be a file
//!   streamed by the front, or an [`S3Error`] rendered as REST-XML.
//! - [`notify`]: bucket notification configurations and the event records
//!   an object change commits with it, delivered by a dispatcher.
//! - [`encryption`] (SSE-S3 by default, KMS refused), `acl` (ACLs
//!   disabled, the owner's full control), `versions` (ListObjectVersions
//!   of unversioned buckets), `cors` (configurations, preflights) and
//!   [`lifecycle`] (configurations and the sweeper that applies them);
//!   [`website`]: static website hosting (configurations, the endpoint).
#![deny(missing_docs)]

mod acl;
pub mod body;
pub mod conditional;
mod cors;
pub mod digest;
pub mod encryption;
pub mod error;
pub mod files;
pub mod ingest;
pub mod lifecycle;
mod list;
pub mod meta;
mod multipart;
pub mod names;
pub mod notify;
mod objects;
pub mod op;
mod service;
#[cfg(test)]
mod service_tests;
mod setting;
pub mod unset;
mod versions;
pub mod website;
pub mod xml;

pub use body::{ByteStream, RequestBody};
pub use error::S3Error;
pub use op::{parse, S3Op, S3Request};
pub use service::{S3Config, S3};

use http::StatusCode;

/// An answer's body.
#[derive(Debug)]
pub enum ResponseBody {
    /// None.
    Empty,
    /// A document and its content type.
    Text(String, &'static str),
    /// Open files, each positioned, with the bytes to read from each, in
    /// order (a multipart object spans its parts' files).
    Files(Vec<(tokio::fs::File, u64)>),
}

/// An operation's answer.
#[derive(Debug)]
pub struct S3Response {
    /// The status.
    pub status: StatusCode,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: ResponseBody,
}

impl S3Response {
    /// 200 with an XML document.
    pub fn xml(doc: String) -> Self {
        Self {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: ResponseBody::Text(doc, "application/xml"),
        }
    }

    /// A status with no body.
    pub fn empty(status: StatusCode) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: ResponseBody::Empty,
        }
    }

    /// Adds a header.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}
