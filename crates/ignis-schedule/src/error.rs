//! Why an expression or a time zone was refused, and how each service says so.

use thiserror::Error;

/// A schedule expression that does not parse, with the reason (for logs and
/// tests); the services answer with their own fixed messages.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid schedule expression {expression:?}: {reason}")]
pub struct ExpressionError {
    /// The expression as given.
    pub expression: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ExpressionError {
    pub(crate) fn new(expression: &str, reason: impl Into<String>) -> Self {
        Self {
            expression: expression.to_string(),
            reason: reason.into(),
        }
    }

    /// EventBridge Scheduler's `ValidationException` message.
    pub fn scheduler_message(&self) -> String {
        format!("Invalid Schedule Expression {}.", self.expression)
    }

    /// EventBridge's (`PutRule`) `ValidationException` message.
    pub fn eventbridge_message(&self) -> String {
        EVENTBRIDGE_MESSAGE.to_string()
    }
}

/// EventBridge answers every bad `ScheduleExpression` with this message.
pub const EVENTBRIDGE_MESSAGE: &str = "Parameter ScheduleExpression is not valid.";

/// A `ScheduleExpressionTimezone` that is not an IANA time zone name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown time zone {0:?}")]
pub struct TimezoneError(pub String);

impl TimezoneError {
    /// EventBridge Scheduler's `ValidationException` message.
    pub fn scheduler_message(&self) -> String {
        format!("Invalid ScheduleExpressionTimezone {}.", self.0)
    }
}
