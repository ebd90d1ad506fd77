//! The operations' refusals in Lambda's words, built once.

use ignis_model::{ErrorKind, LambdaError};
use ignis_store::StoreError;

use crate::mapping::Mapping;
use crate::source::Source;
use crate::state::InUse;

/// How many times an operation retries when the supervisor or a poller
/// wrote the mapping between its read and its write.
pub(crate) const WRITE_ATTEMPTS: usize = 8;

/// After [`WRITE_ATTEMPTS`] lost compare-and-swaps.
pub(crate) fn changed_meanwhile() -> LambdaError {
    LambdaError::new(
        ErrorKind::ResourceConflict,
        "The event source mapping was changed by another request at the same time; retry",
    )
}

pub(crate) fn internal(context: &str, e: &dyn std::fmt::Display) -> LambdaError {
    tracing::error!(error = %e, "failed to {context}");
    LambdaError::new(ErrorKind::Service, format!("Ignis failed to {context}"))
}

pub(crate) fn store_err(e: StoreError) -> LambdaError {
    internal("access the event source mapping store", &e)
}

/// The UUID an event source mapping's ARN names
/// (`arn:aws:lambda:<region>:<account>:event-source-mapping:<uuid>`).
pub fn mapping_uuid(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", _, _, "event-source-mapping", uuid] if !uuid.is_empty() => Some(uuid),
        _ => None,
    }
}

/// Lambda's answer for a mapping that does not exist.
pub fn not_found() -> LambdaError {
    LambdaError::new(
        ErrorKind::ResourceNotFound,
        "The resource you requested does not exist.",
    )
}

pub(crate) fn in_use(uuid: &str, e: InUse) -> LambdaError {
    LambdaError::new(
        ErrorKind::ResourceInUse,
        format!(
            "Cannot update the event source mapping {uuid}: it is in use (state {}). Try again once it is Enabled or Disabled.",
            e.0.as_str()
        ),
    )
}

/// Lambda's `ResourceConflictException` for a second mapping of a source
/// to a function (its SQS wording for queues), naming the first.
pub(crate) fn duplicate(m: &Mapping, existing: Option<&str>) -> LambdaError {
    let (source, function) = (&m.event_source_arn, &m.function.name);
    let head = match m.source {
        Source::Sqs { .. } => format!(
            "An event source mapping with SQS arn (\" {source} \") and function (\" {function} \") already exists."
        ),
        Source::Mq { .. } => format!(
            "The event source arn (\" {source} \") and function (\" {function} \") provided mapping already exists."
        ),
    };
    match existing {
        Some(uuid) => LambdaError::new(
            ErrorKind::ResourceConflict,
            format!("{head} Please update or delete the existing mapping with UUID {uuid}"),
        ),
        None => LambdaError::new(ErrorKind::ResourceConflict, head),
    }
}
