//! Reading request bodies with Lambda's size limits and JSON rules.

use axum::body::Body;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use ignis_model::{ErrorKind, LambdaError};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest management request: a 50 MB zip, base64-encoded in JSON.
pub const MANAGEMENT_BODY_MAX: usize = 69_905_067;

/// Reads at most `max` bytes, else `RequestTooLargeException` naming `operation`.
pub async fn read(body: Body, max: usize, operation: &str) -> Result<Bytes, ApiError> {
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError(LambdaError::new(
                ErrorKind::RequestTooLarge,
                format!("Request must be smaller than {max} bytes for the {operation} operation"),
            )))
        }
        Err(e) => Err(ApiError(LambdaError::new(
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
        ApiError(LambdaError::new(
            ErrorKind::InvalidRequestContent,
            format!("Could not parse request body into json: {e}"),
        ))
    })
}

/// Reads and parses a management request body.
pub async fn read_json<T: DeserializeOwned>(body: Body, operation: &str) -> Result<T, ApiError> {
    let bytes = read(body, MANAGEMENT_BODY_MAX, operation).await?;
    json(&bytes)
}
