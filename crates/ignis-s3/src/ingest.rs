//! Notifications for objects kept in another S3-compatible store.
//!
//! A team that keeps its object store (MinIO, Ceph RGW, …) points that
//! store's webhook at Ignis, `POST /ignis/v1/buckets/{bucket}/events`,
//! with S3-shaped records (`{"Records":[…]}`, as S3 and those stores write
//! them). `{bucket}` is an Ignis bucket that holds nothing but the
//! notification configuration (`PutBucketNotificationConfiguration`, as
//! for any bucket). Each record goes the way an Ignis object's event does:
//! matched against the configuration by event name and key filters,
//! written to the same outbox in one transaction before the webhook gets
//! its 200 (so an acknowledged event is never lost, even across
//! `kill -9`), and delivered by the same dispatcher — a function gets the
//! record as S3 would send it, with the matching configuration's id.

use serde_json::Value;

use ignis_store::objects::NewObjectEvent;

use crate::error::S3Error;
use crate::notify::Destination;
use crate::setting::StoredConfig;
use crate::S3;

/// The largest webhook body read, bytes.
pub const MAX_BODY: usize = 1024 * 1024;

/// One record as the webhook sent it, with what matching needs.
#[derive(Debug, Clone, PartialEq)]
struct External {
    /// `ObjectCreated:Put` (S3's form; `s3:`-prefixed names are read too).
    event_name: String,
    /// The object key, decoded from the record's URL encoding.
    key: String,
    /// The record itself.
    record: Value,
}

/// Reads a webhook body: `{"Records":[…]}` (extra top-level fields, as
/// MinIO adds `EventName` and `Key`, are ignored).
fn records(body: &[u8]) -> Result<Vec<External>, S3Error> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| S3Error::invalid_request(format!("The body is not JSON: {e}")))?;
    let Some(records) = doc.get("Records").and_then(Value::as_array) else {
        return Err(S3Error::invalid_request(
            "The body must be an S3 event: {\"Records\":[…]}",
        ));
    };
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let name = r["eventName"].as_str().ok_or_else(|| {
                S3Error::invalid_request(format!("Records[{i}] has no eventName"))
            })?;
            let key = r["s3"]["object"]["key"].as_str().ok_or_else(|| {
                S3Error::invalid_request(format!("Records[{i}] has no s3.object.key"))
            })?;
            Ok(External {
                event_name: name.strip_prefix("s3:").unwrap_or(name).to_string(),
                key: decode_key(key),
                record: r.clone(),
            })
        })
        .collect()
}

/// A key as records carry it (`a+b/c%2Bd` → `a b/c+d`).
fn decode_key(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// The outbox rows for `records` under `destinations`.
fn events_for(records: &[External], destinations: &[Destination]) -> Vec<NewObjectEvent> {
    let mut events = Vec::new();
    for r in records {
        for d in destinations
            .iter()
            .filter(|d| d.wants_name(&r.event_name, &r.key))
        {
            let mut record = r.record.clone();
            record["s3"]["configurationId"] = Value::String(d.id.clone());
            events.push(NewObjectEvent {
                target: d.arn.clone(),
                payload: serde_json::json!({ "Records": [record] }).to_string(),
            });
        }
    }
    events
}

impl S3 {
    /// Takes a webhook's records for `bucket`: the notifications its
    /// configuration asks for are committed when this returns; how many.
    pub async fn ingest(&self, bucket: &str, body: &[u8]) -> Result<usize, S3Error> {
        let records = records(body)?;
        let config = self
            .inner
            .store
            .bucket_setting(bucket, "notification")
            .await?
            .map(|c| crate::notify::NotificationConfig::decode(&c))
            .unwrap_or_default();
        let events = events_for(&records, &config.destinations);
        let n = events.len();
        if !self.inner.store.add_object_events(bucket, events).await? {
            return Err(S3Error::no_such_bucket(bucket));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Kind;

    fn destination(events: &[&str], filters: &[(&str, &str)]) -> Destination {
        Destination {
            kind: Kind::Queue,
            id: "cfg".into(),
            arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
            events: events.iter().map(|e| e.to_string()).collect(),
            filters: filters
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    const MINIO: &str = r#"{"EventName":"s3:ObjectCreated:Put","Key":"photos/a b.png",
        "Records":[{"eventVersion":"2.0","eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put",
        "s3":{"bucket":{"name":"photos"},"object":{"key":"a+b.png","size":3,"eTag":"abc"}}}]}"#;

    #[test]
    fn a_minio_webhook_body_reads_as_records() {
        let got = records(MINIO.as_bytes()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].event_name, "ObjectCreated:Put");
        assert_eq!(got[0].key, "a b.png");
    }

    #[test]
    fn records_are_matched_by_event_and_key_filters() {
        let records = records(MINIO.as_bytes()).unwrap();
        let yes = destination(&["s3:ObjectCreated:*"], &[("suffix", ".png")]);
        let no_suffix = destination(&["s3:ObjectCreated:*"], &[("suffix", ".jpg")]);
        let no_event = destination(&["s3:ObjectRemoved:*"], &[]);
        let events = events_for(&records, &[yes, no_suffix, no_event]);
        assert_eq!(events.len(), 1);
        let payload: Value = serde_json::from_str(&events[0].payload).unwrap();
        assert_eq!(payload["Records"][0]["s3"]["configurationId"], "cfg");
        assert_eq!(payload["Records"][0]["s3"]["object"]["key"], "a+b.png");
    }

    #[test]
    fn bodies_that_are_not_s3_events_are_refused() {
        for bad in [&b"not json"[..], b"{}", br#"{"Records":[{"s3":{}}]}"#] {
            assert!(records(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
