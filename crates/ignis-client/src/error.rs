//! The client's error, and the reading of Lambda's error shape: the type from
//! the `X-Amzn-ErrorType` header, the message from the JSON body.

use ignis_model::headers;
use serde::Deserialize;

/// Why a call to the Ignis server failed. Every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint is not an `http://` URL.
    #[error(
        "invalid endpoint {endpoint:?}: expected an http:// URL such as http://127.0.0.1:9000"
    )]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
    },
    /// Nothing answers at the endpoint.
    #[error("the Ignis server at {endpoint} is not reachable; start it with `ignis serve`")]
    Unreachable {
        /// The endpoint as the client uses it.
        endpoint: String,
    },
    /// The request could not be sent for another reason than the connection.
    #[error("failed to send the {operation} request")]
    Send {
        /// The operation, e.g. `GetFunction`.
        operation: &'static str,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with a Lambda error.
    #[error("{}", api_line(kind, message))]
    Api {
        /// The error type, e.g. `ResourceNotFoundException`.
        kind: String,
        /// The server's message.
        message: String,
        /// The HTTP status.
        status: u16,
    },
    /// The response body could not be read.
    #[error("failed to read the {operation} response")]
    Read {
        /// The operation.
        operation: &'static str,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The response body is not the JSON the operation answers with.
    #[error("failed to decode the {operation} response")]
    Decode {
        /// The operation.
        operation: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// `X-Amz-Log-Result` is not base64.
    #[error("failed to decode the log tail of the Invoke response")]
    LogResult {
        /// The cause.
        #[source]
        source: base64::DecodeError,
    },
}

impl ClientError {
    /// Whether the call failed on the way (nothing answered, or the
    /// connection broke) rather than with an answer of the server's.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::Send { .. } | Self::Read { .. }
        )
    }

    /// The Lambda error type, when the server answered with one.
    pub fn api_kind(&self) -> Option<&str> {
        match self {
            Self::Api { kind, .. } => Some(kind),
            _ => None,
        }
    }
}

/// `Kind: message`, or the kind alone when there is no message.
fn api_line(kind: &str, message: &str) -> String {
    if message.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {message}")
    }
}

/// The longest message kept from a body that is not Lambda's error shape.
const RAW_MESSAGE_MAX: usize = 300;

/// The JSON body of an error, read leniently.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default, alias = "Message")]
    message: Option<String>,
    #[serde(default, rename = "__type")]
    type_name: Option<String>,
}

/// Builds [`ClientError::Api`] from a non-2xx response's parts.
pub(crate) fn api_error(status: u16, error_type: Option<&str>, body: &[u8]) -> ClientError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let kind = error_type
        .or(parsed.as_ref().and_then(|b| b.type_name.as_deref()))
        .map(|t| t.split(':').next().unwrap_or(t).trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| format!("HTTP {status}"));
    let message = match parsed {
        Some(b) => b.message.unwrap_or_default(),
        None => raw_message(body),
    };
    ClientError::Api {
        kind,
        message: one_line(&message),
        status,
    }
}

/// Reads the error type header of a response.
pub(crate) fn error_type(headers: &reqwest::header::HeaderMap) -> Option<&str> {
    headers
        .get(headers::ERROR_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// The start of a body that is not Lambda's error shape.
fn raw_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(RAW_MESSAGE_MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Folds whitespace runs holding line breaks into single spaces.
fn one_line(message: &str) -> String {
    message
        .trim()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_error_shape_is_one_line() {
        let body = br#"{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-1:000000000000:function:x"}"#;
        let err = api_error(404, Some("ResourceNotFoundException"), body);
        assert_eq!(
            err.to_string(),
            "ResourceNotFoundException: Function not found: arn:aws:lambda:us-east-1:000000000000:function:x"
        );
        assert_eq!(err.api_kind(), Some("ResourceNotFoundException"));
    }

    #[test]
    fn error_type_suffix_is_dropped() {
        let err = api_error(
            409,
            Some("ResourceConflictException:http://internal/"),
            b"{}",
        );
        assert_eq!(err.to_string(), "ResourceConflictException");
    }

    #[test]
    fn body_type_and_capital_message_are_read() {
        let body = br#"{"__type":"ValidationException","Message":"bad\nvalue"}"#;
        assert_eq!(
            api_error(400, None, body).to_string(),
            "ValidationException: bad value"
        );
    }

    #[test]
    fn non_lambda_body_is_kept_short() {
        let err = api_error(502, None, b"<html>\n  bad gateway\n</html>\n");
        assert_eq!(err.to_string(), "HTTP 502: <html> bad gateway </html>");
        let long = "x".repeat(1000);
        let err = api_error(500, None, long.as_bytes());
        assert!(err.to_string().len() < 400);
    }

    #[test]
    fn unreachable_names_the_endpoint_and_the_fix() {
        let err = ClientError::Unreachable {
            endpoint: "http://127.0.0.1:9000/".into(),
        };
        assert_eq!(
            err.to_string(),
            "the Ignis server at http://127.0.0.1:9000/ is not reachable; start it with `ignis serve`"
        );
    }
}
