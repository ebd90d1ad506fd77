//! EventBridge's errors with their codes and HTTP statuses (the model's
//! exception shapes), in the JSON protocol's shape (`__type`).

use http::StatusCode;
use ignis_protocol::AwsError;
use ignis_store::StoreError;

/// `ValidationException`, 400.
pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::sender(StatusCode::BAD_REQUEST, "ValidationException", message)
}

/// `ResourceNotFoundException`, 400.
pub fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::sender(
        StatusCode::BAD_REQUEST,
        "ResourceNotFoundException",
        message,
    )
}

/// `ResourceNotFoundException` for a rule.
pub fn no_rule(name: &str, bus: &str) -> AwsError {
    not_found(format!("Rule {name} does not exist on EventBus {bus}."))
}

/// `ResourceNotFoundException` for a bus.
pub fn no_bus(name: &str) -> AwsError {
    not_found(format!("Event bus {name} does not exist."))
}

/// `ResourceAlreadyExistsException`, 400.
pub fn already_exists(message: impl Into<String>) -> AwsError {
    AwsError::sender(
        StatusCode::BAD_REQUEST,
        "ResourceAlreadyExistsException",
        message,
    )
}

/// `InvalidEventPatternException`, 400, with the matcher's message.
pub fn invalid_pattern(message: impl Into<String>) -> AwsError {
    AwsError::sender(
        StatusCode::BAD_REQUEST,
        "InvalidEventPatternException",
        message,
    )
}

/// `LimitExceededException`, 400.
pub fn limit_exceeded(message: impl Into<String>) -> AwsError {
    AwsError::sender(StatusCode::BAD_REQUEST, "LimitExceededException", message)
}

/// `InternalException`, 500: the store failed (logged here; the message
/// says only that).
pub fn internal(err: &StoreError) -> AwsError {
    tracing::error!(error = %err, cause = ?std::error::Error::source(err), "EventBridge store call failed");
    AwsError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "InternalException".to_string(),
        message: "Internal error".to_string(),
        sender_fault: false,
    }
}
