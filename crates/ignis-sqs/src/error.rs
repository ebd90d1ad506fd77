//! The queue service's errors: SQS's codes, mapped once to the wire.

use http::StatusCode;
use ignis_protocol::AwsError;

/// An error of an SQS operation, with SQS's code (as the JSON protocol's
/// `__type` names it, e.g. `QueueDoesNotExist`; the query protocol's code
/// comes from [`SqsError::query_code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SqsError {
    /// SQS's error code.
    pub code: &'static str,
    /// The message.
    pub message: String,
    /// The HTTP status.
    pub status: StatusCode,
    /// The caller's fault.
    pub sender_fault: bool,
}

impl SqsError {
    /// A caller's error with status 400.
    pub fn sender(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
            sender_fault: true,
        }
    }

    /// `QueueDoesNotExist`.
    pub fn no_queue() -> Self {
        Self::sender("QueueDoesNotExist", "The specified queue does not exist.")
    }

    /// `InvalidParameterValue`.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::sender("InvalidParameterValue", message)
    }

    /// `InvalidAttributeValue`: `Invalid value for the parameter <name>.`
    /// with an optional reason.
    pub fn invalid_attribute_value(name: &str, reason: Option<&str>) -> Self {
        let message = match reason {
            Some(reason) => format!("Invalid value for the parameter {name}. Reason: {reason}"),
            None => format!("Invalid value for the parameter {name}."),
        };
        Self::sender("InvalidAttributeValue", message)
    }

    /// `InvalidAttributeName`: an attribute SQS does not know.
    pub fn invalid_attribute_name(name: &str) -> Self {
        Self::sender("InvalidAttributeName", format!("Unknown Attribute {name}."))
    }

    /// `ReceiptHandleIsInvalid` for a handle that is not one of ours.
    pub fn bad_receipt_handle(handle: &str) -> Self {
        Self::sender(
            "ReceiptHandleIsInvalid",
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        )
    }

    /// `ResourceNotFoundException` (message move tasks).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::sender("ResourceNotFoundException", message)
    }

    /// The code the query protocol (and the JSON protocol's
    /// `x-amzn-query-error` header) names this error by: SQS's
    /// query-compatible codes, e.g. `AWS.SimpleQueueService.NonExistentQueue`
    /// for `QueueDoesNotExist`.
    pub fn query_code(&self) -> &'static str {
        query_code(self.code)
    }

    /// The store failed: a 500, the caller's request not at fault.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            code: "InternalError",
            message: message.into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
            sender_fault: false,
        }
    }
}

/// The query protocol's code of a JSON-protocol error code (most are the
/// same).
pub fn query_code(code: &'static str) -> &'static str {
    match code {
        "QueueDoesNotExist" => "AWS.SimpleQueueService.NonExistentQueue",
        "QueueNameExists" => "QueueAlreadyExists",
        "QueueDeletedRecently" => "AWS.SimpleQueueService.QueueDeletedRecently",
        "PurgeQueueInProgress" => "AWS.SimpleQueueService.PurgeQueueInProgress",
        "MessageNotInflight" => "AWS.SimpleQueueService.MessageNotInflight",
        "BatchEntryIdsNotDistinct" => "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        "BatchRequestTooLong" => "AWS.SimpleQueueService.BatchRequestTooLong",
        "EmptyBatchRequest" => "AWS.SimpleQueueService.EmptyBatchRequest",
        "InvalidBatchEntryId" => "AWS.SimpleQueueService.InvalidBatchEntryId",
        "TooManyEntriesInBatchRequest" => "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        "UnsupportedOperation" => "AWS.SimpleQueueService.UnsupportedOperation",
        "KmsAccessDenied" => "KMS.AccessDeniedException",
        "KmsDisabled" => "KMS.DisabledException",
        "KmsInvalidKeyUsage" => "KMS.InvalidKeyUsageException",
        "KmsInvalidState" => "KMS.InvalidStateException",
        "KmsNotFound" => "KMS.NotFoundException",
        "KmsOptInRequired" => "KMS.OptInRequired",
        "KmsThrottled" => "KMS.ThrottlingException",
        other => other,
    }
}

impl From<SqsError> for AwsError {
    fn from(e: SqsError) -> Self {
        AwsError {
            status: e.status,
            code: e.code.to_string(),
            message: e.message,
            sender_fault: e.sender_fault,
        }
    }
}
