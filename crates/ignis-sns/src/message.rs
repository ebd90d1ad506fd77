//! What one delivery carries (the outbox row's payload) and the shapes it
//! goes out in: SNS's JSON notification and confirmations, the Lambda
//! event (`Records[].Sns`), and a queue message.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::attributes::{to_notification, MessageAttributes};
use crate::signer::Signed;

/// What a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// A published message.
    Notification,
    /// A request to confirm an HTTP subscription.
    SubscriptionConfirmation,
    /// An HTTP subscription's end.
    UnsubscribeConfirmation,
}

impl Kind {
    /// The `Type` field and `x-amz-sns-message-type` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notification => "Notification",
            Self::SubscriptionConfirmation => "SubscriptionConfirmation",
            Self::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }
}

/// One delivery, self-contained: the subscription's endpoint and settings
/// as they were when it was written, and the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// What it is.
    pub kind: Kind,
    /// The subscription's ARN.
    pub subscription_arn: String,
    /// `lambda`, `sqs`, `http` or `https`.
    pub protocol: String,
    /// The function ARN, queue ARN or URL.
    pub endpoint: String,
    /// The topic's ARN.
    pub topic_arn: String,
    /// The message id.
    pub message_id: String,
    /// The message for this protocol.
    pub message: String,
    /// The subject, if any.
    #[serde(default)]
    pub subject: Option<String>,
    /// When it was published, ISO 8601 with milliseconds (`…Z`).
    pub timestamp: String,
    /// Message attributes.
    #[serde(default)]
    pub attributes: MessageAttributes,
    /// FIFO: the message group.
    #[serde(default)]
    pub group_id: Option<String>,
    /// FIFO: the deduplication id.
    #[serde(default)]
    pub dedup_id: Option<String>,
    /// FIFO: the topic's sequence number.
    #[serde(default)]
    pub sequence: Option<String>,
    /// `RawMessageDelivery`.
    #[serde(default)]
    pub raw: bool,
    /// The confirmation token (confirmations).
    #[serde(default)]
    pub token: Option<String>,
    /// The topic's `SignatureVersion` (`1` or `2`).
    pub signature_version: String,
    /// The subscription's `RedrivePolicy` dead-letter queue ARN, if any.
    #[serde(default)]
    pub dead_letter_arn: Option<String>,
    /// The subscription's delivery policy (HTTP retries), if set.
    #[serde(default)]
    pub delivery_policy: Option<String>,
}

/// URLs and the signature that go into a message.
pub struct Urls<'a> {
    /// The base of Ignis's endpoint (`http://127.0.0.1:9000`).
    pub base: &'a str,
}

impl Urls<'_> {
    /// `SigningCertURL` / `SigningCertUrl`.
    pub fn cert(&self) -> String {
        format!("{}/ignis/v1/sns/signing-cert.pem", self.base)
    }

    /// `UnsubscribeURL` of a subscription.
    pub fn unsubscribe(&self, subscription_arn: &str) -> String {
        format!(
            "{}/?Action=Unsubscribe&SubscriptionArn={}",
            self.base,
            encode(subscription_arn)
        )
    }

    /// `SubscribeURL` of a pending subscription.
    pub fn subscribe(&self, topic_arn: &str, token: &str) -> String {
        format!(
            "{}/?Action=ConfirmSubscription&TopicArn={}&Token={}",
            self.base,
            encode(topic_arn),
            encode(token)
        )
    }
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Delivery {
    /// The fields its signature covers.
    pub fn signed<'a>(&'a self, subscribe_url: Option<&'a str>) -> Signed<'a> {
        Signed {
            message: &self.message,
            message_id: &self.message_id,
            subject: self
                .subject
                .as_deref()
                .filter(|_| self.kind == Kind::Notification),
            subscribe_url,
            timestamp: &self.timestamp,
            token: self.token.as_deref(),
            topic_arn: &self.topic_arn,
            kind: self.kind.as_str(),
        }
    }

    /// SNS's JSON document (what an HTTP endpoint or a non-raw queue
    /// receives), with its `signature`.
    pub fn json(&self, urls: &Urls<'_>, signature: &str) -> Value {
        let mut doc = serde_json::Map::new();
        doc.insert("Type".into(), json!(self.kind.as_str()));
        doc.insert("MessageId".into(), json!(self.message_id));
        if let Some(token) = &self.token {
            doc.insert("Token".into(), json!(token));
        }
        if let Some(seq) = &self.sequence {
            doc.insert("SequenceNumber".into(), json!(seq));
        }
        doc.insert("TopicArn".into(), json!(self.topic_arn));
        if let (Some(subject), Kind::Notification) = (&self.subject, self.kind) {
            doc.insert("Subject".into(), json!(subject));
        }
        doc.insert("Message".into(), json!(self.message));
        if let Some(token) = &self.token {
            doc.insert(
                "SubscribeURL".into(),
                json!(urls.subscribe(&self.topic_arn, token)),
            );
        }
        doc.insert("Timestamp".into(), json!(self.timestamp));
        doc.insert("SignatureVersion".into(), json!(self.signature_version));
        doc.insert("Signature".into(), json!(signature));
        doc.insert("SigningCertURL".into(), json!(urls.cert()));
        if self.kind == Kind::Notification {
            doc.insert(
                "UnsubscribeURL".into(),
                json!(urls.unsubscribe(&self.subscription_arn)),
            );
            if !self.attributes.is_empty() {
                doc.insert(
                    "MessageAttributes".into(),
                    to_notification(&self.attributes),
                );
            }
        }
        Value::Object(doc)
    }

    /// The Lambda event: one record of source `aws:sns`.
    pub fn lambda_event(&self, urls: &Urls<'_>, signature: &str) -> Value {
        json!({
            "Records": [{
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": self.subscription_arn,
                "Sns": {
                    "Type": self.kind.as_str(),
                    "MessageId": self.message_id,
                    "TopicArn": self.topic_arn,
                    "Subject": self.subject,
                    "Message": self.message,
                    "Timestamp": self.timestamp,
                    "SignatureVersion": self.signature_version,
                    "Signature": signature,
                    "SigningCertUrl": urls.cert(),
                    "UnsubscribeUrl": urls.unsubscribe(&self.subscription_arn),
                    "MessageAttributes": to_notification(&self.attributes),
                }
            }]
        })
    }
}
