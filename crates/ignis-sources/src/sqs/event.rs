//! The SQS event Lambda hands a function: `{"Records":[…]}`, one record
//! per message in Lambda's exact shape, and the batch-item-failures
//! response a function may answer with.

use std::collections::{BTreeMap, HashSet};

use base64::Engine;
use ignis_sqs::{Delivered, MessageAttributes};
use serde::Serialize;

/// Lambda's limit on a synchronous invocation's payload.
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

/// System attributes a record carries when the message has them (the FIFO
/// ones; `DeadLetterQueueSourceArn` on a dead-letter queue's messages).
const ATTRIBUTES: &[&str] = &[
    "ApproximateReceiveCount",
    "AWSTraceHeader",
    "SentTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "SenderId",
    "MessageDeduplicationId",
    "ApproximateFirstReceiveTimestamp",
    "DeadLetterQueueSourceArn",
];

/// One message attribute as the SQS event shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Attribute {
    #[serde(skip_serializing_if = "Option::is_none")]
    string_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binary_value: Option<String>,
    string_list_values: [String; 0],
    binary_list_values: [String; 0],
    data_type: String,
}

/// One record of the event.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record<'a> {
    message_id: &'a str,
    receipt_handle: &'a str,
    body: &'a str,
    attributes: BTreeMap<&'a str, &'a str>,
    message_attributes: BTreeMap<&'a str, Attribute>,
    md5_of_body: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    md5_of_message_attributes: Option<&'a str>,
    event_source: &'static str,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: &'a str,
    aws_region: &'a str,
}

fn attributes(m: &MessageAttributes) -> BTreeMap<&str, Attribute> {
    m.iter()
        .map(|(name, v)| {
            let attribute = Attribute {
                string_value: v.string_value.clone(),
                binary_value: v
                    .binary_value
                    .as_ref()
                    .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
                string_list_values: [],
                binary_list_values: [],
                data_type: v.data_type.clone(),
            };
            (name.as_str(), attribute)
        })
        .collect()
}

/// The record of `m`, received from the queue `arn` in `region`.
pub fn record<'a>(m: &'a Delivered, arn: &'a str, region: &'a str) -> Record<'a> {
    Record {
        message_id: &m.message_id,
        receipt_handle: &m.receipt_handle,
        body: &m.body,
        attributes: ATTRIBUTES
            .iter()
            .filter_map(|k| m.attributes.get(*k).map(|v| (*k, v.as_str())))
            .collect(),
        message_attributes: attributes(&m.message_attributes),
        md5_of_body: &m.md5_of_body,
        md5_of_message_attributes: m.md5_of_message_attributes.as_deref(),
        event_source: "aws:sqs",
        event_source_arn: arn,
        aws_region: region,
    }
}

/// The event for a batch.
pub fn event(batch: &[Delivered], arn: &str, region: &str) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Event<'a> {
        records: Vec<Record<'a>>,
    }
    let records = batch.iter().map(|m| record(m, arn, region)).collect();
    serde_json::to_vec(&Event { records }).expect("an SQS event serializes")
}

/// How a function with `ReportBatchItemFailures` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Every message succeeded.
    AllSucceeded,
    /// These message ids failed; the others succeeded.
    Failed(HashSet<String>),
    /// The answer is not one Lambda accepts: the whole batch failed.
    Malformed,
}

/// Reads a function's answer as Lambda does: null, `{}`, or an empty or
/// null `batchItemFailures` is success; an `itemIdentifier` that is
/// missing, empty, not a string or not a message of the batch, or an
/// answer that is not JSON, fails the whole batch.
pub fn item_failures(response: &[u8], batch: &[Delivered]) -> ItemOutcome {
    let trimmed = response.trim_ascii();
    if trimmed.is_empty() {
        return ItemOutcome::AllSucceeded;
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(trimmed) else {
        return ItemOutcome::Malformed;
    };
    let failures = match &value {
        serde_json::Value::Null => return ItemOutcome::AllSucceeded,
        serde_json::Value::Object(o) => match o.get("batchItemFailures") {
            None | Some(serde_json::Value::Null) => return ItemOutcome::AllSucceeded,
            Some(serde_json::Value::Array(items)) => items,
            Some(_) => return ItemOutcome::Malformed,
        },
        _ => return ItemOutcome::Malformed,
    };
    let ids: HashSet<&str> = batch.iter().map(|m| m.message_id.as_str()).collect();
    let mut failed = HashSet::new();
    for item in failures {
        match item.get("itemIdentifier").and_then(|v| v.as_str()) {
            Some(id) if !id.is_empty() && ids.contains(id) => {
                failed.insert(id.to_owned());
            }
            _ => return ItemOutcome::Malformed,
        }
    }
    if failed.is_empty() {
        ItemOutcome::AllSucceeded
    } else {
        ItemOutcome::Failed(failed)
    }
}

/// Of a batch whose `failed` messages failed, the receipt handles to
/// delete. On a FIFO queue a message after a failed one of its group is
/// kept too (it must not run before the failed one runs again).
pub fn to_delete(batch: &[Delivered], failed: &HashSet<String>, fifo: bool) -> Vec<String> {
    let mut blocked: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for m in batch {
        let group = m.attributes.get("MessageGroupId").map(String::as_str);
        if failed.contains(&m.message_id) {
            if let (true, Some(g)) = (fifo, group) {
                blocked.insert(g);
            }
            continue;
        }
        if fifo && group.is_some_and(|g| blocked.contains(g)) {
            continue;
        }
        out.push(m.receipt_handle.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ignis_sqs::AttributeValue;
    use serde_json::json;

    fn message(id: &str, group: Option<&str>) -> Delivered {
        let mut attributes = BTreeMap::from([
            ("ApproximateReceiveCount".to_owned(), "1".to_owned()),
            ("SentTimestamp".to_owned(), "1700000000000".to_owned()),
            ("SenderId".to_owned(), "000000000000".to_owned()),
            (
                "ApproximateFirstReceiveTimestamp".to_owned(),
                "1700000000001".to_owned(),
            ),
        ]);
        if let Some(g) = group {
            attributes.insert("MessageGroupId".into(), g.into());
            attributes.insert("SequenceNumber".into(), "18800000000000000001".into());
            attributes.insert("MessageDeduplicationId".into(), format!("d-{id}"));
        }
        Delivered {
            message_id: id.into(),
            receipt_handle: format!("rh-{id}"),
            body: format!("body {id}"),
            md5_of_body: "md5".into(),
            md5_of_message_attributes: None,
            message_attributes: BTreeMap::new(),
            attributes,
        }
    }

    #[test]
    fn records_have_lambdas_shape() {
        let mut m = message("1", None);
        m.md5_of_message_attributes = Some("amd5".into());
        m.message_attributes.insert(
            "s".into(),
            AttributeValue {
                data_type: "String".into(),
                string_value: Some("v".into()),
                binary_value: None,
            },
        );
        m.message_attributes.insert(
            "b".into(),
            AttributeValue {
                data_type: "Binary".into(),
                string_value: None,
                binary_value: Some(vec![0, 1, 2]),
            },
        );
        let arn = "arn:aws:sqs:us-east-1:000000000000:q";
        let v: serde_json::Value = serde_json::from_slice(&event(&[m], arn, "us-east-1")).unwrap();
        assert_eq!(
            v,
            json!({"Records": [{
                "messageId": "1", "receiptHandle": "rh-1", "body": "body 1",
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000",
                               "SenderId": "000000000000", "ApproximateFirstReceiveTimestamp": "1700000000001"},
                "messageAttributes": {
                    "b": {"binaryValue": "AAEC", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
                    "s": {"stringValue": "v", "stringListValues": [], "binaryListValues": [], "dataType": "String"}},
                "md5OfBody": "md5", "md5OfMessageAttributes": "amd5",
                "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "us-east-1"}]})
        );
        let mut fifo = message("2", Some("g"));
        fifo.attributes.insert(
            "DeadLetterQueueSourceArn".into(),
            "arn:aws:sqs:us-east-1:000000000000:src.fifo".into(),
        );
        fifo.attributes.insert("Unknown".into(), "not shown".into());
        let v: serde_json::Value =
            serde_json::from_slice(&event(&[fifo], arn, "us-east-1")).unwrap();
        let attrs = &v["Records"][0]["attributes"];
        assert_eq!(attrs["MessageGroupId"], "g");
        assert_eq!(attrs["MessageDeduplicationId"], "d-2");
        assert_eq!(attrs["SequenceNumber"], "18800000000000000001");
        assert_eq!(
            attrs["DeadLetterQueueSourceArn"],
            "arn:aws:sqs:us-east-1:000000000000:src.fifo"
        );
        assert!(attrs.get("Unknown").is_none());
        assert!(v["Records"][0].get("md5OfMessageAttributes").is_none());
    }

    #[test]
    fn batch_item_failures_are_read_as_lambda_reads_them() {
        let batch = [message("a", None), message("b", None)];
        for ok in [
            "",
            "null",
            "{}",
            r#"{"batchItemFailures":[]}"#,
            r#"{"batchItemFailures":null}"#,
        ] {
            assert_eq!(
                item_failures(ok.as_bytes(), &batch),
                ItemOutcome::AllSucceeded,
                "{ok}"
            );
        }
        assert_eq!(
            item_failures(br#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#, &batch),
            ItemOutcome::Failed(HashSet::from(["b".to_owned()]))
        );
        for bad in [
            "not json",
            "[1]",
            r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
            r#"{"batchItemFailures":[{"id":"a"}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#,
            r#"{"batchItemFailures":"a"}"#,
        ] {
            assert_eq!(
                item_failures(bad.as_bytes(), &batch),
                ItemOutcome::Malformed,
                "{bad}"
            );
        }
    }

    #[test]
    fn fifo_keeps_a_failed_groups_later_messages() {
        let batch = [
            message("1", Some("g")),
            message("2", Some("h")),
            message("3", Some("g")),
            message("4", Some("h")),
        ];
        let failed = HashSet::from(["1".to_owned()]);
        assert_eq!(to_delete(&batch, &failed, true), ["rh-2", "rh-4"]);
        assert_eq!(to_delete(&batch, &failed, false), ["rh-2", "rh-3", "rh-4"]);
    }
}
