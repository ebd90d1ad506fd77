//! [`Sns`]: SNS's operations executed against the store; a publish
//! commits its deliveries before it answers. [`Sns::execute`] routes each
//! operation to its family: `topic_ops`, `subscription_ops`, `publish_ops`
//! (the lookups and answers they share are here).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ignis_patterns::sns::{FilterPolicy, FilterPolicyScope, MessageAttributes as PolicyAttributes};
use ignis_protocol::{AwsError, Members, QueryResponse, XmlValue};
use ignis_store::sns::{NewDelivery, SnsSubscription, SnsTopic};
use ignis_store::SnsStore;
use tokio::sync::Notify;

use crate::delivery_policy::{effective_subscription_policy, effective_topic_policy, RetryPolicy};
use crate::error::{internal, invalid_parameter, no_subscription, no_topic, resource_not_found};
use crate::message::{Delivery, Kind};
use crate::op::{topic_arn, PublishInput, SnsOp, Tag};
use crate::signer::Signer;
use crate::targets::Targets;
use crate::topics::{
    add_statement, check_subscription_attribute, check_topic_attribute, dead_letter_arn,
    default_policy, is_arn_of, is_function_arn, remove_statement, valid_topic_name,
};

mod publish_ops;
mod subscription_ops;
mod topic_ops;

/// SNS's XML namespace (the model's `xmlNamespace`).
pub const SNS_NAMESPACE: &str = "http://sns.amazonaws.com/doc/2010-03-31/";
/// The largest message with its attributes, bytes (256 KB).
pub const MAX_MESSAGE_SIZE: usize = 262_144;
/// Topics or subscriptions per list page.
const PAGE: usize = 100;
/// FIFO deduplication window, milliseconds (5 minutes).
const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;
/// Tags a topic may have.
const MAX_TAGS: usize = 50;
/// A subscription confirmed with `AuthenticateOnUnsubscribe=true` keeps
/// this attribute: only a signed caller may unsubscribe it.
const AUTHENTICATED: &str = "ConfirmationWasAuthenticated";

/// How the service is set up.
pub struct SnsConfig {
    /// The store.
    pub store: Arc<dyn SnsStore>,
    /// Functions and queues deliveries reach.
    pub targets: Arc<dyn Targets>,
    /// The region in ARNs.
    pub region: String,
    /// The account in ARNs.
    pub account: String,
    /// The base URL of Ignis's endpoint for the URLs in messages
    /// (`http://127.0.0.1:9000`).
    pub base_url: String,
    /// Where the signing key is kept.
    pub data_dir: std::path::PathBuf,
    /// `enforce` mode: deliveries to functions and queues need their
    /// resource policies to allow `sns.amazonaws.com`.
    pub enforce: bool,
}

/// The topic service. Cheap to clone.
#[derive(Clone)]
pub struct Sns {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn SnsStore>,
    pub(crate) targets: Arc<dyn Targets>,
    pub(crate) region: String,
    pub(crate) account: String,
    pub(crate) base_url: String,
    pub(crate) signer: Signer,
    pub(crate) enforce: bool,
    /// Woken when deliveries are written.
    pub(crate) wake: Notify,
    pub(crate) http: reqwest::Client,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn timestamp() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn ok(op: &SnsOp, result: Members) -> QueryResponse {
    QueryResponse::new(op.name(), SNS_NAMESPACE, result)
}

fn done(op: &SnsOp) -> QueryResponse {
    QueryResponse::empty(op.name(), SNS_NAMESPACE)
}

fn entries(map: &BTreeMap<String, String>) -> Members {
    map.iter().fold(Members::new(), |m, (k, v)| {
        m.nested(
            "entry",
            Members::new()
                .text("key", k.clone())
                .text("value", v.clone()),
        )
    })
}

fn tag_list(tags: &BTreeMap<String, String>) -> Vec<XmlValue> {
    tags.iter()
        .map(|(k, v)| {
            XmlValue::Struct(
                Members::new()
                    .text("Key", k.clone())
                    .text("Value", v.clone()),
            )
        })
        .collect()
}

fn check_tags(tags: &[Tag]) -> Result<(), AwsError> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(invalid_parameter(
                "Tags Reason: a tag key must be 1 to 128 characters",
            ));
        }
        if v.chars().count() > 256 {
            return Err(invalid_parameter(
                "Tags Reason: a tag value must be at most 256 characters",
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid_parameter(
                "Tags Reason: the aws: prefix is reserved",
            ));
        }
    }
    Ok(())
}

fn is_fifo(topic: &SnsTopic) -> bool {
    topic
        .attributes
        .get("FifoTopic")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn flag(map: &BTreeMap<String, String>, name: &str) -> bool {
    map.get(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A topic ARN's name, if `arn` is a topic ARN.
fn topic_name(arn: &str) -> Option<&str> {
    if !is_arn_of(arn, "sns") {
        return None;
    }
    let name = arn.splitn(6, ':').nth(5)?;
    (!name.contains(':')).then_some(name)
}

fn token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Sns {
    /// The service; its dispatcher runs once [`Sns::start`] is called.
    pub fn new(config: SnsConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                store: config.store,
                targets: config.targets,
                region: config.region,
                account: config.account,
                base_url: config.base_url.trim_end_matches('/').to_string(),
                signer: Signer::new(Path::new(&config.data_dir)),
                enforce: config.enforce,
                wake: Notify::new(),
                http: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(15))
                    .build()
                    .unwrap_or_default(),
            }),
        }
    }

    /// The region topics are named in.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The account topics are named in.
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// The certificate the `SigningCertURL` serves (PEM): self-signed, of
    /// the key messages are signed with.
    pub async fn signing_cert(&self) -> Result<String, String> {
        self.inner.signer.certificate_pem().await
    }

    /// The policy the front evaluates an operation on `topic_arn` with:
    /// the topic's own `Policy` when one was set (or made by
    /// AddPermission), else none.
    pub async fn topic_policy(&self, topic_arn: &str) -> Option<String> {
        let topic = self.inner.store.topic(topic_arn).await.ok()??;
        topic.attributes.get("Policy").cloned()
    }

    /// Executes `op` for a caller of account `caller_account`.
    pub async fn execute(
        &self,
        op: SnsOp,
        caller_account: &str,
    ) -> Result<QueryResponse, AwsError> {
        match &op {
            SnsOp::CreateTopic { .. }
            | SnsOp::DeleteTopic { .. }
            | SnsOp::ListTopics { .. }
            | SnsOp::GetTopicAttributes { .. }
            | SnsOp::SetTopicAttributes { .. }
            | SnsOp::AddPermission { .. }
            | SnsOp::RemovePermission { .. }
            | SnsOp::TagResource { .. }
            | SnsOp::UntagResource { .. }
            | SnsOp::ListTagsForResource { .. } => self.execute_topic(&op).await,
            SnsOp::Subscribe { .. }
            | SnsOp::ConfirmSubscription { .. }
            | SnsOp::Unsubscribe { .. }
            | SnsOp::ListSubscriptions { .. }
            | SnsOp::ListSubscriptionsByTopic { .. }
            | SnsOp::GetSubscriptionAttributes { .. }
            | SnsOp::SetSubscriptionAttributes { .. } => {
                self.execute_subscription(&op, caller_account).await
            }
            SnsOp::Publish { .. } | SnsOp::PublishBatch { .. } => self.execute_publish(&op).await,
        }
    }

    /// Executes an unsigned request (the `SubscribeURL` and
    /// `UnsubscribeURL`): only ConfirmSubscription, which cannot ask for
    /// authentication on unsubscribe, and Unsubscribe of a subscription
    /// that did not ask for it.
    pub async fn execute_unsigned(&self, op: SnsOp) -> Result<QueryResponse, AwsError> {
        let refused =
            |m: &str| AwsError::sender(http::StatusCode::FORBIDDEN, "AuthorizationError", m);
        match op {
            SnsOp::ConfirmSubscription {
                topic_arn, token, ..
            } => {
                let op = SnsOp::ConfirmSubscription {
                    topic_arn,
                    token,
                    authenticate_on_unsubscribe: false,
                };
                self.execute(op, &self.inner.account).await
            }
            SnsOp::Unsubscribe { subscription_arn } => {
                let sub = self.subscription(&subscription_arn).await?;
                if flag(&sub.attributes, AUTHENTICATED) {
                    return Err(refused(
                        "This subscription was confirmed with AuthenticateOnUnsubscribe: unsubscribing needs a signed request",
                    ));
                }
                self.execute(SnsOp::Unsubscribe { subscription_arn }, &self.inner.account)
                    .await
            }
            _ => Err(refused(
                "Only ConfirmSubscription and Unsubscribe are answered unsigned",
            )),
        }
    }

    fn row(
        &self,
        subscription_arn: &str,
        ordering_key: Option<String>,
        d: &Delivery,
    ) -> Result<NewDelivery, AwsError> {
        let payload = serde_json::to_string(d).map_err(|e| {
            tracing::error!(error = %e, "encode a delivery");
            AwsError {
                status: http::StatusCode::INTERNAL_SERVER_ERROR,
                code: "InternalError".into(),
                message: "Internal error".into(),
                sender_fault: false,
            }
        })?;
        Ok(NewDelivery {
            subscription_arn: subscription_arn.to_string(),
            ordering_key,
            payload,
            not_before_ms: 0,
        })
    }

    fn checked_arn<'a>(&self, arn: &'a str) -> Result<&'a str, AwsError> {
        topic_name(arn).ok_or_else(|| invalid_parameter("TopicArn"))
    }

    async fn topic(&self, arn: &str) -> Result<SnsTopic, AwsError> {
        self.checked_arn(arn)?;
        self.inner
            .store
            .topic(arn)
            .await
            .map_err(|e| internal(&e))?
            .ok_or_else(no_topic)
    }

    async fn tagged(&self, arn: &str) -> Result<SnsTopic, AwsError> {
        if topic_name(arn).is_none() {
            return Err(invalid_parameter("ResourceArn"));
        }
        self.inner
            .store
            .topic(arn)
            .await
            .map_err(|e| internal(&e))?
            .ok_or_else(resource_not_found)
    }

    async fn save_topic(&self, topic: &SnsTopic) -> Result<(), AwsError> {
        if self
            .inner
            .store
            .update_topic(topic)
            .await
            .map_err(|e| internal(&e))?
        {
            Ok(())
        } else {
            Err(no_topic())
        }
    }

    async fn subscription(&self, arn: &str) -> Result<SnsSubscription, AwsError> {
        if !is_arn_of(arn, "sns") {
            return Err(invalid_parameter("SubscriptionArn"));
        }
        self.inner
            .store
            .subscription(arn)
            .await
            .map_err(|e| internal(&e))?
            .ok_or_else(no_subscription)
    }
}

fn split_page<T>(mut items: Vec<T>) -> (Vec<T>, bool) {
    let more = items.len() > PAGE;
    items.truncate(PAGE);
    (items, more)
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
