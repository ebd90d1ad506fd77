//! Reading request bodies with Lambda's size limits and JSON rules.

use axum::body::Body;
use bytes::Bytes;
use ignis_model::{ErrorKind, LambdaError};
use ignis_runtime_api::body::{read_limited, BodyError};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest management request: a 50 MB zip, base64-encoded in JSON.
pub const MANAGEMENT_BODY_MAX: usize = 69_905_067;

/// Bytes of an oversized request read and dropped before answering, so the
/// client gets the error instead of a reset connection.
const DRAIN_MAX: usize = 128 * 1024 * 1024;

/// Reads at most `max` bytes, else `RequestTooLargeException` naming `operation`.
pub async fn read(body: Body, max: usize, operation: &str) -> Result<Bytes, ApiError> {
    match read_limited(body, max, DRAIN_MAX).await {
        Ok(bytes) => Ok(bytes),
        Err(BodyError::TooLarge { read, .. }) => Err(ApiError(LambdaError::new(
            ErrorKind::RequestTooLarge,
            format!("Request must be smaller than {max} bytes for the {operation} operation (got {read} bytes or more)"),
        ))),
        Err(BodyError::Read(e)) => Err(ApiError(LambdaError::new(
            ErrorKind::InvalidRequestContent,
            format!("Could not read the request body: {e}"),
        ))),
    }
}

/// Parses a JSON body into `T`, refusing malformed JSON and unknown fields.
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes = if bytes.is_empty() {
        b"{}".as_slice()
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError(match missing_member(&e) {
            // Lambda checks required members apart from parsing, as its model does.
            Some(member) => LambdaError::new(
                ErrorKind::Validation,
                format!(
                    "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                    lower_first(&member)
                ),
            ),
            None => LambdaError::new(
                ErrorKind::InvalidRequestContent,
                format!("Could not parse request body into json: {e}"),
            ),
        })
    })
}

/// The member a well-formed body lacks, from serde's "missing field `X`".
fn missing_member(e: &serde_json::Error) -> Option<String> {
    if !e.is_data() {
        return None;
    }
    let text = e.to_string();
    let rest = text.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_owned())
}

/// Lambda names members in its messages as its model's wire names with a
/// lower-case first letter (`role`, `functionName`).
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Reads and parses a management request body.
pub async fn read_json<T: DeserializeOwned>(body: Body, operation: &str) -> Result<T, ApiError> {
    let bytes = read(body, MANAGEMENT_BODY_MAX, operation).await?;
    json(&bytes)
}
