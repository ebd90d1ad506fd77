//! The JSON protocol's answers: the output shapes of SQS's model, by
//! member name, binary values in base64; empty lists and maps left out, as
//! SQS leaves them out.

use base64::Engine as _;
use bytes::Bytes;
use http::{header, HeaderValue, Response};
use serde_json::{json, Map, Value};

use crate::engine::MoveTask;
use crate::model::{Delivered, EntryError, MessageAttributes, Sent};
use crate::op::SqsOutput;

/// The HTTP answer: 200, `application/x-amz-json-1.0`, `x-amzn-RequestId`.
pub fn render(output: &SqsOutput, request_id: &str) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::from(body(output).to_string()));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    resp
}

/// The output's JSON document.
pub fn body(output: &SqsOutput) -> Value {
    let mut out = Map::new();
    match output {
        SqsOutput::Empty => {}
        SqsOutput::QueueUrl(url) => {
            out.insert("QueueUrl".into(), url.as_str().into());
        }
        SqsOutput::QueueUrls(urls, next) => {
            if !urls.is_empty() {
                out.insert("QueueUrls".into(), json!(urls));
            }
            put_opt(&mut out, "NextToken", next.as_deref());
        }
        SqsOutput::DeadLetterSources(urls, next) => {
            out.insert("queueUrls".into(), json!(urls));
            put_opt(&mut out, "NextToken", next.as_deref());
        }
        SqsOutput::Attributes(attrs) => {
            if !attrs.is_empty() {
                out.insert("Attributes".into(), json!(attrs));
            }
        }
        SqsOutput::Tags(tags) => {
            if !tags.is_empty() {
                out.insert("Tags".into(), json!(tags));
            }
        }
        SqsOutput::Sent(sent) => out = sent_fields(sent),
        SqsOutput::SentBatch(entries) => {
            let (ok, failed) = split(entries, |id, sent: &Sent| {
                let mut m = sent_fields(sent);
                m.insert("Id".into(), id.into());
                Value::Object(m)
            });
            out.insert("Successful".into(), Value::Array(ok));
            out.insert("Failed".into(), Value::Array(failed));
        }
        SqsOutput::Received(messages) => {
            if !messages.is_empty() {
                out.insert(
                    "Messages".into(),
                    Value::Array(messages.iter().map(message).collect()),
                );
            }
        }
        SqsOutput::Batch(entries) => {
            let (ok, failed) = split(entries, |id, _: &()| json!({ "Id": id }));
            out.insert("Successful".into(), Value::Array(ok));
            out.insert("Failed".into(), Value::Array(failed));
        }
        SqsOutput::TaskHandle(handle) => {
            out.insert("TaskHandle".into(), handle.as_str().into());
        }
        SqsOutput::MoveTasks(tasks) => {
            out.insert(
                "Results".into(),
                Value::Array(tasks.iter().map(move_task).collect()),
            );
        }
        SqsOutput::Moved(n) => {
            out.insert("ApproximateNumberOfMessagesMoved".into(), json!(n));
        }
    }
    Value::Object(out)
}

fn put_opt(out: &mut Map<String, Value>, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        out.insert(name.into(), v.into());
    }
}

fn sent_fields(sent: &Sent) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("MessageId".into(), sent.message_id.as_str().into());
    m.insert("MD5OfMessageBody".into(), sent.md5_of_body.as_str().into());
    put_opt(
        &mut m,
        "MD5OfMessageAttributes",
        sent.md5_of_message_attributes.as_deref(),
    );
    put_opt(
        &mut m,
        "MD5OfMessageSystemAttributes",
        sent.md5_of_system_attributes.as_deref(),
    );
    put_opt(&mut m, "SequenceNumber", sent.sequence_number.as_deref());
    m
}

/// Successful and failed entries of a batch answer.
fn split<T>(
    entries: &[(String, Result<T, EntryError>)],
    ok: impl Fn(&str, &T) -> Value,
) -> (Vec<Value>, Vec<Value>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (id, result) in entries {
        match result {
            Ok(v) => good.push(ok(id, v)),
            Err(e) => bad.push(json!({
                "Id": id,
                "SenderFault": e.sender_fault,
                "Code": e.code,
                "Message": e.message,
            })),
        }
    }
    (good, bad)
}

fn message(m: &Delivered) -> Value {
    let mut out = Map::new();
    out.insert("MessageId".into(), m.message_id.as_str().into());
    out.insert("ReceiptHandle".into(), m.receipt_handle.as_str().into());
    out.insert("MD5OfBody".into(), m.md5_of_body.as_str().into());
    out.insert("Body".into(), m.body.as_str().into());
    if !m.attributes.is_empty() {
        out.insert("Attributes".into(), json!(m.attributes));
    }
    if !m.message_attributes.is_empty() {
        put_opt(
            &mut out,
            "MD5OfMessageAttributes",
            m.md5_of_message_attributes.as_deref(),
        );
        out.insert(
            "MessageAttributes".into(),
            message_attributes(&m.message_attributes),
        );
    }
    Value::Object(out)
}

/// `MessageAttributes` as the JSON protocol writes them.
pub fn message_attributes(attrs: &MessageAttributes) -> Value {
    let mut out = Map::new();
    for (name, v) in attrs {
        let mut a = Map::new();
        if let Some(s) = &v.string_value {
            a.insert("StringValue".into(), s.as_str().into());
        }
        if let Some(b) = &v.binary_value {
            a.insert(
                "BinaryValue".into(),
                base64::engine::general_purpose::STANDARD.encode(b).into(),
            );
        }
        a.insert("DataType".into(), v.data_type.as_str().into());
        out.insert(name.clone(), Value::Object(a));
    }
    Value::Object(out)
}

fn move_task(t: &MoveTask) -> Value {
    let mut m = Map::new();
    if t.status == "RUNNING" {
        m.insert("TaskHandle".into(), t.handle.as_str().into());
    }
    m.insert("Status".into(), t.status.as_str().into());
    m.insert("SourceArn".into(), t.source_arn.as_str().into());
    put_opt(&mut m, "DestinationArn", t.destination_arn.as_deref());
    if let Some(rate) = t.max_per_second {
        m.insert("MaxNumberOfMessagesPerSecond".into(), json!(rate));
    }
    m.insert("ApproximateNumberOfMessagesMoved".into(), json!(t.moved));
    m.insert("ApproximateNumberOfMessagesToMove".into(), json!(t.to_move));
    put_opt(&mut m, "FailureReason", t.failure_reason.as_deref());
    m.insert("StartedTimestamp".into(), json!(t.started_ms));
    Value::Object(m)
}
