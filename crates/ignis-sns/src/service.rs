//! [`Sns`]: SNS's operations executed against the store; a publish
//! commits its deliveries before it answers.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ignis_patterns::sns::{FilterPolicy, FilterPolicyScope, MessageAttributes as PolicyAttributes};
use ignis_protocol::{AwsError, Members, QueryResponse, XmlValue};
use ignis_store::sns::{Dedup, NewDelivery, Published, SnsSubscription, SnsTopic};
use ignis_store::SnsStore;
use serde_json::Value;
use sha2::Digest;
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

/// A publish, checked, for one topic: the message for each protocol and
/// what the filter policies see.
struct Checked {
    default: String,
    by_protocol: BTreeMap<String, String>,
    policy_attributes: PolicyAttributes,
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
        let s = &self.inner;
        match &op {
            SnsOp::CreateTopic {
                name,
                attributes,
                tags,
            } => {
                let fifo = attributes
                    .get("FifoTopic")
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                if !valid_topic_name(name, fifo) {
                    return Err(if fifo || name.ends_with(".fifo") {
                        invalid_parameter("Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.")
                    } else {
                        invalid_parameter("Topic Name")
                    });
                }
                for (k, v) in attributes {
                    check_topic_attribute(k, v, fifo, true)?;
                }
                check_tags(tags)?;
                if tags.len() > MAX_TAGS {
                    return Err(AwsError::sender(
                        http::StatusCode::BAD_REQUEST,
                        "TagLimitExceeded",
                        "Could not complete request: tag quota of per resource exceeded",
                    ));
                }
                let mut attrs = attributes.clone();
                if !fifo {
                    attrs.remove("FifoTopic");
                }
                let arn = topic_arn(&s.region, &s.account, name);
                let tags: BTreeMap<String, String> = tags.iter().cloned().collect();
                let topic = SnsTopic {
                    name: name.clone(),
                    arn: arn.clone(),
                    attributes: attrs.clone(),
                    tags: tags.clone(),
                    created_ms: now_ms(),
                };
                let (found, created) = s
                    .store
                    .create_topic(topic)
                    .await
                    .map_err(|e| internal(&e))?;
                if !created {
                    let differs = attrs
                        .iter()
                        .any(|(k, v)| found.attributes.get(k) != Some(v));
                    if differs {
                        return Err(invalid_parameter(
                            "Attributes Reason: Topic already exists with different attributes",
                        ));
                    }
                    if !tags.is_empty() && tags != found.tags {
                        return Err(invalid_parameter("Tags Reason: Topic already exists with different tags.  Tags not updated."));
                    }
                }
                Ok(ok(&op, Members::new().text("TopicArn", found.arn)))
            }
            SnsOp::DeleteTopic { topic_arn } => {
                self.checked_arn(topic_arn)?;
                s.store
                    .delete_topic(topic_arn)
                    .await
                    .map_err(|e| internal(&e))?;
                Ok(done(&op))
            }
            SnsOp::ListTopics { next_token } => {
                let arns = s
                    .store
                    .list_topics(next_token.as_deref(), PAGE + 1)
                    .await
                    .map_err(|e| internal(&e))?;
                let (page, more) = split_page(arns);
                let next = more.then(|| page.last().cloned()).flatten();
                let items = page
                    .into_iter()
                    .map(|a| XmlValue::Struct(Members::new().text("TopicArn", a)))
                    .collect();
                Ok(ok(
                    &op,
                    Members::new().list("Topics", items).opt("NextToken", next),
                ))
            }
            SnsOp::GetTopicAttributes { topic_arn } => {
                let topic = self.topic(topic_arn).await?;
                let subs = s
                    .store
                    .list_subscriptions(Some(topic_arn), None, usize::MAX)
                    .await
                    .map_err(|e| internal(&e))?;
                let confirmed = subs.iter().filter(|x| x.confirmed).count();
                let mut a = topic.attributes.clone();
                a.insert("TopicArn".into(), topic.arn.clone());
                a.insert("Owner".into(), s.account.clone());
                a.entry("Policy".into())
                    .or_insert_with(|| default_policy(&topic.arn, &s.account));
                a.entry("DisplayName".into()).or_default();
                a.insert("SubscriptionsConfirmed".into(), confirmed.to_string());
                a.insert(
                    "SubscriptionsPending".into(),
                    (subs.len() - confirmed).to_string(),
                );
                a.insert("SubscriptionsDeleted".into(), "0".into());
                let policy = topic
                    .attributes
                    .get("DeliveryPolicy")
                    .and_then(|p| RetryPolicy::parse(p).ok())
                    .unwrap_or_default();
                a.insert(
                    "EffectiveDeliveryPolicy".into(),
                    effective_topic_policy(&policy),
                );
                if is_fifo(&topic) {
                    a.entry("ContentBasedDeduplication".into())
                        .or_insert_with(|| "false".into());
                    a.entry("FifoThroughputScope".into())
                        .or_insert_with(|| "Topic".into());
                }
                Ok(ok(&op, Members::new().nested("Attributes", entries(&a))))
            }
            SnsOp::SetTopicAttributes {
                topic_arn,
                name,
                value,
            } => {
                let mut topic = self.topic(topic_arn).await?;
                check_topic_attribute(name, value, is_fifo(&topic), false)?;
                if value.is_empty() && name != "DisplayName" {
                    topic.attributes.remove(name);
                } else {
                    topic.attributes.insert(name.clone(), value.clone());
                }
                self.save_topic(&topic).await?;
                Ok(done(&op))
            }
            SnsOp::AddPermission {
                topic_arn,
                label,
                accounts,
                actions,
            } => {
                let mut topic = self.topic(topic_arn).await?;
                if accounts.is_empty() || actions.is_empty() {
                    return Err(invalid_parameter(
                        "AWSAccountId and ActionName must not be empty",
                    ));
                }
                let current = topic
                    .attributes
                    .get("Policy")
                    .cloned()
                    .unwrap_or_else(|| default_policy(topic_arn, &s.account));
                let policy = add_statement(&current, topic_arn, label, accounts, actions)?;
                topic.attributes.insert("Policy".into(), policy);
                self.save_topic(&topic).await?;
                Ok(done(&op))
            }
            SnsOp::RemovePermission { topic_arn, label } => {
                let mut topic = self.topic(topic_arn).await?;
                let current = topic
                    .attributes
                    .get("Policy")
                    .cloned()
                    .unwrap_or_else(|| default_policy(topic_arn, &s.account));
                let policy = remove_statement(&current, label)?;
                topic.attributes.insert("Policy".into(), policy);
                self.save_topic(&topic).await?;
                Ok(done(&op))
            }
            SnsOp::TagResource { resource_arn, tags } => {
                let mut topic = self.tagged(resource_arn).await?;
                check_tags(tags)?;
                topic.tags.extend(tags.iter().cloned());
                if topic.tags.len() > MAX_TAGS {
                    return Err(AwsError::sender(
                        http::StatusCode::BAD_REQUEST,
                        "TagLimitExceeded",
                        "Could not complete request: tag quota of per resource exceeded",
                    ));
                }
                self.save_topic(&topic).await?;
                Ok(ok(&op, Members::new()))
            }
            SnsOp::UntagResource { resource_arn, keys } => {
                let mut topic = self.tagged(resource_arn).await?;
                for k in keys {
                    topic.tags.remove(k);
                }
                self.save_topic(&topic).await?;
                Ok(ok(&op, Members::new()))
            }
            SnsOp::ListTagsForResource { resource_arn } => {
                let topic = self.tagged(resource_arn).await?;
                Ok(ok(&op, Members::new().list("Tags", tag_list(&topic.tags))))
            }
            SnsOp::Subscribe {
                topic_arn,
                protocol,
                endpoint,
                attributes,
                return_arn,
            } => {
                self.subscribe(
                    &op,
                    topic_arn,
                    protocol,
                    endpoint,
                    attributes,
                    *return_arn,
                    caller_account,
                )
                .await
            }
            SnsOp::ConfirmSubscription {
                topic_arn,
                token,
                authenticate_on_unsubscribe,
            } => {
                self.topic(topic_arn).await?;
                let mut sub = s
                    .store
                    .subscription_by_token(topic_arn, token)
                    .await
                    .map_err(|e| internal(&e))?
                    .ok_or_else(|| invalid_parameter("Token"))?;
                let authenticate =
                    *authenticate_on_unsubscribe && !flag(&sub.attributes, AUTHENTICATED);
                if !sub.confirmed || authenticate {
                    sub.confirmed = true;
                    if authenticate {
                        sub.attributes.insert(AUTHENTICATED.into(), "true".into());
                    }
                    if !s
                        .store
                        .update_subscription(&sub)
                        .await
                        .map_err(|e| internal(&e))?
                    {
                        return Err(no_subscription());
                    }
                }
                Ok(ok(&op, Members::new().text("SubscriptionArn", sub.arn)))
            }
            SnsOp::Unsubscribe { subscription_arn } => {
                let Some(sub) = s
                    .store
                    .subscription(subscription_arn)
                    .await
                    .map_err(|e| internal(&e))?
                else {
                    if !subscription_arn.starts_with("arn:") {
                        return Err(invalid_parameter("SubscriptionArn"));
                    }
                    return Err(no_subscription());
                };
                let mut then = Vec::new();
                if sub.confirmed && matches!(sub.protocol.as_str(), "http" | "https") {
                    let topic = s
                        .store
                        .topic(&sub.topic_arn)
                        .await
                        .map_err(|e| internal(&e))?;
                    let version = topic
                        .as_ref()
                        .and_then(|t| t.attributes.get("SignatureVersion").cloned())
                        .unwrap_or_else(|| "1".into());
                    let token = sub.token.clone().unwrap_or_else(token);
                    let d = self.confirmation(&sub, Kind::UnsubscribeConfirmation, token, version);
                    then.push(self.row(&sub.arn, None, &d)?);
                }
                s.store
                    .unsubscribe(subscription_arn, then)
                    .await
                    .map_err(|e| internal(&e))?;
                s.wake.notify_one();
                Ok(done(&op))
            }
            SnsOp::ListSubscriptions { next_token } => {
                let subs = s
                    .store
                    .list_subscriptions(None, next_token.as_deref(), PAGE + 1)
                    .await
                    .map_err(|e| internal(&e))?;
                Ok(ok(&op, subscription_page(subs)))
            }
            SnsOp::ListSubscriptionsByTopic {
                topic_arn,
                next_token,
            } => {
                self.topic(topic_arn).await?;
                let subs = s
                    .store
                    .list_subscriptions(Some(topic_arn), next_token.as_deref(), PAGE + 1)
                    .await
                    .map_err(|e| internal(&e))?;
                Ok(ok(&op, subscription_page(subs)))
            }
            SnsOp::GetSubscriptionAttributes { subscription_arn } => {
                let sub = self.subscription(subscription_arn).await?;
                let mut a = sub.attributes.clone();
                a.insert("SubscriptionArn".into(), sub.arn.clone());
                a.insert("TopicArn".into(), sub.topic_arn.clone());
                a.insert("Owner".into(), sub.owner.clone());
                a.insert("Protocol".into(), sub.protocol.clone());
                a.insert("Endpoint".into(), sub.endpoint.clone());
                a.insert("PendingConfirmation".into(), (!sub.confirmed).to_string());
                let authenticated = !matches!(sub.protocol.as_str(), "http" | "https")
                    || flag(&sub.attributes, AUTHENTICATED);
                a.insert(AUTHENTICATED.into(), authenticated.to_string());
                a.entry("RawMessageDelivery".into())
                    .or_insert_with(|| "false".into());
                if a.contains_key("FilterPolicy") {
                    a.entry("FilterPolicyScope".into())
                        .or_insert_with(|| "MessageAttributes".into());
                }
                let policy = sub
                    .attributes
                    .get("DeliveryPolicy")
                    .and_then(|p| RetryPolicy::parse(p).ok())
                    .unwrap_or_default();
                a.insert(
                    "EffectiveDeliveryPolicy".into(),
                    effective_subscription_policy(&policy),
                );
                Ok(ok(&op, Members::new().nested("Attributes", entries(&a))))
            }
            SnsOp::SetSubscriptionAttributes {
                subscription_arn,
                name,
                value,
            } => {
                let mut sub = self.subscription(subscription_arn).await?;
                check_subscription_attribute(name, value, &sub.protocol, &sub.attributes)?;
                if value.is_empty() {
                    sub.attributes.remove(name);
                } else {
                    sub.attributes.insert(name.clone(), value.clone());
                }
                if !s
                    .store
                    .update_subscription(&sub)
                    .await
                    .map_err(|e| internal(&e))?
                {
                    return Err(no_subscription());
                }
                Ok(done(&op))
            }
            SnsOp::Publish { target, input } => {
                let topic = if topic_name(target).is_some() {
                    self.topic(target).await?
                } else if is_arn_of(target, "sns") {
                    return Err(invalid_parameter(
                        "TargetArn Reason: Ignis publishes to topics only (no platform endpoints)",
                    ));
                } else {
                    return Err(invalid_parameter("TopicArn"));
                };
                let (message_id, sequence) = self.publish(&topic, input).await?;
                Ok(ok(
                    &op,
                    Members::new()
                        .text("MessageId", message_id)
                        .opt("SequenceNumber", sequence),
                ))
            }
            SnsOp::PublishBatch { topic_arn, entries } => {
                let topic = self.topic(topic_arn).await?;
                let total: usize = entries
                    .iter()
                    .filter_map(|(_, e)| e.as_ref().ok())
                    .map(size_of)
                    .sum();
                if total > MAX_MESSAGE_SIZE {
                    return Err(crate::error::batch(
                        "BatchRequestTooLong",
                        "The length of all the messages put together is more than the limit.",
                    ));
                }
                let mut successful = Vec::new();
                let mut failed = Vec::new();
                for (id, entry) in entries {
                    let result = match entry {
                        Ok(input) => self.publish(&topic, input).await,
                        Err(e) => Err(e.clone()),
                    };
                    match result {
                        Ok((message_id, sequence)) => successful.push(XmlValue::Struct(
                            Members::new()
                                .text("Id", id.clone())
                                .text("MessageId", message_id)
                                .opt("SequenceNumber", sequence),
                        )),
                        Err(e) => failed.push(XmlValue::Struct(
                            Members::new()
                                .text("Id", id.clone())
                                .text("Code", e.code.clone())
                                .text("Message", e.message.clone())
                                .bool("SenderFault", e.sender_fault),
                        )),
                    }
                }
                Ok(ok(
                    &op,
                    Members::new()
                        .list("Successful", successful)
                        .list("Failed", failed),
                ))
            }
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

    #[allow(clippy::too_many_arguments)]
    async fn subscribe(
        &self,
        op: &SnsOp,
        topic_arn: &str,
        protocol: &str,
        endpoint: &str,
        attributes: &BTreeMap<String, String>,
        return_arn: bool,
        caller_account: &str,
    ) -> Result<QueryResponse, AwsError> {
        let s = &self.inner;
        let topic = self.topic(topic_arn).await?;
        match protocol {
            "sqs" if !is_arn_of(endpoint, "sqs") => return Err(invalid_parameter("SQS endpoint ARN")),
            "lambda" if !is_function_arn(endpoint) => return Err(invalid_parameter("Lambda endpoint ARN")),
            "http" if !endpoint.starts_with("http://") => return Err(invalid_parameter("Endpoint must match the specified protocol")),
            "https" if !endpoint.starts_with("https://") => return Err(invalid_parameter("Endpoint must match the specified protocol")),
            "sqs" | "lambda" | "http" | "https" => {}
            "email" | "email-json" | "sms" | "application" | "firehose" => {
                return Err(invalid_parameter(format!("Protocol Reason: Ignis does not deliver to {protocol} endpoints (it serves lambda, sqs, http and https)")))
            }
            other => return Err(invalid_parameter(format!("Amazon SNS does not support this protocol string: {other}"))),
        }
        if is_fifo(&topic) && matches!(protocol, "http" | "https") {
            return Err(invalid_parameter(format!(
                "Invalid protocol type: {protocol}"
            )));
        }
        let mut current = BTreeMap::new();
        // The scope first, so the policy is read with it.
        let mut ordered: Vec<_> = attributes.iter().collect();
        ordered.sort_by_key(|(k, _)| *k != "FilterPolicyScope");
        for (k, v) in ordered {
            check_subscription_attribute(k, v, protocol, &current)?;
            current.insert(k.clone(), v.clone());
        }
        let confirmed = !matches!(protocol, "http" | "https");
        let sub = SnsSubscription {
            arn: format!("{topic_arn}:{}", uuid::Uuid::new_v4()),
            topic_arn: topic_arn.to_string(),
            protocol: protocol.to_string(),
            endpoint: endpoint.to_string(),
            owner: caller_account.to_string(),
            attributes: current,
            confirmed,
            token: (!confirmed).then(token),
            created_ms: now_ms(),
        };
        let mut rows = Vec::new();
        if let Some(token) = &sub.token {
            let version = topic
                .attributes
                .get("SignatureVersion")
                .cloned()
                .unwrap_or_else(|| "1".into());
            let d = self.confirmation(&sub, Kind::SubscriptionConfirmation, token.clone(), version);
            rows.push(self.row(&sub.arn, None, &d)?);
        }
        let (sub, _new) = s
            .store
            .subscribe(sub, rows)
            .await
            .map_err(|e| internal(&e))?
            .ok_or_else(no_topic)?;
        s.wake.notify_one();
        let arn = if sub.confirmed || return_arn {
            sub.arn
        } else {
            "pending confirmation".to_string()
        };
        Ok(ok(op, Members::new().text("SubscriptionArn", arn)))
    }

    fn confirmation(
        &self,
        sub: &SnsSubscription,
        kind: Kind,
        token: String,
        signature_version: String,
    ) -> Delivery {
        let message = match kind {
            Kind::SubscriptionConfirmation => format!(
                "You have chosen to subscribe to the topic {}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
                sub.topic_arn
            ),
            _ => format!(
                "You have chosen to deactivate subscription {}.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message.",
                sub.arn
            ),
        };
        Delivery {
            kind,
            subscription_arn: sub.arn.clone(),
            protocol: sub.protocol.clone(),
            endpoint: sub.endpoint.clone(),
            topic_arn: sub.topic_arn.clone(),
            message_id: uuid::Uuid::new_v4().to_string(),
            message,
            subject: None,
            timestamp: timestamp(),
            attributes: Default::default(),
            group_id: None,
            dedup_id: None,
            sequence: None,
            raw: false,
            token: Some(token),
            signature_version,
            dead_letter_arn: None,
            delivery_policy: sub.attributes.get("DeliveryPolicy").cloned(),
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

    fn check(&self, topic: &SnsTopic, input: &PublishInput) -> Result<Checked, AwsError> {
        if input.message.is_empty() {
            return Err(invalid_parameter("Empty message"));
        }
        if size_of(input) > MAX_MESSAGE_SIZE {
            return Err(invalid_parameter("Message too long"));
        }
        if let Some(subject) = &input.subject {
            if subject.is_empty()
                || subject.chars().count() > 100
                || !subject
                    .chars()
                    .all(|c| c.is_ascii() && !c.is_ascii_control())
            {
                return Err(invalid_parameter("Subject"));
            }
        }
        let fifo = is_fifo(topic);
        if fifo {
            let group = input.group_id.as_deref().ok_or_else(|| {
                invalid_parameter("The MessageGroupId parameter is required for FIFO topics")
            })?;
            if !valid_fifo_id(group) {
                return Err(invalid_parameter("MessageGroupId Reason: must be 1 to 128 alphanumeric or punctuation characters"));
            }
            match &input.dedup_id {
                Some(d) if !valid_fifo_id(d) => return Err(invalid_parameter("MessageDeduplicationId Reason: must be 1 to 128 alphanumeric or punctuation characters")),
                Some(_) => {}
                None if flag(&topic.attributes, "ContentBasedDeduplication") => {}
                None => return Err(invalid_parameter("The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")),
            }
        } else if input.dedup_id.is_some() {
            return Err(invalid_parameter("MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type"));
        }
        let (default, by_protocol) = if input.structure_json {
            let doc: Value = serde_json::from_str(&input.message).map_err(|_| {
                invalid_parameter("Message Structure - JSON message body failed to parse")
            })?;
            let obj = doc.as_object().ok_or_else(|| {
                invalid_parameter("Message Structure - JSON message body failed to parse")
            })?;
            let default = obj.get("default").and_then(Value::as_str).ok_or_else(|| {
                invalid_parameter("Message Structure - No default entry in JSON message body")
            })?;
            let by_protocol = obj
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect();
            (default.to_string(), by_protocol)
        } else {
            (input.message.clone(), BTreeMap::new())
        };
        let mut policy_attributes = PolicyAttributes::new();
        for (name, a) in &input.attributes {
            policy_attributes.insert(name, &a.data_type, a.value());
        }
        Ok(Checked {
            default,
            by_protocol,
            policy_attributes,
        })
    }

    /// Publishes one message to `topic`: checks it, writes one delivery per
    /// subscription whose filter policy it passes, all in one transaction,
    /// and wakes the dispatcher. The message id and (FIFO) sequence number.
    async fn publish(
        &self,
        topic: &SnsTopic,
        input: &PublishInput,
    ) -> Result<(String, Option<String>), AwsError> {
        let s = &self.inner;
        let checked = self.check(topic, input)?;
        let fifo = is_fifo(topic);
        let message_id = uuid::Uuid::new_v4().to_string();
        let dedup_id = fifo.then(|| {
            input
                .dedup_id
                .clone()
                .unwrap_or_else(|| hex(&sha2::Sha256::digest(input.message.as_bytes())))
        });
        let subs = s
            .store
            .list_subscriptions(Some(&topic.arn), None, usize::MAX)
            .await
            .map_err(|e| internal(&e))?;
        let stamp = timestamp();
        let version = topic
            .attributes
            .get("SignatureVersion")
            .cloned()
            .unwrap_or_else(|| "1".into());
        let mut rows = Vec::new();
        for sub in subs.iter().filter(|x| x.confirmed) {
            if !passes(sub, &checked) {
                continue;
            }
            let message = checked
                .by_protocol
                .get(&sub.protocol)
                .cloned()
                .unwrap_or_else(|| checked.default.clone());
            let d = Delivery {
                kind: Kind::Notification,
                subscription_arn: sub.arn.clone(),
                protocol: sub.protocol.clone(),
                endpoint: sub.endpoint.clone(),
                topic_arn: topic.arn.clone(),
                message_id: message_id.clone(),
                message,
                subject: input.subject.clone(),
                timestamp: stamp.clone(),
                attributes: input.attributes.clone(),
                group_id: input.group_id.clone(),
                dedup_id: dedup_id.clone(),
                sequence: None,
                raw: flag(&sub.attributes, "RawMessageDelivery"),
                token: None,
                signature_version: version.clone(),
                dead_letter_arn: sub
                    .attributes
                    .get("RedrivePolicy")
                    .and_then(|p| dead_letter_arn(p).ok()),
                delivery_policy: sub
                    .attributes
                    .get("DeliveryPolicy")
                    .cloned()
                    .or_else(|| topic.attributes.get("DeliveryPolicy").cloned()),
            };
            let key =
                fifo.then(|| format!("{}#{}", sub.arn, input.group_id.as_deref().unwrap_or("")));
            rows.push((sub.arn.clone(), key, d));
        }
        let now = now_ms();
        let dedup = dedup_id.as_ref().map(|id| Dedup {
            id: id.clone(),
            message_id: message_id.clone(),
            until_ms: now + DEDUP_WINDOW_MS,
            now_ms: now,
        });
        let encoded = rows
            .iter()
            .map(|(arn, key, d)| self.row(arn, key.clone(), d))
            .collect::<Result<Vec<_>, _>>()?;
        match s
            .store
            .publish(&topic.arn, dedup, encoded)
            .await
            .map_err(|e| internal(&e))?
        {
            Published::NoTopic => Err(no_topic()),
            Published::Duplicate {
                message_id,
                sequence,
            } => Ok((message_id, Some(sequence_text(sequence)))),
            Published::Accepted { sequence } => {
                s.wake.notify_one();
                Ok((message_id, fifo.then(|| sequence_text(sequence))))
            }
        }
    }

    /// Publishes `message` to the topic `topic_arn` for an internal sender
    /// (a Lambda destination, a dead-letter topic, an event source's
    /// failure destination): checked and committed as a Publish is. The
    /// attributes are name, SNS data type and string value. The message id.
    pub async fn publish_message(
        &self,
        topic_arn: &str,
        message: String,
        attributes: Vec<(String, String, String)>,
    ) -> Result<String, AwsError> {
        let topic = self.topic(topic_arn).await?;
        let input = PublishInput {
            message,
            subject: None,
            structure_json: false,
            attributes: attributes
                .into_iter()
                .map(|(name, data_type, value)| {
                    let a = crate::attributes::MessageAttribute {
                        data_type,
                        string_value: Some(value),
                        binary_value: None,
                    };
                    (name, a)
                })
                .collect(),
            group_id: None,
            dedup_id: None,
        };
        self.publish(&topic, &input).await.map(|(id, _)| id)
    }
}

fn split_page<T>(mut items: Vec<T>) -> (Vec<T>, bool) {
    let more = items.len() > PAGE;
    items.truncate(PAGE);
    (items, more)
}

fn subscription_page(subs: Vec<SnsSubscription>) -> Members {
    let (page, more) = split_page(subs);
    let next = if more {
        page.last().map(|s| s.arn.clone())
    } else {
        None
    };
    let items = page
        .into_iter()
        .map(|s| {
            XmlValue::Struct(
                Members::new()
                    .text(
                        "SubscriptionArn",
                        if s.confirmed {
                            s.arn
                        } else {
                            "PendingConfirmation".into()
                        },
                    )
                    .text("Owner", s.owner)
                    .text("Protocol", s.protocol)
                    .text("Endpoint", s.endpoint)
                    .text("TopicArn", s.topic_arn),
            )
        })
        .collect();
    Members::new()
        .list("Subscriptions", items)
        .opt("NextToken", next)
}

fn passes(sub: &SnsSubscription, checked: &Checked) -> bool {
    let Some(text) = sub.attributes.get("FilterPolicy").filter(|p| !p.is_empty()) else {
        return true;
    };
    let scope = sub
        .attributes
        .get("FilterPolicyScope")
        .and_then(|s| FilterPolicyScope::parse(s))
        .unwrap_or_default();
    match FilterPolicy::parse(text, scope) {
        Ok(policy) => {
            let body = checked
                .by_protocol
                .get(&sub.protocol)
                .map_or(checked.default.as_str(), String::as_str);
            policy.matches_message(&checked.policy_attributes, body)
        }
        Err(e) => {
            tracing::warn!(subscription = %sub.arn, error = %e, "a stored filter policy no longer parses; the message is not delivered to it");
            false
        }
    }
}

fn size_of(input: &PublishInput) -> usize {
    input.message.len()
        + input
            .attributes
            .iter()
            .map(|(k, a)| k.len() + a.size())
            .sum::<usize>()
}

fn valid_fifo_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_graphic())
}

fn sequence_text(n: u64) -> String {
    format!("{n:020}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
