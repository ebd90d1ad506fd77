//! `ApiError`: every failure of a request, mapped once to Lambda's status
//! code, `X-Amzn-ErrorType` header and `{"Type","message"}` body.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ignis_model::headers;
use ignis_model::{ErrorKind, LambdaError};
use ignis_router::InvokeError;
use ignis_store::{CodeError, StoreError};

/// An error answered to an API client.
#[derive(Debug)]
pub struct ApiError(pub LambdaError);

impl From<LambdaError> for ApiError {
    fn from(e: LambdaError) -> Self {
        Self(e)
    }
}

impl ApiError {
    /// `ServiceException` for an internal failure; the cause goes to the log.
    pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{context}");
        Self(LambdaError::new(
            ErrorKind::Service,
            format!("Ignis failed to {context}"),
        ))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyExists(name) => Self(LambdaError::new(
                ErrorKind::ResourceConflict,
                format!("Function already exist: {name}"),
            )),
            StoreError::NotFound(name) => Self(LambdaError::new(
                ErrorKind::ResourceNotFound,
                format!("Function not found: {name}"),
            )),
            StoreError::RevisionMismatch { .. } => Self(LambdaError::new(
                ErrorKind::ResourceConflict,
                "The function was changed by another request at the same time; retry",
            )),
            other => Self::internal("access the store", &other),
        }
    }
}

impl From<CodeError> for ApiError {
    fn from(e: CodeError) -> Self {
        if e.is_invalid_zip() {
            Self(LambdaError::invalid(e.to_string()))
        } else {
            Self::internal("store the function's code", &e)
        }
    }
}

/// Maps a router refusal; `arn` names the function in the message.
pub fn invoke_error(e: InvokeError, arn: &str, budget: (u64, u64)) -> ApiError {
    let (kind, message) = match e {
        InvokeError::NotFound(_) => (ErrorKind::ResourceNotFound, format!("Function not found: {arn}")),
        InvokeError::NotReady(state) => (
            ErrorKind::ResourceConflict,
            format!(
                "The operation cannot be performed at this time. The function is currently in the following state: {state:?}"
            ),
        ),
        InvokeError::RuntimeUnavailable { runtime, reason } => (
            ErrorKind::InvalidRuntime,
            format!("The runtime parameter of {runtime} is not available on this node: {reason}"),
        ),
        InvokeError::NoCapacity => {
            let message = format!(
                "Rate Exceeded: no room for another execution environment in this node's memory budget ({} of {} MB reserved)",
                budget.0, budget.1
            );
            // Lambda's reason when concurrency runs out; SDKs and users
            // match on it.
            return ApiError(
                LambdaError::new(ErrorKind::TooManyRequests, message)
                    .with_reason("ConcurrentInvocationLimitExceeded"),
            );
        }
        InvokeError::Throttled(reason) => {
            let message = match reason {
                ignis_router::concurrency::RESERVED_LIMIT => "Rate Exceeded: the function's reserved concurrency is in use",
                _ => "Rate Exceeded: the account's unreserved concurrency is in use",
            };
            return ApiError(
                LambdaError::new(ErrorKind::TooManyRequests, message).with_reason(reason),
            );
        }
        InvokeError::OverBudget {
            memory_mb,
            budget_mb,
        } => (
            ErrorKind::InvalidParameterValue,
            format!(
                "The function's MemorySize ({memory_mb} MB) is more than this node's memory budget ({budget_mb} MB): lower MemorySize or raise the node's --memory-budget-mb"
            ),
        ),
        InvokeError::ShuttingDown => (ErrorKind::Service, "The node is shutting down".to_string()),
    };
    ApiError(LambdaError::new(kind, message))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self.0.kind;
        let status =
            StatusCode::from_u16(kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(error = %self.0, "request failed");
        } else {
            tracing::debug!(error = %self.0, "request refused");
        }
        let mut resp = (status, axum::Json(self.0.body())).into_response();
        resp.headers_mut().insert(
            headers::ERROR_TYPE,
            HeaderValue::from_static(kind.type_name()),
        );
        if kind == ErrorKind::TooManyRequests {
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
        }
        resp
    }
}
