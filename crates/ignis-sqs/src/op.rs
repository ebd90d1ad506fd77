//! The SQS API as a typed enum: every operation with its input, checked
//! as SQS checks it before anything runs (batch sizes and ids, receive
//! limits, attribute names), whichever wire protocol it came in; and what
//! each operation answers ([`SqsOutput`]). Parsing is in [`crate::wire`],
//! execution in [`crate::execute`].

use std::collections::{BTreeMap, BTreeSet};

use crate::error::SqsError;
use crate::model::{Outgoing, Receive, MAX_MESSAGE_SIZE};

/// The queue attributes SQS names (`QueueAttributeName`), `All` among them.
pub const QUEUE_ATTRIBUTE_NAMES: &[&str] = &[
    "All",
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
];

/// The message system attributes a receive can ask for
/// (`MessageSystemAttributeName`), `All` among them.
pub const SYSTEM_ATTRIBUTE_NAMES: &[&str] = &[
    "All",
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
];

/// The actions `AddPermission` may grant (SQS's list; `*` is all of them).
pub const SHAREABLE_ACTIONS: &[&str] = &[
    "*",
    "SendMessage",
    "ReceiveMessage",
    "DeleteMessage",
    "ChangeMessageVisibility",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "PurgeQueue",
    "ListQueueTags",
];

/// The most entries of a batch request.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// One SQS operation with its input. Queues are named by name (the wire
/// reads the name from the queue URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqsOp {
    /// `CreateQueue`.
    CreateQueue {
        /// The queue's name.
        name: String,
        /// Its attributes.
        attributes: BTreeMap<String, String>,
        /// Its tags.
        tags: BTreeMap<String, String>,
    },
    /// `GetQueueUrl`.
    GetQueueUrl {
        /// The queue's name.
        name: String,
    },
    /// `ListQueues`.
    ListQueues {
        /// Only names starting with this.
        prefix: Option<String>,
        /// Page size (1–1,000).
        max: Option<u32>,
        /// Where the page starts.
        next_token: Option<String>,
    },
    /// `GetQueueAttributes`.
    GetQueueAttributes {
        /// The queue.
        queue: String,
        /// The attributes asked for (`All` for all; none: none).
        names: Vec<String>,
    },
    /// `SetQueueAttributes`.
    SetQueueAttributes {
        /// The queue.
        queue: String,
        /// The attributes to set.
        attributes: BTreeMap<String, String>,
    },
    /// `DeleteQueue`.
    DeleteQueue {
        /// The queue.
        queue: String,
    },
    /// `PurgeQueue`.
    PurgeQueue {
        /// The queue.
        queue: String,
    },
    /// `SendMessage` (the sender is filled in when it runs).
    SendMessage {
        /// The queue.
        queue: String,
        /// The message.
        message: Outgoing,
    },
    /// `SendMessageBatch`: entries by id, in request order.
    SendMessageBatch {
        /// The queue.
        queue: String,
        /// `(Id, message)`.
        entries: Vec<(String, Outgoing)>,
    },
    /// `ReceiveMessage`.
    ReceiveMessage {
        /// The queue.
        queue: String,
        /// How many, how long and how visible.
        receive: Receive,
        /// Which attributes the answer carries.
        selection: Selection,
    },
    /// `DeleteMessage`.
    DeleteMessage {
        /// The queue.
        queue: String,
        /// The receipt handle.
        receipt_handle: String,
    },
    /// `DeleteMessageBatch`: `(Id, receipt handle)`.
    DeleteMessageBatch {
        /// The queue.
        queue: String,
        /// `(Id, receipt handle)`.
        entries: Vec<(String, String)>,
    },
    /// `ChangeMessageVisibility`.
    ChangeMessageVisibility {
        /// The queue.
        queue: String,
        /// The receipt handle.
        receipt_handle: String,
        /// Seconds from now.
        visibility_timeout: u32,
    },
    /// `ChangeMessageVisibilityBatch`.
    ChangeMessageVisibilityBatch {
        /// The queue.
        queue: String,
        /// `(Id, receipt handle, seconds from now)`.
        entries: Vec<(String, String, u32)>,
    },
    /// `TagQueue`.
    TagQueue {
        /// The queue.
        queue: String,
        /// Tags to add or replace.
        tags: BTreeMap<String, String>,
    },
    /// `UntagQueue`.
    UntagQueue {
        /// The queue.
        queue: String,
        /// Tag keys to remove.
        keys: Vec<String>,
    },
    /// `ListQueueTags`.
    ListQueueTags {
        /// The queue.
        queue: String,
    },
    /// `AddPermission`: a statement added to the queue's policy.
    AddPermission {
        /// The queue.
        queue: String,
        /// The statement's `Sid`.
        label: String,
        /// Accounts granted.
        accounts: Vec<String>,
        /// Actions granted (`SendMessage`, `*`, …).
        actions: Vec<String>,
    },
    /// `RemovePermission`.
    RemovePermission {
        /// The queue.
        queue: String,
        /// The statement's `Sid`.
        label: String,
    },
    /// `ListDeadLetterSourceQueues`.
    ListDeadLetterSourceQueues {
        /// The dead-letter queue.
        queue: String,
        /// Page size (1–1,000).
        max: Option<u32>,
        /// Where the page starts.
        next_token: Option<String>,
    },
    /// `StartMessageMoveTask`.
    StartMessageMoveTask {
        /// The dead-letter queue's ARN.
        source_arn: String,
        /// Where messages go (default: their sources).
        destination_arn: Option<String>,
        /// Messages per second.
        max_per_second: Option<u32>,
    },
    /// `ListMessageMoveTasks`.
    ListMessageMoveTasks {
        /// The dead-letter queue's ARN.
        source_arn: String,
        /// At most this many (1–10, default 1).
        max: Option<u32>,
    },
    /// `CancelMessageMoveTask`.
    CancelMessageMoveTask {
        /// The task's handle.
        handle: String,
    },
}

/// Which attributes a receive answers with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    /// System attribute names (`All`, `SentTimestamp`, …).
    pub system: Vec<String>,
    /// Message attribute names (`All`, `.*`, `prefix.*`, a name).
    pub message: Vec<String>,
}

impl Selection {
    /// Whether system attribute `name` is asked for.
    pub fn wants_system(&self, name: &str) -> bool {
        self.system.iter().any(|n| n == "All" || n == name)
    }

    /// Whether message attribute `name` is asked for.
    pub fn wants_message(&self, name: &str) -> bool {
        self.message.iter().any(|n| {
            if n == "All" || n == ".*" {
                return true;
            }
            match n.strip_suffix(".*") {
                Some(prefix) => name
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.')),
                None => n == name,
            }
        })
    }
}

/// What an operation answers, before a protocol shapes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqsOutput {
    /// No output members (`DeleteQueue`, `SetQueueAttributes`, …).
    Empty,
    /// `QueueUrl` (`CreateQueue`, `GetQueueUrl`).
    QueueUrl(String),
    /// `QueueUrls` and `NextToken` (`ListQueues`).
    QueueUrls(Vec<String>, Option<String>),
    /// `queueUrls` and `NextToken` (`ListDeadLetterSourceQueues`).
    DeadLetterSources(Vec<String>, Option<String>),
    /// `Attributes` (`GetQueueAttributes`).
    Attributes(BTreeMap<String, String>),
    /// `Tags` (`ListQueueTags`).
    Tags(BTreeMap<String, String>),
    /// `SendMessage`'s answer.
    Sent(crate::model::Sent),
    /// `SendMessageBatch`'s: per entry id.
    SentBatch(Vec<(String, Result<crate::model::Sent, crate::model::EntryError>)>),
    /// `ReceiveMessage`'s messages, their attributes already selected.
    Received(Vec<crate::model::Delivered>),
    /// `DeleteMessageBatch`'s and `ChangeMessageVisibilityBatch`'s: per entry id.
    Batch(Vec<(String, Result<(), crate::model::EntryError>)>),
    /// `StartMessageMoveTask`'s `TaskHandle`.
    TaskHandle(String),
    /// `ListMessageMoveTasks`'s `Results`.
    MoveTasks(Vec<crate::engine::MoveTask>),
    /// `CancelMessageMoveTask`'s `ApproximateNumberOfMessagesMoved`.
    Moved(u64),
}

impl SqsOp {
    /// The operation's name (`SendMessage`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::CreateQueue { .. } => "CreateQueue",
            Self::GetQueueUrl { .. } => "GetQueueUrl",
            Self::ListQueues { .. } => "ListQueues",
            Self::GetQueueAttributes { .. } => "GetQueueAttributes",
            Self::SetQueueAttributes { .. } => "SetQueueAttributes",
            Self::DeleteQueue { .. } => "DeleteQueue",
            Self::PurgeQueue { .. } => "PurgeQueue",
            Self::SendMessage { .. } => "SendMessage",
            Self::SendMessageBatch { .. } => "SendMessageBatch",
            Self::ReceiveMessage { .. } => "ReceiveMessage",
            Self::DeleteMessage { .. } => "DeleteMessage",
            Self::DeleteMessageBatch { .. } => "DeleteMessageBatch",
            Self::ChangeMessageVisibility { .. } => "ChangeMessageVisibility",
            Self::ChangeMessageVisibilityBatch { .. } => "ChangeMessageVisibilityBatch",
            Self::TagQueue { .. } => "TagQueue",
            Self::UntagQueue { .. } => "UntagQueue",
            Self::ListQueueTags { .. } => "ListQueueTags",
            Self::AddPermission { .. } => "AddPermission",
            Self::RemovePermission { .. } => "RemovePermission",
            Self::ListDeadLetterSourceQueues { .. } => "ListDeadLetterSourceQueues",
            Self::StartMessageMoveTask { .. } => "StartMessageMoveTask",
            Self::ListMessageMoveTasks { .. } => "ListMessageMoveTasks",
            Self::CancelMessageMoveTask { .. } => "CancelMessageMoveTask",
        }
    }

    /// The IAM action: `sqs:<Operation>`, a batch authorized as its single
    /// operation (IAM has no batch actions for SQS).
    pub fn action(&self) -> &'static str {
        match self {
            Self::CreateQueue { .. } => "sqs:CreateQueue",
            Self::GetQueueUrl { .. } => "sqs:GetQueueUrl",
            Self::ListQueues { .. } => "sqs:ListQueues",
            Self::GetQueueAttributes { .. } => "sqs:GetQueueAttributes",
            Self::SetQueueAttributes { .. } => "sqs:SetQueueAttributes",
            Self::DeleteQueue { .. } => "sqs:DeleteQueue",
            Self::PurgeQueue { .. } => "sqs:PurgeQueue",
            Self::SendMessage { .. } | Self::SendMessageBatch { .. } => "sqs:SendMessage",
            Self::ReceiveMessage { .. } => "sqs:ReceiveMessage",
            Self::DeleteMessage { .. } | Self::DeleteMessageBatch { .. } => "sqs:DeleteMessage",
            Self::ChangeMessageVisibility { .. } | Self::ChangeMessageVisibilityBatch { .. } => {
                "sqs:ChangeMessageVisibility"
            }
            Self::TagQueue { .. } => "sqs:TagQueue",
            Self::UntagQueue { .. } => "sqs:UntagQueue",
            Self::ListQueueTags { .. } => "sqs:ListQueueTags",
            Self::AddPermission { .. } => "sqs:AddPermission",
            Self::RemovePermission { .. } => "sqs:RemovePermission",
            Self::ListDeadLetterSourceQueues { .. } => "sqs:ListDeadLetterSourceQueues",
            Self::StartMessageMoveTask { .. } => "sqs:StartMessageMoveTask",
            Self::ListMessageMoveTasks { .. } => "sqs:ListMessageMoveTasks",
            Self::CancelMessageMoveTask { .. } => "sqs:CancelMessageMoveTask",
        }
    }

    /// The queue the operation acts on, by name, when the request names
    /// one by URL or name (`None` for `ListQueues`, the move-task
    /// operations, which name queues by ARN, and `CancelMessageMoveTask`).
    pub fn queue(&self) -> Option<&str> {
        match self {
            Self::CreateQueue { name, .. } | Self::GetQueueUrl { name } => Some(name),
            Self::GetQueueAttributes { queue, .. }
            | Self::SetQueueAttributes { queue, .. }
            | Self::DeleteQueue { queue }
            | Self::PurgeQueue { queue }
            | Self::SendMessage { queue, .. }
            | Self::SendMessageBatch { queue, .. }
            | Self::ReceiveMessage { queue, .. }
            | Self::DeleteMessage { queue, .. }
            | Self::DeleteMessageBatch { queue, .. }
            | Self::ChangeMessageVisibility { queue, .. }
            | Self::ChangeMessageVisibilityBatch { queue, .. }
            | Self::TagQueue { queue, .. }
            | Self::UntagQueue { queue, .. }
            | Self::ListQueueTags { queue }
            | Self::AddPermission { queue, .. }
            | Self::RemovePermission { queue, .. }
            | Self::ListDeadLetterSourceQueues { queue, .. } => Some(queue),
            Self::ListQueues { .. }
            | Self::StartMessageMoveTask { .. }
            | Self::ListMessageMoveTasks { .. }
            | Self::CancelMessageMoveTask { .. } => None,
        }
    }

    /// The queue ARN an operation naming one by ARN acts on.
    pub fn queue_arn(&self) -> Option<&str> {
        match self {
            Self::StartMessageMoveTask { source_arn, .. }
            | Self::ListMessageMoveTasks { source_arn, .. } => Some(source_arn),
            _ => None,
        }
    }

    /// SQS's checks of the input that need no queue: receive limits,
    /// batch sizes and ids, attribute names.
    pub fn validate(&self) -> Result<(), SqsError> {
        match self {
            Self::ReceiveMessage {
                receive, selection, ..
            } => {
                if !(1..=10).contains(&receive.max_messages) {
                    return Err(invalid_value(
                        "MaxNumberOfMessages",
                        receive.max_messages,
                        "Must be between 1 and 10, if provided.",
                    ));
                }
                if let Some(w) = receive.wait_seconds.filter(|w| *w > 20) {
                    return Err(invalid_value(
                        "WaitTimeSeconds",
                        w,
                        "Must be >= 0 and <= 20, if provided.",
                    ));
                }
                if let Some(v) = receive.visibility_timeout.filter(|v| *v > 43_200) {
                    return Err(invalid_value(
                        "VisibilityTimeout",
                        v,
                        "Must be >= 0 and <= 43200, if provided.",
                    ));
                }
                if let Some(bad) = selection
                    .system
                    .iter()
                    .find(|n| !SYSTEM_ATTRIBUTE_NAMES.contains(&n.as_str()))
                {
                    return Err(SqsError::sender(
                        "InvalidAttributeName",
                        format!("Unknown Attribute {bad}."),
                    ));
                }
                if let Some(id) = &receive.attempt_id {
                    check_dedup_like("ReceiveRequestAttemptId", id)?;
                }
                Ok(())
            }
            Self::GetQueueAttributes { names, .. } => {
                match names
                    .iter()
                    .find(|n| !QUEUE_ATTRIBUTE_NAMES.contains(&n.as_str()))
                {
                    Some(bad) => Err(SqsError::sender(
                        "InvalidAttributeName",
                        format!("Unknown Attribute {bad}."),
                    )),
                    None => Ok(()),
                }
            }
            Self::ChangeMessageVisibility {
                visibility_timeout, ..
            } => check_visibility(*visibility_timeout),
            Self::SendMessageBatch { entries, .. } => {
                check_batch(
                    "SendMessageBatchRequestEntry",
                    entries.iter().map(|(id, _)| id.as_str()),
                )?;
                let total: usize = entries.iter().map(|(_, m)| message_size(m)).sum();
                if total > MAX_MESSAGE_SIZE {
                    return Err(SqsError::sender(
                        "BatchRequestTooLong",
                        format!(
                            "Batch requests cannot be longer than {MAX_MESSAGE_SIZE} bytes. You have sent {total} bytes."
                        ),
                    ));
                }
                Ok(())
            }
            Self::DeleteMessageBatch { entries, .. } => check_batch(
                "DeleteMessageBatchRequestEntry",
                entries.iter().map(|(id, _)| id.as_str()),
            ),
            Self::ChangeMessageVisibilityBatch { entries, .. } => check_batch(
                "ChangeMessageVisibilityBatchRequestEntry",
                entries.iter().map(|(id, _, _)| id.as_str()),
            ),
            Self::AddPermission {
                label,
                accounts,
                actions,
                ..
            } => {
                check_label(label)?;
                if accounts.is_empty() {
                    return Err(SqsError::sender(
                        "MissingParameter",
                        "The request must contain the parameter AWSAccountIds.",
                    ));
                }
                if actions.is_empty() {
                    return Err(SqsError::sender(
                        "MissingParameter",
                        "The request must contain the parameter Actions.",
                    ));
                }
                match actions
                    .iter()
                    .find(|a| !SHAREABLE_ACTIONS.contains(&a.as_str()))
                {
                    Some(bad) => Err(invalid_value(
                        "ActionName",
                        bad,
                        "Please refer to the appropriate WSDL for a list of valid actions.",
                    )),
                    None => Ok(()),
                }
            }
            Self::RemovePermission { label, .. } => check_label(label),
            Self::ListMessageMoveTasks { max: Some(m), .. } if !(1..=10).contains(m) => Err(
                invalid_value("MaxResults", m, "Must be between 1 and 10, if provided."),
            ),
            Self::ListQueues { max: Some(m), .. }
            | Self::ListDeadLetterSourceQueues { max: Some(m), .. }
                if !(1..=1000).contains(m) =>
            {
                Err(invalid_value(
                    "MaxResults",
                    m,
                    "Must be between 1 and 1000, if provided.",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// `InvalidParameterValue` in SQS's words.
pub fn invalid_value(param: &str, value: impl std::fmt::Display, reason: &str) -> SqsError {
    SqsError::sender(
        "InvalidParameterValue",
        format!("Value {value} for parameter {param} is invalid. Reason: {reason}"),
    )
}

fn check_visibility(timeout: u32) -> Result<(), SqsError> {
    if timeout > 43_200 {
        return Err(invalid_value(
            "VisibilityTimeout",
            timeout,
            "Must be >= 0 and <= 43200, if provided.",
        ));
    }
    Ok(())
}

/// 1–10 entries (`entry` names their kind), each id 1–80 of
/// `[A-Za-z0-9_-]`, no id twice.
fn check_batch<'a>(
    entry: &str,
    ids: impl ExactSizeIterator<Item = &'a str>,
) -> Result<(), SqsError> {
    if ids.len() == 0 {
        return Err(SqsError::sender(
            "EmptyBatchRequest",
            format!("There should be at least one {entry} in the request."),
        ));
    }
    if ids.len() > MAX_BATCH_ENTRIES {
        return Err(SqsError::sender(
            "TooManyEntriesInBatchRequest",
            format!(
                "Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {}.",
                ids.len()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for id in ids {
        let valid = !id.is_empty()
            && id.len() <= 80
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(SqsError::sender(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(SqsError::sender(
                "BatchEntryIdsNotDistinct",
                format!("Id {id} repeated."),
            ));
        }
    }
    Ok(())
}

/// A permission label: 1–80 of `[A-Za-z0-9_-]`.
fn check_label(label: &str) -> Result<(), SqsError> {
    let valid = !label.is_empty()
        && label.len() <= 80
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(invalid_value(
            "Label",
            label,
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ))
    }
}

/// An id of up to 128 printable ASCII characters (deduplication and
/// receive request attempt ids).
fn check_dedup_like(param: &str, id: &str) -> Result<(), SqsError> {
    let valid = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if valid {
        Ok(())
    } else {
        Err(invalid_value(
            param,
            id,
            "Must be 1 to 128 printable ASCII characters.",
        ))
    }
}

/// A message's size as SQS counts it: the body plus each attribute's
/// name, data type and value.
pub fn message_size(m: &Outgoing) -> usize {
    m.body.len()
        + m.attributes
            .iter()
            .map(|(name, v)| {
                name.len()
                    + v.data_type.len()
                    + v.string_value.as_ref().map_or(0, String::len)
                    + v.binary_value.as_ref().map_or(0, Vec::len)
            })
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize) -> SqsOp {
        SqsOp::DeleteMessageBatch {
            queue: "q".into(),
            entries: (0..n).map(|i| (format!("e{i}"), "h".to_string())).collect(),
        }
    }

    #[test]
    fn batches_hold_one_to_ten_distinct_valid_ids() {
        assert!(batch(1).validate().is_ok());
        assert!(batch(10).validate().is_ok());
        assert_eq!(batch(0).validate().unwrap_err().code, "EmptyBatchRequest");
        assert_eq!(
            batch(11).validate().unwrap_err().code,
            "TooManyEntriesInBatchRequest"
        );
        let twice = SqsOp::DeleteMessageBatch {
            queue: "q".into(),
            entries: vec![("a".into(), "h".into()), ("a".into(), "h".into())],
        };
        assert_eq!(
            twice.validate().unwrap_err().code,
            "BatchEntryIdsNotDistinct"
        );
        let bad = SqsOp::DeleteMessageBatch {
            queue: "q".into(),
            entries: vec![("a b".into(), "h".into())],
        };
        assert_eq!(bad.validate().unwrap_err().code, "InvalidBatchEntryId");
    }

    #[test]
    fn receives_are_bounded() {
        let op = |max, wait| SqsOp::ReceiveMessage {
            queue: "q".into(),
            receive: Receive {
                max_messages: max,
                visibility_timeout: None,
                wait_seconds: wait,
                attempt_id: None,
            },
            selection: Selection::default(),
        };
        assert!(op(10, Some(20)).validate().is_ok());
        assert_eq!(
            op(11, None).validate().unwrap_err().code,
            "InvalidParameterValue"
        );
        assert_eq!(
            op(0, None).validate().unwrap_err().code,
            "InvalidParameterValue"
        );
        assert_eq!(
            op(1, Some(21)).validate().unwrap_err().code,
            "InvalidParameterValue"
        );
    }

    #[test]
    fn selections_take_all_prefixes_and_names() {
        let s = Selection {
            system: vec!["SentTimestamp".into()],
            message: vec!["trace.*".into(), "exact".into()],
        };
        assert!(s.wants_system("SentTimestamp"));
        assert!(!s.wants_system("SenderId"));
        assert!(s.wants_message("trace.id"));
        assert!(!s.wants_message("tracer"));
        assert!(s.wants_message("exact"));
        assert!(!s.wants_message("other"));
        let all = Selection {
            system: vec!["All".into()],
            message: vec![".*".into()],
        };
        assert!(all.wants_system("SenderId") && all.wants_message("anything"));
    }
}
