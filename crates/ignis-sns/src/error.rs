//! SNS's errors with their codes and HTTP statuses (botocore's `error`
//! traits of the model's exception shapes), in the query error shape.

use http::StatusCode;
use ignis_protocol::AwsError;
use ignis_store::StoreError;

/// `InvalidParameter`, 400: "Invalid parameter: {what}".
pub fn invalid_parameter(what: impl std::fmt::Display) -> AwsError {
    AwsError::sender(
        StatusCode::BAD_REQUEST,
        "InvalidParameter",
        format!("Invalid parameter: {what}"),
    )
}

/// `ParameterValueInvalid`, 400 (message attributes).
pub fn parameter_value_invalid(message: impl Into<String>) -> AwsError {
    AwsError::sender(StatusCode::BAD_REQUEST, "ParameterValueInvalid", message)
}

/// `NotFound`, 404.
pub fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::sender(StatusCode::NOT_FOUND, "NotFound", message)
}

/// `NotFound` for a topic.
pub fn no_topic() -> AwsError {
    not_found("Topic does not exist")
}

/// `NotFound` for a subscription.
pub fn no_subscription() -> AwsError {
    not_found("Subscription does not exist")
}

/// `ResourceNotFound`, 404 (the tagging operations).
pub fn resource_not_found() -> AwsError {
    AwsError::sender(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        "Resource does not exist",
    )
}

/// `AuthorizationError`, 403.
pub fn authorization_error(message: impl Into<String>) -> AwsError {
    AwsError::sender(StatusCode::FORBIDDEN, "AuthorizationError", message)
}

/// A batch error of PublishBatch (`code`, 400).
pub fn batch(code: &str, message: impl Into<String>) -> AwsError {
    AwsError::sender(StatusCode::BAD_REQUEST, code, message)
}

/// `InternalError`, 500: the store failed (logged here; the message says
/// only that).
pub fn internal(err: &StoreError) -> AwsError {
    tracing::error!(error = %err, cause = ?std::error::Error::source(err), "SNS store call failed");
    AwsError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "InternalError".to_string(),
        message: "Internal error".to_string(),
        sender_fault: false,
    }
}
