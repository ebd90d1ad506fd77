//! Invoke: `POST /2015-03-31/functions/{name}/invocations`.

use base64::Engine;
use ignis_model::headers;
use reqwest::header::HeaderMap;

use crate::{Client, ClientError};

/// `X-Amz-Invocation-Type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InvocationType {
    /// Wait for the function's response.
    #[default]
    RequestResponse,
    /// Queue the event and return at once (202).
    Event,
    /// Check the call would be accepted, without running the function (204).
    DryRun,
}

impl InvocationType {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequestResponse => "RequestResponse",
            Self::Event => "Event",
            Self::DryRun => "DryRun",
        }
    }
}

/// One invocation to make.
#[derive(Debug, Clone, Default)]
pub struct InvokeRequest {
    /// How to invoke.
    pub invocation_type: InvocationType,
    /// Ask for the tail of the invocation's log (`X-Amz-Log-Type: Tail`).
    pub tail: bool,
    /// The event, usually JSON.
    pub payload: Vec<u8>,
}

/// What Invoke answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeOutput {
    /// HTTP status: 200, 202 (Event) or 204 (DryRun).
    pub status: u16,
    /// The function's response, or its error document.
    pub payload: Vec<u8>,
    /// `X-Amz-Function-Error` (`Unhandled`, `Handled`) when the function failed.
    pub function_error: Option<String>,
    /// The decoded `X-Amz-Log-Result`, when the tail was asked for.
    pub log_tail: Option<String>,
    /// `X-Amz-Executed-Version`.
    pub executed_version: Option<String>,
    /// `x-amzn-RequestId`: the invocation's request id (the one its log
    /// lines name), also of a queued Event invocation.
    pub request_id: Option<String>,
}

impl Client {
    /// Invokes the function `name`.
    pub async fn invoke(
        &self,
        name: &str,
        request: InvokeRequest,
    ) -> Result<InvokeOutput, ClientError> {
        const OP: &str = "Invoke";
        let mut req = self
            .http
            .post(self.function_url(name, &["invocations"]))
            .header(headers::INVOCATION_TYPE, request.invocation_type.as_str());
        if request.tail {
            req = req.header(headers::LOG_TYPE, "Tail");
        }
        let resp = self.send(OP, req.body(request.payload)).await?;
        let status = resp.status().as_u16();
        let head = resp.headers().clone();
        let payload = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Read {
                operation: OP,
                source,
            })?
            .to_vec();
        let log_tail = match header(&head, headers::LOG_RESULT) {
            Some(b64) => Some(decode_log(&b64)?),
            None => None,
        };
        Ok(InvokeOutput {
            status,
            payload,
            function_error: header(&head, headers::FUNCTION_ERROR),
            log_tail,
            executed_version: header(&head, headers::EXECUTED_VERSION),
            request_id: header(&head, headers::REQUEST_ID),
        })
    }
}

fn header(map: &HeaderMap, name: &str) -> Option<String> {
    map.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Decodes `X-Amz-Log-Result`; the text is kept even if not valid UTF-8.
fn decode_log(b64: &str) -> Result<String, ClientError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|source| ClientError::LogResult { source })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_result_is_decoded() {
        assert_eq!(decode_log("aGVsbG8K").unwrap(), "hello\n");
        assert!(matches!(
            decode_log("!!"),
            Err(ClientError::LogResult { .. })
        ));
    }
}
