//! Event notifications: a bucket's configuration
//! (`PutBucketNotificationConfiguration`: functions, queues and topics,
//! each with its events and key filters, and whether EventBridge gets
//! events), the S3 event record an object change makes for each matching
//! destination (written to the outbox in the same transaction as the
//! change), and the [`Dispatcher`] that delivers the outbox through
//! [`Destinations`] (functions through the durable async-invocation queue,
//! queues and topics through the server's sink), at least once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use ignis_store::objects::{NewObjectEvent, ObjectRow};
use ignis_store::ObjectStore;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

use crate::error::S3Error;
use crate::meta::{iso8601, now_ms};
use crate::service::{Inner, OWNER_ID};
use crate::setting::StoredConfig;
use crate::xml::{self, Element, XmlWriter};

/// The future a [`Destinations`] method answers with.
pub type Answer<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Where notifications go; the server implements it over its services.
pub trait Destinations: Send + Sync + 'static {
    /// Whether the function, queue or topic `arn` exists.
    fn exists<'a>(&'a self, arn: &'a str) -> Answer<'a, bool>;
    /// Hands `payload` (an S3 event, JSON) to `arn`: a function is invoked
    /// asynchronously (queued durably), a queue or topic receives it as a
    /// message; for an event bus (`EventBridgeConfiguration`) the payload
    /// is [`event_bridge_payload`]'s. `Err`: try again later.
    fn deliver<'a>(&'a self, arn: &'a str, payload: &'a str) -> Answer<'a, Result<(), String>>;
}

/// The event names S3 notifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    /// `ObjectCreated:Put`.
    Put,
    /// `ObjectCreated:Copy`.
    Copy,
    /// `ObjectCreated:CompleteMultipartUpload`.
    CompleteMultipartUpload,
    /// `ObjectRemoved:Delete`.
    Delete,
    /// `LifecycleExpiration:Delete`: a lifecycle rule expired the object.
    LifecycleDelete,
}

impl EventName {
    /// As in a record (`ObjectCreated:Put`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Put => "ObjectCreated:Put",
            Self::Copy => "ObjectCreated:Copy",
            Self::CompleteMultipartUpload => "ObjectCreated:CompleteMultipartUpload",
            Self::Delete => "ObjectRemoved:Delete",
            Self::LifecycleDelete => "LifecycleExpiration:Delete",
        }
    }

    /// Whether the object is gone (no size, no ETag in the record).
    fn removes(self) -> bool {
        matches!(self, Self::Delete | Self::LifecycleDelete)
    }
}

/// The events a configuration may name.
const EVENTS: [&str; 20] = [
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ReducedRedundancyLostObject",
    "s3:Replication:*",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectTagging:*",
    "s3:ObjectAcl:Put",
    "s3:LifecycleExpiration:Delete",
];

/// The kind of destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// A function (`CloudFunctionConfiguration`).
    Function,
    /// A queue (`QueueConfiguration`).
    Queue,
    /// A topic (`TopicConfiguration`).
    Topic,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Topic, Kind::Queue, Kind::Function];

    fn element(self) -> &'static str {
        match self {
            Self::Function => "CloudFunctionConfiguration",
            Self::Queue => "QueueConfiguration",
            Self::Topic => "TopicConfiguration",
        }
    }

    fn arn_element(self) -> &'static str {
        match self {
            Self::Function => "CloudFunction",
            Self::Queue => "Queue",
            Self::Topic => "Topic",
        }
    }
}

/// One destination of a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// Function, queue or topic.
    pub kind: Kind,
    /// Its id (generated when not given).
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// The events it wants.
    pub events: Vec<String>,
    /// Key filter rules: `prefix` / `suffix` and value.
    pub filters: Vec<(String, String)>,
}

impl Destination {
    fn wants(&self, event: EventName, key: &str) -> bool {
        self.wants_name(event.as_str(), key)
    }

    /// Whether it wants the event `name` (`ObjectCreated:Put`, any event
    /// an S3-compatible store names) on `key`.
    pub(crate) fn wants_name(&self, name: &str, key: &str) -> bool {
        self.events.iter().any(|e| covers(e, name))
            && self
                .filters
                .iter()
                .all(|(filter, value)| match filter.as_str() {
                    "prefix" => key.starts_with(value.as_str()),
                    "suffix" => key.ends_with(value.as_str()),
                    _ => false,
                })
    }
}

/// Whether a configuration's event (`s3:ObjectCreated:*`) covers the event
/// `name` (`ObjectCreated:Put`).
fn covers(configured: &str, name: &str) -> bool {
    let Some(c) = configured.strip_prefix("s3:") else {
        return false;
    };
    match c.strip_suffix(":*") {
        Some(family) => name.split(':').next() == Some(family),
        None => c == name,
    }
}

/// A bucket's notification configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationConfig {
    /// Destinations, in the document's order within each kind.
    pub destinations: Vec<Destination>,
    /// Whether `EventBridgeConfiguration` is set (stored and returned).
    pub event_bridge: bool,
}

fn invalid(message: &str) -> S3Error {
    S3Error::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
}

impl StoredConfig for NotificationConfig {}

impl NotificationConfig {
    /// Reads a `NotificationConfiguration` document.
    pub fn parse(text: &str) -> Result<Self, S3Error> {
        let root = xml::parse_root(text, "NotificationConfiguration")?;
        let mut config = Self {
            event_bridge: root.child("EventBridgeConfiguration").is_some(),
            ..Self::default()
        };
        for kind in Kind::ALL {
            for el in root.all(kind.element()) {
                config.destinations.push(destination(kind, el)?);
            }
        }
        Ok(config)
    }

    /// The queues and topics S3 sends an `s3:TestEvent` to when the
    /// configuration is set.
    pub fn test_targets(&self) -> Vec<String> {
        let mut arns: Vec<String> = self
            .destinations
            .iter()
            .filter(|d| d.kind != Kind::Function)
            .map(|d| d.arn.clone())
            .collect();
        arns.dedup();
        arns
    }

    /// Whether it notifies nothing.
    pub fn is_empty(&self) -> bool {
        self.destinations.is_empty() && !self.event_bridge
    }

    /// Checks every destination exists.
    pub async fn validate(&self, destinations: &dyn Destinations) -> Result<(), S3Error> {
        let mut missing = Vec::new();
        for d in &self.destinations {
            if !destinations.exists(&d.arn).await {
                missing.push(d);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let mut e = invalid("Unable to validate the following destination configurations");
        for (i, d) in missing.iter().enumerate() {
            let why = match d.kind {
                Kind::Function => format!("Not authorized to invoke function [{}]", d.arn),
                Kind::Queue | Kind::Topic => {
                    format!("Permissions on the destination {} do not allow S3 to publish notifications from this bucket", if d.kind == Kind::Queue { "queue" } else { "topic" })
                }
            };
            let name: &'static str = Box::leak(format!("ArgumentName{}", i + 1).into_boxed_str());
            let value: &'static str = Box::leak(format!("ArgumentValue{}", i + 1).into_boxed_str());
            e = e.with(name, d.arn.clone()).with(value, why);
        }
        Err(e)
    }

    /// The `GetBucketNotificationConfiguration` document.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.root("NotificationConfiguration");
        for kind in Kind::ALL {
            for d in self.destinations.iter().filter(|d| d.kind == kind) {
                w.open(kind.element());
                w.leaf("Id", &d.id);
                w.leaf(kind.arn_element(), &d.arn);
                for e in &d.events {
                    w.leaf("Event", e);
                }
                if !d.filters.is_empty() {
                    w.open("Filter");
                    w.open("S3Key");
                    for (n, v) in &d.filters {
                        w.open("FilterRule");
                        w.leaf("Name", &capitalized(n));
                        w.leaf("Value", v);
                        w.close("FilterRule");
                    }
                    w.close("S3Key");
                    w.close("Filter");
                }
                w.close(kind.element());
            }
        }
        if self.event_bridge {
            w.out_raw("<EventBridgeConfiguration></EventBridgeConfiguration>");
        }
        w.close("NotificationConfiguration");
        w.finish()
    }
}

fn capitalized(name: &str) -> String {
    let mut c = name.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn destination(kind: Kind, el: &Element) -> Result<Destination, S3Error> {
    let arn = el
        .text_of(kind.arn_element())
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or_else(S3Error::malformed_xml)?
        .to_string();
    let events: Vec<String> = el.all("Event").map(|e| e.text.trim().to_string()).collect();
    if events.is_empty() {
        return Err(S3Error::malformed_xml());
    }
    for e in &events {
        if !EVENTS.contains(&e.as_str()) {
            return Err(invalid("The event is not supported for notifications")
                .with("ArgumentName", e.clone())
                .with("ArgumentValue", e.clone()));
        }
    }
    let mut filters = Vec::new();
    if let Some(key) = el.child("Filter").and_then(|f| f.child("S3Key")) {
        for rule in key.all("FilterRule") {
            let name = rule
                .text_of("Name")
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if name != "prefix" && name != "suffix" {
                return Err(invalid("filter rule name must be either prefix or suffix"));
            }
            if filters.iter().any(|(n, _)| *n == name) {
                return Err(invalid(
                    "Cannot specify more than one prefix rule in a filter.",
                ));
            }
            filters.push((name, rule.text_of("Value").unwrap_or("").to_string()));
        }
    }
    let id = el
        .text_of("Id")
        .map(str::to_string)
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    Ok(Destination {
        kind,
        id,
        arn,
        events,
        filters,
    })
}

/// What S3 keeps unencoded in an event's key: alphanumerics, `-_.*/`;
/// a space becomes `+`.
const KEY_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'*')
    .remove(b'/')
    .remove(b' ');

/// A key as S3 writes it in an event record (`a b/c+d` → `a+b/c%2Bd`).
pub fn event_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_KEEP)
        .to_string()
        .replace(' ', "+")
}

/// A sequencer: increasing for a key's successive events.
fn sequencer() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:012X}{:06X}", now_ms(), n & 0xFF_FFFF)
}

/// The S3 event (one record) for `row` under `event`.
pub fn record(
    region: &str,
    event: EventName,
    configuration_id: &str,
    row: &ObjectRow,
) -> serde_json::Value {
    let mut object = serde_json::json!({
        "key": event_key(&row.key),
        "sequencer": sequencer(),
    });
    if !event.removes() {
        object["size"] = serde_json::json!(row.size);
        object["eTag"] = serde_json::json!(row.etag.trim_matches('"'));
    }
    let request_id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    serde_json::json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": region,
            "eventTime": iso8601(now_ms()),
            "eventName": event.as_str(),
            "userIdentity": {"principalId": format!("AWS:{}", ignis_model::arn::ACCOUNT_ID)},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {
                "x-amz-request-id": &request_id[..16],
                "x-amz-id-2": request_id,
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": configuration_id,
                "bucket": {
                    "name": row.bucket,
                    "ownerIdentity": {"principalId": OWNER_ID},
                    "arn": format!("arn:aws:s3:::{}", row.bucket),
                },
                "object": object,
            }
        }]
    })
}

/// The message S3 sends each queue and topic of a configuration when it
/// is set (`{"Service":"Amazon S3","Event":"s3:TestEvent",…}`).
pub fn test_event(bucket: &str) -> serde_json::Value {
    let id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    serde_json::json!({
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": iso8601(now_ms()),
        "Bucket": bucket,
        "RequestId": &id[..16],
        "HostId": id,
    })
}

/// Sends [`test_event`] to `targets` in the background (best effort, as
/// S3's own: it is not an object's notification).
pub fn send_test_events(destinations: Arc<dyn Destinations>, bucket: &str, targets: Vec<String>) {
    if targets.is_empty() {
        return;
    }
    let payload = test_event(bucket).to_string();
    tokio::spawn(async move {
        for arn in targets {
            if let Err(e) = destinations.deliver(&arn, &payload).await {
                tracing::warn!(target = %arn, error = %e, "S3 test event not delivered");
            }
        }
    });
}

/// The outbox payload of an event for EventBridge (`EventBridgeConfiguration`):
/// the event's `detail-type`, `resources` and `detail` as S3 sends them to
/// the account's default bus (source `aws.s3`; the key as is).
pub fn event_bridge_payload(event: EventName, row: &ObjectRow) -> serde_json::Value {
    let (detail_type, reason) = match event {
        EventName::Put => ("Object Created", "PutObject"),
        EventName::Copy => ("Object Created", "CopyObject"),
        EventName::CompleteMultipartUpload => ("Object Created", "CompleteMultipartUpload"),
        EventName::Delete => ("Object Deleted", "DeleteObject"),
        EventName::LifecycleDelete => ("Object Deleted", "Lifecycle Expiration"),
    };
    let mut object = serde_json::json!({"key": row.key, "sequencer": sequencer()});
    if !event.removes() {
        object["size"] = serde_json::json!(row.size);
        object["etag"] = serde_json::json!(row.etag.trim_matches('"'));
    }
    let mut detail = serde_json::json!({
        "version": "0",
        "bucket": {"name": row.bucket},
        "object": object,
        "request-id": uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase(),
        "requester": ignis_model::arn::ACCOUNT_ID,
        "source-ip-address": "127.0.0.1",
        "reason": reason,
    });
    if event.removes() {
        detail["deletion-type"] = serde_json::json!("Permanently Deleted");
    }
    serde_json::json!({
        "detail-type": detail_type,
        "resources": [format!("arn:aws:s3:::{}", row.bucket)],
        "detail": detail,
    })
}

impl Inner {
    /// The notifications `event` on `row` causes under its bucket's
    /// configuration, for the outbox.
    pub(crate) async fn events_for(
        &self,
        bucket: &str,
        event: EventName,
        row: &ObjectRow,
    ) -> Result<Vec<NewObjectEvent>, S3Error> {
        let Some(config) = self.store.bucket_setting(bucket, "notification").await? else {
            return Ok(Vec::new());
        };
        let config = NotificationConfig::decode(&config);
        let mut events: Vec<NewObjectEvent> = config
            .destinations
            .iter()
            .filter(|d| d.wants(event, &row.key))
            .map(|d| NewObjectEvent {
                target: d.arn.clone(),
                payload: record(&self.region, event, &d.id, row).to_string(),
            })
            .collect();
        if config.event_bridge {
            events.push(NewObjectEvent {
                target: format!(
                    "arn:aws:events:{}:{}:event-bus/default",
                    self.region,
                    ignis_model::arn::ACCOUNT_ID
                ),
                payload: event_bridge_payload(event, row).to_string(),
            });
        }
        Ok(events)
    }
}

/// How many notifications one claim takes.
const BATCH: usize = 64;
/// A claim's lease.
const LEASE_MS: i64 = 60_000;
/// How often the outbox is looked at when nothing wakes the dispatcher.
const IDLE: Duration = Duration::from_millis(200);
/// Attempts before a notification is given up (logged).
const ATTEMPTS_MAX: u32 = 50;

/// Delivers the outbox.
pub struct Dispatcher {
    store: Arc<dyn ObjectStore>,
    destinations: Arc<dyn Destinations>,
    owner: String,
}

impl Dispatcher {
    /// A dispatcher for `s3`'s outbox.
    pub fn new(s3: &crate::S3) -> Self {
        Self {
            store: s3.inner.store.clone(),
            destinations: s3.inner.destinations.clone(),
            owner: format!("s3-{}", uuid::Uuid::new_v4()),
        }
    }

    /// Releases claims a previous process left (start-up of a single node).
    pub async fn recover(&self) -> Result<u64, S3Error> {
        Ok(self.store.release_object_event_claims().await?)
    }

    /// Delivers until dropped: claims due notifications, hands each to its
    /// destination, deletes it once taken (or reschedules it).
    pub async fn run(self) {
        loop {
            let claimed = match self
                .store
                .claim_object_events(&self.owner, BATCH, now_ms(), LEASE_MS)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the notification outbox");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                tokio::time::sleep(IDLE).await;
                continue;
            }
            for event in claimed {
                let outcome = self
                    .destinations
                    .deliver(&event.target, &event.payload)
                    .await;
                let done = match outcome {
                    Ok(()) => self.store.finish_object_event(event.id, &self.owner).await,
                    Err(why) if event.attempts + 1 >= ATTEMPTS_MAX => {
                        tracing::error!(target = %event.target, error = %why, "giving up an S3 notification");
                        self.store.finish_object_event(event.id, &self.owner).await
                    }
                    Err(why) => {
                        tracing::warn!(target = %event.target, error = %why, "S3 notification not delivered; retrying");
                        let backoff = 1_000i64 << event.attempts.min(8);
                        self.store
                            .retry_object_event(event.id, &self.owner, now_ms() + backoff)
                            .await
                    }
                };
                if let Err(e) = done {
                    tracing::warn!(error = %e, "could not settle an S3 notification");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_as_s3_does() {
        assert_eq!(event_key("a b/c+d.png"), "a+b/c%2Bd.png");
        assert_eq!(event_key("é"), "%C3%A9");
    }

    #[test]
    fn event_bridge_events_name_the_object_as_is() {
        let row = ObjectRow {
            bucket: "b".into(),
            key: "a b.png".into(),
            file: "f".into(),
            size: 3,
            etag: "\"abc\"".into(),
            modified_ms: 0,
            meta: "{}".into(),
        };
        let p = event_bridge_payload(EventName::Put, &row);
        assert_eq!(p["detail-type"], "Object Created");
        assert_eq!(p["detail"]["object"]["key"], "a b.png");
        assert_eq!(p["detail"]["object"]["etag"], "abc");
        assert_eq!(p["detail"]["reason"], "PutObject");
        let d = event_bridge_payload(EventName::Delete, &row);
        assert_eq!(d["detail-type"], "Object Deleted");
        assert!(d["detail"]["object"].get("size").is_none());
    }

    #[test]
    fn configurations_parse_and_match() {
        let doc = r#"<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<QueueConfiguration><Id>q</Id><Queue>arn:aws:sqs:us-east-1:000000000000:q</Queue><Event>s3:ObjectCreated:*</Event>
<Filter><S3Key><FilterRule><Name>Suffix</Name><Value>.png</Value></FilterRule></S3Key></Filter></QueueConfiguration>
<CloudFunctionConfiguration><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:f</CloudFunction><Event>s3:ObjectRemoved:Delete</Event></CloudFunctionConfiguration>
<EventBridgeConfiguration/></NotificationConfiguration>"#;
        let c = NotificationConfig::parse(doc).unwrap();
        assert!(c.event_bridge);
        assert_eq!(c.destinations.len(), 2);
        let q = &c.destinations[0];
        assert!(q.wants(EventName::Put, "a.png"));
        assert!(q.wants(EventName::CompleteMultipartUpload, "a.png"));
        assert!(!q.wants(EventName::Put, "a.jpg"));
        assert!(!q.wants(EventName::Delete, "a.png"));
        assert!(c.destinations[1].wants(EventName::Delete, "x"));
        let back = NotificationConfig::parse(&c.to_xml()).unwrap();
        assert_eq!(back, c);
        let bad = doc.replace("s3:ObjectCreated:*", "s3:Nope");
        assert_eq!(
            NotificationConfig::parse(&bad).unwrap_err().code,
            "InvalidArgument"
        );
    }
}
