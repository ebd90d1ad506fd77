//! Lambda's error types, as botocore parses them from `X-Amzn-ErrorType` and
//! the JSON body. One enum names every error type Ignis returns; the HTTP edge
//! maps it to a status code once.

use serde::{Deserialize, Serialize};

/// An error type from Lambda's service model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A parameter is out of range, malformed or unsupported.
    InvalidParameterValue,
    /// A parameter breaks a constraint of the service model (minimum, pattern).
    Validation,
    /// The request body is not valid JSON or has unknown fields.
    InvalidRequestContent,
    /// The named resource does not exist.
    ResourceNotFound,
    /// The resource exists already or is in a state that forbids the change.
    ResourceConflict,
    /// The resource is busy with another change (an event source mapping
    /// being created, updated or deleted).
    ResourceInUse,
    /// The function's code or configuration precondition (RevisionId) failed.
    PreconditionFailed,
    /// A payload or upload is larger than Lambda allows.
    RequestTooLarge,
    /// A resource-based policy would grow past Lambda's size limit.
    PolicyLengthExceeded,
    /// The function, version or alias has no provisioned concurrency.
    ProvisionedConcurrencyConfigNotFound,
    /// The node has no capacity for another execution environment.
    TooManyRequests,
    /// The function's runtime cannot run on this node.
    InvalidRuntime,
    /// The function exists but is not ready to be invoked.
    ResourceNotReady,
    /// The content type of the request is not supported.
    UnsupportedMediaType,
    /// No operation of the API has this method and path (one Ignis does
    /// not implement, or a mistyped one).
    UnknownOperation,
    /// Something failed inside Ignis.
    Service,
}

impl ErrorKind {
    /// The error type name botocore matches on (e.g. `ResourceNotFoundException`).
    pub fn type_name(self) -> &'static str {
        match self {
            Self::InvalidParameterValue => "InvalidParameterValueException",
            Self::Validation => "ValidationException",
            Self::InvalidRequestContent => "InvalidRequestContentException",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::ResourceConflict => "ResourceConflictException",
            Self::ResourceInUse => "ResourceInUseException",
            Self::PreconditionFailed => "PreconditionFailedException",
            Self::RequestTooLarge => "RequestTooLargeException",
            Self::PolicyLengthExceeded => "PolicyLengthExceededException",
            Self::ProvisionedConcurrencyConfigNotFound => {
                "ProvisionedConcurrencyConfigNotFoundException"
            }
            Self::TooManyRequests => "TooManyRequestsException",
            Self::InvalidRuntime => "InvalidRuntimeException",
            Self::ResourceNotReady => "ResourceNotReadyException",
            Self::UnsupportedMediaType => "UnsupportedMediaTypeException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::Service => "ServiceException",
        }
    }

    /// The HTTP status Lambda answers this error type with.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidParameterValue
            | Self::Validation
            | Self::InvalidRequestContent
            | Self::PolicyLengthExceeded
            | Self::ResourceInUse => 400,
            Self::InvalidRuntime | Self::ResourceNotReady => 502,
            Self::ResourceNotFound
            | Self::UnknownOperation
            | Self::ProvisionedConcurrencyConfigNotFound => 404,
            Self::ResourceConflict => 409,
            Self::PreconditionFailed => 412,
            Self::RequestTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::TooManyRequests => 429,
            Self::Service => 500,
        }
    }

    /// Whether the fault is the caller's (`User`) or the service's (`Service`),
    /// as Lambda's `Type` body field reports.
    pub fn fault(self) -> &'static str {
        match self {
            Self::Service | Self::InvalidRuntime | Self::ResourceNotReady => "Service",
            _ => "User",
        }
    }

    /// Parses an error type name (the inverse of [`ErrorKind::type_name`]).
    pub fn from_type_name(name: &str) -> Option<Self> {
        ALL.iter().copied().find(|k| k.type_name() == name)
    }
}

const ALL: [ErrorKind; 16] = [
    ErrorKind::ProvisionedConcurrencyConfigNotFound,
    ErrorKind::InvalidParameterValue,
    ErrorKind::Validation,
    ErrorKind::InvalidRequestContent,
    ErrorKind::ResourceNotFound,
    ErrorKind::ResourceConflict,
    ErrorKind::ResourceInUse,
    ErrorKind::PreconditionFailed,
    ErrorKind::RequestTooLarge,
    ErrorKind::PolicyLengthExceeded,
    ErrorKind::TooManyRequests,
    ErrorKind::InvalidRuntime,
    ErrorKind::ResourceNotReady,
    ErrorKind::UnsupportedMediaType,
    ErrorKind::UnknownOperation,
    ErrorKind::Service,
];

/// A Lambda-shaped error: its type and a message saying what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.type_name())]
pub struct LambdaError {
    /// The error type.
    pub kind: ErrorKind,
    /// The human-readable message.
    pub message: String,
    /// The `Reason` member some errors carry (a throttle's `ThrottleReason`).
    pub reason: Option<&'static str>,
}

impl LambdaError {
    /// Builds an error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            reason: None,
        }
    }

    /// The same error with its `Reason` member.
    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// `InvalidParameterValueException` with `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameterValue, message)
    }

    /// `ResourceNotFoundException` for the function `arn`.
    pub fn function_not_found(arn: &str) -> Self {
        Self::new(
            ErrorKind::ResourceNotFound,
            format!("Function not found: {arn}"),
        )
    }

    /// The JSON body Lambda sends with this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            kind: self.kind.fault().to_string(),
            message: self.message.clone(),
            reason: self.reason.map(str::to_owned),
        }
    }
}

/// The JSON body of a Lambda error response: `{"Type":"User","message":"..."}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// `User` or `Service`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The message; botocore reads `message` or `Message`.
    #[serde(alias = "Message")]
    pub message: String,
    /// Why, for errors that say (`TooManyRequestsException`'s `Reason`).
    #[serde(rename = "Reason", default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        for kind in ALL {
            assert_eq!(ErrorKind::from_type_name(kind.type_name()), Some(kind));
        }
        assert_eq!(ErrorKind::from_type_name("Nope"), None);
    }

    #[test]
    fn body_carries_fault_and_message() {
        let e = LambdaError::function_not_found("arn:x");
        let json = serde_json::to_string(&e.body()).unwrap();
        assert_eq!(
            json,
            r#"{"Type":"User","message":"Function not found: arn:x"}"#
        );
        assert_eq!(e.kind.status(), 404);
    }
}
