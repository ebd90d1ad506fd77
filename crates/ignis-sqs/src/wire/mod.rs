//! SQS on the wire: the JSON protocol (`X-Amz-Target: AmazonSQS.<Op>`,
//! `application/x-amz-json-1.0`) and the older query protocol
//! (`Action=<Op>&QueueUrl=…&Attribute.1.Name=…`, XML answers). Both parse
//! into one [`SqsOp`] — a query request is first turned into the JSON
//! protocol's input ([`query::to_json`]) and read by the same reader — and
//! an [`SqsOutput`] or [`SqsError`] is rendered back in the protocol the
//! request came in. Errors carry both codes SQS has: the JSON protocol's
//! `__type` (`com.amazonaws.sqs#QueueDoesNotExist`) with the query code in
//! `x-amzn-query-error` (`AWS.SimpleQueueService.NonExistentQueue;Sender`),
//! and the query protocol's `<Code>` (the query code).

pub mod input;
pub mod json;
pub mod query;

use bytes::Bytes;
use http::{HeaderValue, Response};
use ignis_protocol::{AwsError, Protocol, Service};

use crate::error::SqsError;
use crate::op::{SqsOp, SqsOutput};

/// The query protocol's XML namespace of SQS.
pub const XML_NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// Which of SQS's two protocols a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireProtocol {
    /// JSON 1.0 with `X-Amz-Target: AmazonSQS.<Op>`.
    Json,
    /// Form-encoded `Action=<Op>`, XML answers.
    Query,
}

/// A request as the wire sees it.
#[derive(Debug, Clone, Copy)]
pub struct WireRequest<'a> {
    /// The protocol.
    pub protocol: WireProtocol,
    /// The operation, from the target (JSON); the query protocol's comes
    /// from its `Action`.
    pub target_operation: Option<&'a str>,
    /// The request path (a query request may be posted to its queue's URL
    /// path, `/000000000000/<name>`, without `QueueUrl`).
    pub path: &'a str,
    /// The query string (the query protocol may carry parameters there).
    pub query: &'a str,
    /// The body.
    pub body: &'a [u8],
}

/// Reads the operation of a request, checked as SQS checks its input.
pub fn parse(req: &WireRequest<'_>) -> Result<SqsOp, SqsError> {
    let (operation, input) = match req.protocol {
        WireProtocol::Json => {
            let operation = req.target_operation.unwrap_or_default().to_string();
            let value = if req.body.iter().all(u8::is_ascii_whitespace) {
                serde_json::Value::Object(Default::default())
            } else {
                serde_json::from_slice(req.body).map_err(|e| {
                    SqsError::sender(
                        "InvalidParameterValue",
                        format!("The request body is not valid JSON: {e}"),
                    )
                })?
            };
            (operation, value)
        }
        WireProtocol::Query => {
            let form = ignis_protocol::QueryRequest::parse(req.query, req.body)
                .map_err(|e| SqsError::sender(static_code(&e.code), e.message))?;
            let mut value = query::to_json(&form.params);
            if let Some(obj) = value.as_object_mut() {
                if !obj.contains_key("QueueUrl") && queue_path(req.path) {
                    obj.insert("QueueUrl".into(), req.path.into());
                }
            }
            (form.action, value)
        }
    };
    let op = input::read(&operation, value_or_object(input))?;
    op.validate()?;
    Ok(op)
}

fn value_or_object(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Null => serde_json::Value::Object(Default::default()),
        v => v,
    }
}

/// A queue URL's path: `/<account>/<name>`.
fn queue_path(path: &str) -> bool {
    let mut parts = path.trim_matches('/').split('/');
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(n), None) if !a.is_empty() && !n.is_empty())
}

/// The queue name a queue URL names: its last path segment
/// (`http://localhost:9000/000000000000/jobs` → `jobs`); any host.
pub fn queue_name_of_url(url: &str) -> Result<String, SqsError> {
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map_or("", |(_, p)| p),
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => Err(SqsError::sender(
            "InvalidAddress",
            format!("The address {url} is not valid for this endpoint."),
        )),
    }
}

/// The answer to a successful operation, in the request's protocol.
pub fn render(
    protocol: WireProtocol,
    operation: &str,
    output: &SqsOutput,
    request_id: &str,
) -> Response<Bytes> {
    match protocol {
        WireProtocol::Json => json::render(output, request_id),
        WireProtocol::Query => query::render(operation, output).render(request_id),
    }
}

/// An error in the request's protocol: the JSON protocol's `__type`
/// (`com.amazonaws.sqs#QueueDoesNotExist`) with the query code in
/// `x-amzn-query-error`, or the query protocol's `<ErrorResponse>` with
/// the query code.
pub fn render_error(protocol: WireProtocol, error: &SqsError, request_id: &str) -> Response<Bytes> {
    let service = Service::by_signing_name("sqs");
    let fault = if error.sender_fault {
        "Sender"
    } else {
        "Receiver"
    };
    let shaped = |code: String| AwsError {
        status: error.status,
        code,
        message: error.message.clone(),
        sender_fault: error.sender_fault,
    };
    match protocol {
        WireProtocol::Json => {
            let mut resp = shaped(format!("com.amazonaws.sqs#{}", error.code)).render_as(
                Protocol::Json("1.0"),
                service,
                request_id,
            );
            if let Ok(v) = HeaderValue::from_str(&format!("{};{fault}", error.query_code())) {
                resp.headers_mut().insert("x-amzn-query-error", v);
            }
            resp
        }
        WireProtocol::Query => {
            shaped(error.query_code().to_string()).render_as(Protocol::Query, service, request_id)
        }
    }
}

/// A `'static` code for the protocol crate's form errors.
fn static_code(code: &str) -> &'static str {
    match code {
        "MissingAction" => "MissingAction",
        _ => "MalformedQueryString",
    }
}

#[cfg(test)]
mod tests;
