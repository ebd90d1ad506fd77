//! A delivery as the outbox keeps it: the input already transformed, the
//! event (for a dead-letter queue and a cross-bus target), and the target
//! with its retry policy and dead-letter queue.

use serde::{Deserialize, Serialize};

use crate::target::Target;

/// One row's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Delivery {
    /// What the target is given.
    pub(crate) input: String,
    /// The event (JSON text).
    pub(crate) event: String,
    /// The event's id.
    pub(crate) event_id: String,
    /// The rule's ARN.
    pub(crate) rule_arn: String,
    /// When the delivery was committed, Unix epoch milliseconds (its age
    /// is counted from here).
    pub(crate) first_ms: i64,
    /// The target.
    pub(crate) target: Target,
}
