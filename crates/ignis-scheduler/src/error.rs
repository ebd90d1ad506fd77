//! The service's refusals, each with Scheduler's code and HTTP status.

use ignis_store::StoreError;

/// Why an operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// `ValidationException` (400).
    #[error("{0}")]
    Validation(String),
    /// `ResourceNotFoundException` (404).
    #[error("{0}")]
    NotFound(String),
    /// `ConflictException` (409).
    #[error("{0}")]
    Conflict(String),
    /// `InternalServerException` (500): the store failed.
    #[error("internal error: {0}")]
    Internal(#[from] StoreError),
}

impl SchedulerError {
    /// The error code (the `X-Amzn-ErrorType`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "ValidationException",
            Self::NotFound(_) => "ResourceNotFoundException",
            Self::Conflict(_) => "ConflictException",
            Self::Internal(_) => "InternalServerException",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::Validation(_) => 400,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Internal(_) => 500,
        }
    }

    /// The message the client reads.
    pub fn message(&self) -> String {
        match self {
            Self::Internal(_) => "Unexpected error occurred while processing the request.".into(),
            other => other.to_string(),
        }
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> SchedulerError {
    SchedulerError::Validation(message.into())
}
