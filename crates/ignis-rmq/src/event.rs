//! Lambda's `aws:rmq` event, byte for byte as Lambda's Amazon MQ event
//! source sends it:
//!
//! ```json
//! {"eventSource":"aws:rmq","eventSourceArn":"arn:aws:mq:…:broker:NAME:ID",
//!  "rmqMessagesByQueue":{"<queue>::<vhost>":[
//!    {"basicProperties":{"contentType":…,"contentEncoding":…,"headers":…,
//!      "deliveryMode":…,"priority":…,"correlationId":…,"replyTo":…,
//!      "expiration":…,"messageId":…,"timestamp":…,"type":…,"userId":…,
//!      "appId":…,"clusterId":…,"bodySize":…},
//!     "redelivered":false,"data":"<base64 body>"}]}}
//! ```
//!
//! Absent properties are `null`; `timestamp` is written as Lambda's Java
//! consumer writes a date (`Jan 1, 1970, 12:33:41 AM`, UTC); header values
//! as in [`crate::amqp`]. Each record is serialized once, when it joins a
//! batch, so a batch knows its exact size ([`crate::batch`]).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{TimeZone, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

/// The `eventSource` of every event.
pub const EVENT_SOURCE: &str = "aws:rmq";

/// A message's basic properties as the event carries them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BasicProperties {
    /// `content-type`.
    pub content_type: Option<String>,
    /// `content-encoding`.
    pub content_encoding: Option<String>,
    /// The headers table ([`crate::amqp::header_value`]).
    pub headers: Option<Map<String, Value>>,
    /// 1 transient, 2 persistent.
    pub delivery_mode: Option<u8>,
    /// 0-9 (any octet on the wire).
    pub priority: Option<u8>,
    /// `correlation-id`.
    pub correlation_id: Option<String>,
    /// `reply-to`.
    pub reply_to: Option<String>,
    /// `expiration`, as sent (milliseconds, a string).
    pub expiration: Option<String>,
    /// `message-id`.
    pub message_id: Option<String>,
    /// `timestamp`, formatted by [`format_timestamp`].
    pub timestamp: Option<String>,
    /// `type`.
    #[serde(rename = "type")]
    pub message_type: Option<String>,
    /// `user-id`.
    pub user_id: Option<String>,
    /// `app-id`.
    pub app_id: Option<String>,
    /// `cluster-id`.
    pub cluster_id: Option<String>,
    /// The body's length in bytes.
    pub body_size: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    basic_properties: &'a BasicProperties,
    redelivered: bool,
    data: String,
}

/// An AMQP timestamp (seconds since the epoch) as Lambda writes it:
/// `MMM d, yyyy, h:mm:ss AM`, UTC.
pub fn format_timestamp(seconds: u64) -> String {
    let at = i64::try_from(seconds)
        .ok()
        .and_then(|s| Utc.timestamp_opt(s, 0).single())
        .unwrap_or_default();
    at.format("%b %-d, %Y, %-I:%M:%S %p").to_string()
}

/// One record of `rmqMessagesByQueue`, serialized.
pub fn encode_record(properties: &BasicProperties, redelivered: bool, body: &[u8]) -> Vec<u8> {
    let record = Record {
        basic_properties: properties,
        redelivered,
        data: STANDARD.encode(body),
    };
    serde_json::to_vec(&record).expect("a record serializes")
}

/// The event around a batch of records: everything but the records.
#[derive(Debug, Clone)]
pub struct EventFrame {
    head: Vec<u8>,
    tail: &'static [u8],
}

impl EventFrame {
    /// The frame for messages of `queue` in `virtual_host` from the broker
    /// `event_source_arn`; the queue's key is `<queue>::<virtual host>`.
    pub fn new(event_source_arn: &str, queue: &str, virtual_host: &str) -> Self {
        let key = format!("{queue}::{virtual_host}");
        let head = format!(
            "{{\"eventSource\":{},\"eventSourceArn\":{},\"rmqMessagesByQueue\":{{{}:[",
            Value::from(EVENT_SOURCE),
            Value::from(event_source_arn),
            Value::from(key),
        );
        Self {
            head: head.into_bytes(),
            tail: b"]}}",
        }
    }

    /// Bytes of the event with no record.
    pub fn overhead(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// The event holding `records`.
    pub fn event(&self, records: &[Vec<u8>]) -> Vec<u8> {
        let len = self.overhead() + records.iter().map(|r| r.len() + 1).sum::<usize>();
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&self.head);
        for (i, record) in records.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(record);
        }
        out.extend_from_slice(self.tail);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str =
        "arn:aws:mq:us-west-2:112556298976:broker:test:b-9bcfa592-423a-4942-879d-eb284b418fc8";

    #[test]
    fn the_event_has_lambdas_shape() {
        let mut headers = Map::new();
        headers.insert(
            "header1".into(),
            json!({"bytes": [118, 97, 108, 117, 101, 49]}),
        );
        headers.insert("numberInHeader".into(), json!(10));
        let props = BasicProperties {
            content_type: Some("text/plain".into()),
            headers: Some(headers),
            delivery_mode: Some(1),
            priority: Some(34),
            expiration: Some("60000".into()),
            timestamp: Some(format_timestamp(2021)),
            user_id: Some("AIDACKCEVSQ6C2EXAMPLE".into()),
            body_size: 80,
            ..Default::default()
        };
        let body = br#"{"timeout":0,"data":"CZrmf0Gw8Ov4bqLQxD4E"}"#;
        let frame = EventFrame::new(ARN, "test", "/");
        let bytes = frame.event(&[encode_record(&props, false, body)]);
        let event: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            event,
            json!({
                "eventSource": "aws:rmq",
                "eventSourceArn": ARN,
                "rmqMessagesByQueue": {"test::/": [{
                    "basicProperties": {
                        "contentType": "text/plain",
                        "contentEncoding": null,
                        "headers": {
                            "header1": {"bytes": [118, 97, 108, 117, 101, 49]},
                            "numberInHeader": 10
                        },
                        "deliveryMode": 1,
                        "priority": 34,
                        "correlationId": null,
                        "replyTo": null,
                        "expiration": "60000",
                        "messageId": null,
                        "timestamp": "Jan 1, 1970, 12:33:41 AM",
                        "type": null,
                        "userId": "AIDACKCEVSQ6C2EXAMPLE",
                        "appId": null,
                        "clusterId": null,
                        "bodySize": 80
                    },
                    "redelivered": false,
                    "data": "eyJ0aW1lb3V0IjowLCJkYXRhIjoiQ1pybWYwR3c4T3Y0YnFMUXhENEUifQ=="
                }]}
            })
        );
        assert_eq!(
            bytes.len(),
            frame.overhead() + encode_record(&props, false, body).len()
        );
    }

    #[test]
    fn several_records_keep_their_order_and_names_are_escaped() {
        let frame = EventFrame::new(ARN, "q\"1", "vh/1");
        let records: Vec<Vec<u8>> = (0..3u8)
            .map(|i| encode_record(&BasicProperties::default(), i == 1, &[i]))
            .collect();
        let event: Value = serde_json::from_slice(&frame.event(&records)).unwrap();
        let list = event["rmqMessagesByQueue"]["q\"1::vh/1"]
            .as_array()
            .unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[1]["redelivered"], json!(true));
        assert_eq!(list[2]["data"], json!("Ag=="));
        assert_eq!(list[0]["basicProperties"]["headers"], Value::Null);
        let empty: Value = serde_json::from_slice(&frame.event(&[])).unwrap();
        assert_eq!(empty["rmqMessagesByQueue"]["q\"1::vh/1"], json!([]));
    }

    #[test]
    fn timestamps_are_written_as_lambda_writes_them() {
        assert_eq!(format_timestamp(0), "Jan 1, 1970, 12:00:00 AM");
        assert_eq!(format_timestamp(1_700_000_000), "Nov 14, 2023, 10:13:20 PM");
    }
}
