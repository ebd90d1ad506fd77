//! AWS wire protocols, independent of any one service: which service and
//! operation a request names ([`recognize`]) and how each protocol shapes an
//! error ([`AwsError::render`]); the query protocol's requests and answers
//! ([`QueryRequest`], [`QueryResponse`]). The catalog of services and operations is
//! generated from botocore's models ([`catalog`]); nothing here does I/O.
//!
//! This is the seam of "one endpoint, many services" (DESIGN.md): the front
//! classifies a request with [`recognize`], hands it to the service that
//! serves it, and answers in that service's shape — including for services
//! and operations Ignis does not serve, so an SDK reports a clear error in
//! its own terms instead of failing to parse a Lambda error.
#![deny(missing_docs)]

/// The services and operations of botocore's models (generated).
pub mod catalog;
mod error;
pub mod eventstream;
mod query;
mod recognize;
mod rest;

pub use error::AwsError;
pub use query::{Members, QueryRequest, QueryResponse, XmlValue};
pub use recognize::{recognize, Recognized, RequestView};
pub use rest::match_rest;

/// The wire protocol of a service (botocore's `metadata.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// REST with JSON bodies; error type in `X-Amzn-ErrorType` (Lambda, Scheduler).
    RestJson,
    /// JSON RPC over `POST /` with `X-Amz-Target`; the JSON version (`1.0`, `1.1`).
    Json(&'static str),
    /// Form-encoded `Action=…` with XML answers (IAM, STS, SNS).
    Query,
    /// REST with XML bodies (S3).
    RestXml,
}

/// One AWS service the front can name.
#[derive(Debug, PartialEq, Eq)]
pub struct Service {
    /// The SigV4 signing name (the credential scope's service part).
    pub signing_name: &'static str,
    /// The short name the SDKs use (`SQS`, `CloudWatch Logs`).
    pub id: &'static str,
    /// The full name (`Amazon Simple Queue Service`).
    pub full_name: &'static str,
    /// Its wire protocol.
    pub protocol: Protocol,
    /// The `X-Amz-Target` prefix of a JSON-protocol service.
    pub target_prefix: Option<&'static str>,
    /// A JSON service that keeps its query-protocol error codes
    /// (`x-amzn-query-error`), as SQS does.
    pub query_compatible: bool,
    /// Its operations, where Ignis has the model.
    pub operations: Option<&'static [Operation]>,
}

impl Service {
    /// The service of this signing name.
    pub fn by_signing_name(name: &str) -> Option<&'static Service> {
        catalog::SERVICES.iter().find(|s| s.signing_name == name)
    }

    /// The JSON-protocol service of this `X-Amz-Target` prefix.
    pub fn by_target_prefix(prefix: &str) -> Option<&'static Service> {
        catalog::SERVICES
            .iter()
            .find(|s| s.target_prefix == Some(prefix))
    }

    /// The operation of this name, as the model spells it.
    pub fn operation(&self, name: &str) -> Option<&'static Operation> {
        self.operations?.iter().find(|o| o.name == name)
    }
}

/// One operation of a service; the HTTP binding only for REST protocols.
#[derive(Debug, PartialEq, Eq)]
pub struct Operation {
    /// The operation's name (`SendMessage`).
    pub name: &'static str,
    /// The HTTP method of a REST operation (empty otherwise).
    pub method: &'static str,
    /// The request URI template of a REST operation (`/{Bucket}/{Key+}?uploads`),
    /// with the input's required query-string members added as keys.
    pub uri: &'static str,
    /// The input's required headers, lower-case (`x-amz-copy-source`).
    pub headers: &'static [&'static str],
}

impl Operation {
    /// A REST operation.
    pub const fn rest(
        name: &'static str,
        method: &'static str,
        uri: &'static str,
        headers: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            method,
            uri,
            headers,
        }
    }

    /// An RPC operation (JSON or query protocol): a name only.
    pub const fn named(name: &'static str) -> Self {
        Self {
            name,
            method: "",
            uri: "",
            headers: &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_names_the_services_of_the_models() {
        let sqs = Service::by_signing_name("sqs").unwrap();
        assert_eq!(sqs.protocol, Protocol::Json("1.0"));
        assert!(sqs.query_compatible);
        assert!(sqs.operation("SendMessage").is_some());
        assert_eq!(
            Service::by_target_prefix("Logs_20140328").unwrap().id,
            "CloudWatch Logs"
        );
        let lambda = Service::by_signing_name("lambda").unwrap();
        assert_eq!(lambda.protocol, Protocol::RestJson);
        let invoke = lambda.operation("Invoke").unwrap();
        assert_eq!(
            (invoke.method, invoke.uri),
            ("POST", "/2015-03-31/functions/{FunctionName}/invocations")
        );
        assert_eq!(
            Service::by_signing_name("s3").unwrap().protocol,
            Protocol::RestXml
        );
        assert_eq!(
            Service::by_signing_name("iam").unwrap().protocol,
            Protocol::Query
        );
    }
}
