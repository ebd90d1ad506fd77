//! SQS's query protocol (the API before 2023, which older SDKs speak):
//! its flattened form parameters turned into the JSON protocol's input,
//! and its XML answers.
//!
//! The form flattens lists and maps under singular names, indexed from 1:
//! `Attribute.1.Name`/`Attribute.1.Value` is the map `Attributes`,
//! `Tag.N.Key`/`Value` the map `Tags`, `AttributeName.N` the list
//! `AttributeNames`, `MessageAttribute.N.Name` and
//! `MessageAttribute.N.Value.StringValue` the map `MessageAttributes`, and
//! `SendMessageBatchRequestEntry.N.…` (and the delete and visibility
//! batches' entries) the list `Entries`.

use std::collections::BTreeMap;

use base64::Engine as _;
use ignis_protocol::{Members, QueryResponse};
use serde_json::{Map, Value};

use crate::engine::MoveTask;
use crate::model::{Delivered, EntryError, MessageAttributes, Sent};
use crate::op::SqsOutput;

use super::XML_NAMESPACE;

/// Flattened maps: the form's name, the JSON member, the key's and the
/// value's field names.
const MAPS: &[(&str, &str, &str, &str)] = &[
    ("Attribute", "Attributes", "Name", "Value"),
    ("Tag", "Tags", "Key", "Value"),
    ("MessageAttribute", "MessageAttributes", "Name", "Value"),
    (
        "MessageSystemAttribute",
        "MessageSystemAttributes",
        "Name",
        "Value",
    ),
];

/// Flattened lists of scalars: the form's name and the JSON member.
const LISTS: &[(&str, &str)] = &[
    ("AttributeName", "AttributeNames"),
    ("MessageAttributeName", "MessageAttributeNames"),
    ("MessageSystemAttributeName", "MessageSystemAttributeNames"),
    ("TagKey", "TagKeys"),
    ("AWSAccountId", "AWSAccountIds"),
    ("ActionName", "Actions"),
    ("StringListValue", "StringListValues"),
    ("BinaryListValue", "BinaryListValues"),
];

/// Integer members (the form carries every value as text).
const INTEGERS: &[&str] = &[
    "DelaySeconds",
    "MaxNumberOfMessages",
    "VisibilityTimeout",
    "WaitTimeSeconds",
    "MaxResults",
    "MaxNumberOfMessagesPerSecond",
];

/// A form's parameters as a tree of their dotted names.
#[derive(Debug, Default)]
struct Node {
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

/// The JSON protocol's input of a query request's parameters (`Action`
/// and `Version` already taken out).
pub fn to_json(params: &BTreeMap<String, String>) -> Value {
    let mut root = Node::default();
    for (key, value) in params {
        let mut node = &mut root;
        for part in key.split('.') {
            node = node.children.entry(part.to_string()).or_default();
        }
        node.value = Some(value.clone());
    }
    Value::Object(structure(&root))
}

fn structure(node: &Node) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, child) in &node.children {
        let indexed =
            !child.children.is_empty() && child.children.keys().all(|k| k.parse::<u32>().is_ok());
        if !indexed {
            let value = match &child.value {
                Some(text) if child.children.is_empty() => scalar(name, text),
                _ => Value::Object(structure(child)),
            };
            out.insert(name.clone(), value);
            continue;
        }
        let mut items: Vec<(u32, &Node)> = child
            .children
            .iter()
            .filter_map(|(k, n)| Some((k.parse().ok()?, n)))
            .collect();
        items.sort_by_key(|(i, _)| *i);
        if let Some((_, member, key, value)) = MAPS.iter().find(|(form, ..)| form == name) {
            let mut map = Map::new();
            for (_, item) in items {
                let Some(k) = item.children.get(*key).and_then(|n| n.value.clone()) else {
                    continue;
                };
                let v = match item.children.get(*value) {
                    Some(n) if n.children.is_empty() => {
                        Value::String(n.value.clone().unwrap_or_default())
                    }
                    Some(n) => Value::Object(structure(n)),
                    None => Value::Null,
                };
                map.insert(k, v);
            }
            out.insert((*member).to_string(), Value::Object(map));
        } else if let Some((_, member)) = LISTS.iter().find(|(form, _)| form == name) {
            let list = items
                .into_iter()
                .map(|(_, n)| Value::String(n.value.clone().unwrap_or_default()))
                .collect();
            out.insert((*member).to_string(), Value::Array(list));
        } else {
            let list = items
                .into_iter()
                .map(|(_, n)| Value::Object(structure(n)))
                .collect();
            let member = if name.ends_with("RequestEntry") {
                "Entries".to_string()
            } else {
                name.clone()
            };
            out.insert(member, Value::Array(list));
        }
    }
    out
}

/// A scalar: a number for an integer member that reads as one.
fn scalar(name: &str, text: &str) -> Value {
    if INTEGERS.contains(&name) {
        if let Ok(n) = text.trim().parse::<i64>() {
            return Value::from(n);
        }
    }
    Value::String(text.to_string())
}

/// The XML answer of `operation`.
pub fn render(operation: &str, output: &SqsOutput) -> QueryResponse {
    let result = match output {
        SqsOutput::Empty => return QueryResponse::empty(operation, XML_NAMESPACE),
        SqsOutput::QueueUrl(url) => Members::new().text("QueueUrl", url),
        SqsOutput::QueueUrls(urls, next) | SqsOutput::DeadLetterSources(urls, next) => {
            let mut m = Members::new();
            for url in urls {
                m = m.text("QueueUrl", url);
            }
            m.opt("NextToken", next.clone())
        }
        SqsOutput::Attributes(attrs) => pairs(Members::new(), "Attribute", "Name", attrs),
        SqsOutput::Tags(tags) => pairs(Members::new(), "Tag", "Key", tags),
        SqsOutput::Sent(sent) => sent_members(Members::new(), sent),
        SqsOutput::SentBatch(entries) => {
            batch(entries, "SendMessageBatchResultEntry", |id, sent: &Sent| {
                sent_members(Members::new().text("Id", id), sent)
            })
        }
        SqsOutput::Received(messages) => {
            let mut m = Members::new();
            for msg in messages {
                m = m.nested("Message", message(msg));
            }
            m
        }
        SqsOutput::Batch(entries) => {
            let entry = match operation {
                "DeleteMessageBatch" => "DeleteMessageBatchResultEntry",
                _ => "ChangeMessageVisibilityBatchResultEntry",
            };
            batch(entries, entry, |id, _: &()| Members::new().text("Id", id))
        }
        SqsOutput::TaskHandle(handle) => Members::new().text("TaskHandle", handle),
        SqsOutput::MoveTasks(tasks) => {
            let mut m = Members::new();
            for t in tasks {
                m = m.nested("ListMessageMoveTasksResultEntry", move_task(t));
            }
            m
        }
        SqsOutput::Moved(n) => {
            Members::new().text("ApproximateNumberOfMessagesMoved", n.to_string())
        }
    };
    QueryResponse::new(operation, XML_NAMESPACE, result)
}

/// A flattened map: `<Attribute><Name>k</Name><Value>v</Value></Attribute>`…
fn pairs(
    mut m: Members,
    element: &'static str,
    key: &'static str,
    map: &BTreeMap<String, String>,
) -> Members {
    for (k, v) in map {
        m = m.nested(element, Members::new().text(key, k).text("Value", v));
    }
    m
}

fn sent_members(m: Members, sent: &Sent) -> Members {
    m.text("MessageId", &sent.message_id)
        .text("MD5OfMessageBody", &sent.md5_of_body)
        .opt(
            "MD5OfMessageAttributes",
            sent.md5_of_message_attributes.clone(),
        )
        .opt(
            "MD5OfMessageSystemAttributes",
            sent.md5_of_system_attributes.clone(),
        )
        .opt("SequenceNumber", sent.sequence_number.clone())
}

fn batch<T>(
    entries: &[(String, Result<T, EntryError>)],
    entry: &'static str,
    ok: impl Fn(&str, &T) -> Members,
) -> Members {
    let mut m = Members::new();
    for (id, result) in entries {
        if let Ok(v) = result {
            m = m.nested(entry, ok(id, v));
        }
    }
    for (id, result) in entries {
        if let Err(e) = result {
            m = m.nested(
                "BatchResultErrorEntry",
                Members::new()
                    .text("Id", id)
                    .bool("SenderFault", e.sender_fault)
                    .text("Code", &e.code)
                    .text("Message", &e.message),
            );
        }
    }
    m
}

fn message(msg: &Delivered) -> Members {
    let mut m = Members::new()
        .text("MessageId", &msg.message_id)
        .text("ReceiptHandle", &msg.receipt_handle)
        .text("MD5OfBody", &msg.md5_of_body)
        .text("Body", &msg.body);
    m = pairs(m, "Attribute", "Name", &msg.attributes);
    if !msg.message_attributes.is_empty() {
        m = m.opt(
            "MD5OfMessageAttributes",
            msg.md5_of_message_attributes.clone(),
        );
        m = message_attributes(m, &msg.message_attributes);
    }
    m
}

/// `<MessageAttribute><Name>…</Name><Value><StringValue>…</StringValue>
/// <DataType>…</DataType></Value></MessageAttribute>`…, binary values in
/// base64.
fn message_attributes(mut m: Members, attrs: &MessageAttributes) -> Members {
    for (name, v) in attrs {
        let value = Members::new()
            .opt("StringValue", v.string_value.clone())
            .opt(
                "BinaryValue",
                v.binary_value
                    .as_ref()
                    .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
            )
            .text("DataType", &v.data_type);
        m = m.nested(
            "MessageAttribute",
            Members::new().text("Name", name).nested("Value", value),
        );
    }
    m
}

fn move_task(t: &MoveTask) -> Members {
    let handle = (t.status == "RUNNING").then(|| t.handle.clone());
    Members::new()
        .opt("TaskHandle", handle)
        .text("Status", &t.status)
        .text("SourceArn", &t.source_arn)
        .opt("DestinationArn", t.destination_arn.clone())
        .opt(
            "MaxNumberOfMessagesPerSecond",
            t.max_per_second.map(|r| r.to_string()),
        )
        .text("ApproximateNumberOfMessagesMoved", t.moved.to_string())
        .text("ApproximateNumberOfMessagesToMove", t.to_move.to_string())
        .opt("FailureReason", t.failure_reason.clone())
        .text("StartedTimestamp", t.started_ms.to_string())
}
