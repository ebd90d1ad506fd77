//! The JSON protocol's input, by the model's member names, read into an
//! [`SqsOp`]. One flat structure holds every member of every operation
//! (each operation takes what it has and requires what SQS requires); the
//! query protocol reaches it through [`super::query::to_json`].

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use crate::error::SqsError;
use crate::model::{AttributeValue, MessageAttributes, Outgoing, Receive};
use crate::op::{invalid_value, Selection, SqsOp};

use super::queue_name_of_url;

/// Every input member of SQS's operations.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Input {
    queue_url: Option<String>,
    queue_name: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
    #[serde(rename = "tags", alias = "Tags")]
    tags: Option<BTreeMap<String, String>>,
    queue_name_prefix: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
    attribute_names: Option<Vec<String>>,
    message_system_attribute_names: Option<Vec<String>>,
    message_attribute_names: Option<Vec<String>>,
    max_number_of_messages: Option<i64>,
    visibility_timeout: Option<i64>,
    wait_time_seconds: Option<i64>,
    receive_request_attempt_id: Option<String>,
    receipt_handle: Option<String>,
    #[serde(flatten)]
    message: MessageInput,
    entries: Option<Vec<Entry>>,
    tag_keys: Option<Vec<String>>,
    label: Option<String>,
    #[serde(rename = "AWSAccountIds")]
    aws_account_ids: Option<Vec<String>>,
    actions: Option<Vec<String>>,
    source_arn: Option<String>,
    destination_arn: Option<String>,
    max_number_of_messages_per_second: Option<i64>,
    task_handle: Option<String>,
}

/// The members of a message to send (`SendMessage`, a batch entry).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct MessageInput {
    message_body: Option<String>,
    delay_seconds: Option<i64>,
    message_attributes: Option<BTreeMap<String, AttributeInput>>,
    message_system_attributes: Option<BTreeMap<String, AttributeInput>>,
    message_deduplication_id: Option<String>,
    message_group_id: Option<String>,
}

/// A batch entry of any of the three batch operations.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Entry {
    id: Option<String>,
    #[serde(flatten)]
    message: MessageInput,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

/// `MessageAttributeValue`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AttributeInput {
    data_type: Option<String>,
    string_value: Option<String>,
    binary_value: Option<String>,
}

/// The operation `operation` with the JSON protocol's input `value`.
pub fn read(operation: &str, value: Value) -> Result<SqsOp, SqsError> {
    if !value.is_object() {
        return Err(SqsError::sender(
            "InvalidParameterValue",
            "The request body must be a JSON object.",
        ));
    }
    let mut input: Input = serde_json::from_value(value).map_err(|e| {
        SqsError::sender(
            "InvalidParameterValue",
            format!("The request's parameters are malformed: {e}"),
        )
    })?;
    let op = match operation {
        "CreateQueue" => SqsOp::CreateQueue {
            name: required(input.queue_name.take(), "QueueName")?,
            attributes: input.attributes.take().unwrap_or_default(),
            tags: input.tags.take().unwrap_or_default(),
        },
        "GetQueueUrl" => SqsOp::GetQueueUrl {
            name: required(input.queue_name.take(), "QueueName")?,
        },
        "ListQueues" => SqsOp::ListQueues {
            prefix: input.queue_name_prefix.take(),
            max: unsigned(input.max_results, "MaxResults")?,
            next_token: input.next_token.take(),
        },
        "GetQueueAttributes" => SqsOp::GetQueueAttributes {
            queue: queue(&mut input)?,
            names: input.attribute_names.take().unwrap_or_default(),
        },
        "SetQueueAttributes" => SqsOp::SetQueueAttributes {
            queue: queue(&mut input)?,
            attributes: required(input.attributes.take(), "Attributes")?,
        },
        "DeleteQueue" => SqsOp::DeleteQueue {
            queue: queue(&mut input)?,
        },
        "PurgeQueue" => SqsOp::PurgeQueue {
            queue: queue(&mut input)?,
        },
        "SendMessage" => SqsOp::SendMessage {
            queue: queue(&mut input)?,
            message: outgoing(std::mem::take(&mut input.message))?,
        },
        "SendMessageBatch" => {
            let queue = queue(&mut input)?;
            let entries = required(input.entries.take(), "Entries")?
                .into_iter()
                .map(|e| Ok((entry_id(e.id)?, outgoing(e.message)?)))
                .collect::<Result<_, SqsError>>()?;
            SqsOp::SendMessageBatch { queue, entries }
        }
        "ReceiveMessage" => {
            let mut system = input.attribute_names.take().unwrap_or_default();
            system.extend(
                input
                    .message_system_attribute_names
                    .take()
                    .unwrap_or_default(),
            );
            SqsOp::ReceiveMessage {
                queue: queue(&mut input)?,
                receive: Receive {
                    max_messages: match input.max_number_of_messages {
                        None => 1,
                        Some(n) => u32::try_from(n).map_err(|_| {
                            invalid_value(
                                "MaxNumberOfMessages",
                                n,
                                "Must be between 1 and 10, if provided.",
                            )
                        })?,
                    },
                    visibility_timeout: unsigned(input.visibility_timeout, "VisibilityTimeout")?,
                    wait_seconds: unsigned(input.wait_time_seconds, "WaitTimeSeconds")?,
                    attempt_id: input.receive_request_attempt_id.take(),
                },
                selection: Selection {
                    system,
                    message: input.message_attribute_names.take().unwrap_or_default(),
                },
            }
        }
        "DeleteMessage" => SqsOp::DeleteMessage {
            queue: queue(&mut input)?,
            receipt_handle: required(input.receipt_handle.take(), "ReceiptHandle")?,
        },
        "DeleteMessageBatch" => {
            let queue = queue(&mut input)?;
            let entries = required(input.entries.take(), "Entries")?
                .into_iter()
                .map(|e| {
                    Ok((
                        entry_id(e.id)?,
                        required(e.receipt_handle, "ReceiptHandle")?,
                    ))
                })
                .collect::<Result<_, SqsError>>()?;
            SqsOp::DeleteMessageBatch { queue, entries }
        }
        "ChangeMessageVisibility" => SqsOp::ChangeMessageVisibility {
            queue: queue(&mut input)?,
            receipt_handle: required(input.receipt_handle.take(), "ReceiptHandle")?,
            visibility_timeout: required(
                unsigned(input.visibility_timeout, "VisibilityTimeout")?,
                "VisibilityTimeout",
            )?,
        },
        "ChangeMessageVisibilityBatch" => {
            let queue = queue(&mut input)?;
            let entries = required(input.entries.take(), "Entries")?
                .into_iter()
                .map(|e| {
                    Ok((
                        entry_id(e.id)?,
                        required(e.receipt_handle, "ReceiptHandle")?,
                        required(
                            unsigned(e.visibility_timeout, "VisibilityTimeout")?,
                            "VisibilityTimeout",
                        )?,
                    ))
                })
                .collect::<Result<_, SqsError>>()?;
            SqsOp::ChangeMessageVisibilityBatch { queue, entries }
        }
        "TagQueue" => SqsOp::TagQueue {
            queue: queue(&mut input)?,
            tags: required(input.tags.take(), "Tags")?,
        },
        "UntagQueue" => SqsOp::UntagQueue {
            queue: queue(&mut input)?,
            keys: required(input.tag_keys.take(), "TagKeys")?,
        },
        "ListQueueTags" => SqsOp::ListQueueTags {
            queue: queue(&mut input)?,
        },
        "AddPermission" => SqsOp::AddPermission {
            queue: queue(&mut input)?,
            label: required(input.label.take(), "Label")?,
            accounts: required(input.aws_account_ids.take(), "AWSAccountIds")?,
            actions: required(input.actions.take(), "Actions")?,
        },
        "RemovePermission" => SqsOp::RemovePermission {
            queue: queue(&mut input)?,
            label: required(input.label.take(), "Label")?,
        },
        "ListDeadLetterSourceQueues" => SqsOp::ListDeadLetterSourceQueues {
            queue: queue(&mut input)?,
            max: unsigned(input.max_results, "MaxResults")?,
            next_token: input.next_token.take(),
        },
        "StartMessageMoveTask" => SqsOp::StartMessageMoveTask {
            source_arn: required(input.source_arn.take(), "SourceArn")?,
            destination_arn: input.destination_arn.take(),
            max_per_second: unsigned(
                input.max_number_of_messages_per_second,
                "MaxNumberOfMessagesPerSecond",
            )?,
        },
        "ListMessageMoveTasks" => SqsOp::ListMessageMoveTasks {
            source_arn: required(input.source_arn.take(), "SourceArn")?,
            max: unsigned(input.max_results, "MaxResults")?,
        },
        "CancelMessageMoveTask" => SqsOp::CancelMessageMoveTask {
            handle: required(input.task_handle.take(), "TaskHandle")?,
        },
        other => {
            return Err(SqsError::sender(
                "InvalidAction",
                format!("The action {other} is not valid for this endpoint."),
            ))
        }
    };
    Ok(op)
}

fn required<T>(value: Option<T>, name: &str) -> Result<T, SqsError> {
    value.ok_or_else(|| {
        SqsError::sender(
            "MissingParameter",
            format!("The request must contain the parameter {name}."),
        )
    })
}

fn queue(input: &mut Input) -> Result<String, SqsError> {
    queue_name_of_url(&required(input.queue_url.take(), "QueueUrl")?)
}

fn unsigned(value: Option<i64>, name: &str) -> Result<Option<u32>, SqsError> {
    value
        .map(|v| {
            u32::try_from(v).map_err(|_| invalid_value(name, v, "Must be a non-negative integer."))
        })
        .transpose()
}

fn entry_id(id: Option<String>) -> Result<String, SqsError> {
    required(id, "Id")
}

fn outgoing(m: MessageInput) -> Result<Outgoing, SqsError> {
    Ok(Outgoing {
        body: required(m.message_body, "MessageBody")?,
        delay_seconds: unsigned(m.delay_seconds, "DelaySeconds")?,
        attributes: attributes(m.message_attributes.unwrap_or_default())?,
        system_attributes: attributes(m.message_system_attributes.unwrap_or_default())?,
        group_id: m.message_group_id,
        deduplication_id: m.message_deduplication_id,
        sender_id: String::new(),
    })
}

/// Message attributes with their binary values decoded (base64 on both
/// protocols).
fn attributes(input: BTreeMap<String, AttributeInput>) -> Result<MessageAttributes, SqsError> {
    input
        .into_iter()
        .map(|(name, v)| {
            let binary_value = match v.binary_value {
                Some(b64) => Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64.as_bytes())
                        .map_err(|_| {
                            SqsError::sender(
                                "InvalidParameterValue",
                                format!("The binary value of message attribute '{name}' is not valid base64."),
                            )
                        })?,
                ),
                None => None,
            };
            let data_type = v.data_type.unwrap_or_default();
            if data_type.is_empty() {
                return Err(SqsError::sender(
                    "InvalidParameterValue",
                    format!("The message attribute '{name}' must contain non-empty message attribute type."),
                ));
            }
            Ok((
                name,
                AttributeValue {
                    data_type,
                    string_value: v.string_value,
                    binary_value,
                },
            ))
        })
        .collect()
}
