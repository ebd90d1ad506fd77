//! SNS's operations as a typed enum, read from a query request with the
//! model's required members and SNS's own checks of names and ARNs, and
//! what the front authorizes each as.

use std::collections::BTreeMap;

use ignis_protocol::{AwsError, QueryRequest};

use crate::attributes::{self, MessageAttributes};
use crate::error::{batch, invalid_parameter};
use crate::params::{group, list, string_map, Fields};

/// A tag: key and value.
pub type Tag = (String, String);

/// What one publish carries (Publish, or one PublishBatch entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishInput {
    /// The message (with `MessageStructure=json`, the JSON of messages by
    /// protocol, checked when executed).
    pub message: String,
    /// The subject, if any.
    pub subject: Option<String>,
    /// `MessageStructure=json`.
    pub structure_json: bool,
    /// Message attributes.
    pub attributes: MessageAttributes,
    /// FIFO: the message group.
    pub group_id: Option<String>,
    /// FIFO: the deduplication id.
    pub dedup_id: Option<String>,
}

/// One entry of PublishBatch: its id and what it publishes, or why it
/// was refused on its own.
pub type BatchEntry = (String, Result<PublishInput, AwsError>);

/// One SNS operation, parsed.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // Fields are the model's members, named alike.
pub enum SnsOp {
    CreateTopic {
        name: String,
        attributes: BTreeMap<String, String>,
        tags: Vec<Tag>,
    },
    DeleteTopic {
        topic_arn: String,
    },
    ListTopics {
        next_token: Option<String>,
    },
    GetTopicAttributes {
        topic_arn: String,
    },
    SetTopicAttributes {
        topic_arn: String,
        name: String,
        value: String,
    },
    Subscribe {
        topic_arn: String,
        protocol: String,
        endpoint: String,
        attributes: BTreeMap<String, String>,
        return_arn: bool,
    },
    /// `authenticate_on_unsubscribe`: only a signed caller may end it.
    ConfirmSubscription {
        topic_arn: String,
        token: String,
        authenticate_on_unsubscribe: bool,
    },
    Unsubscribe {
        subscription_arn: String,
    },
    ListSubscriptions {
        next_token: Option<String>,
    },
    ListSubscriptionsByTopic {
        topic_arn: String,
        next_token: Option<String>,
    },
    GetSubscriptionAttributes {
        subscription_arn: String,
    },
    SetSubscriptionAttributes {
        subscription_arn: String,
        name: String,
        value: String,
    },
    /// `target`: the TopicArn or TargetArn.
    Publish {
        target: String,
        input: PublishInput,
    },
    PublishBatch {
        topic_arn: String,
        entries: Vec<BatchEntry>,
    },
    AddPermission {
        topic_arn: String,
        label: String,
        accounts: Vec<String>,
        actions: Vec<String>,
    },
    RemovePermission {
        topic_arn: String,
        label: String,
    },
    TagResource {
        resource_arn: String,
        tags: Vec<Tag>,
    },
    UntagResource {
        resource_arn: String,
        keys: Vec<String>,
    },
    ListTagsForResource {
        resource_arn: String,
    },
}

fn required(params: &Fields, name: &str) -> Result<String, AwsError> {
    params.get(name).cloned().ok_or_else(|| {
        AwsError::sender(
            http::StatusCode::BAD_REQUEST,
            "ValidationError",
            format!("1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null", lower_first(name)),
        )
    })
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

fn tags(params: &Fields) -> Vec<Tag> {
    group(params, "Tags.member")
        .into_iter()
        .map(|mut t| {
            (
                t.remove("Key").unwrap_or_default(),
                t.remove("Value").unwrap_or_default(),
            )
        })
        .collect()
}

fn publish_input(params: &Fields) -> Result<PublishInput, AwsError> {
    let structure = params.get("MessageStructure");
    if let Some(s) = structure.filter(|s| s.as_str() != "json") {
        return Err(invalid_parameter(format!(
            "MessageStructure Reason: {s} is not a valid value"
        )));
    }
    Ok(PublishInput {
        message: required(params, "Message")?,
        subject: params.get("Subject").cloned(),
        structure_json: structure.is_some(),
        attributes: attributes::parse(params, "MessageAttributes")?,
        group_id: params.get("MessageGroupId").cloned(),
        dedup_id: params.get("MessageDeduplicationId").cloned(),
    })
}

/// The most entries of a PublishBatch.
pub const MAX_BATCH: usize = 10;

fn batch_entries(params: &Fields) -> Result<Vec<BatchEntry>, AwsError> {
    let members = group(params, "PublishBatchRequestEntries.member");
    if members.is_empty() {
        return Err(batch(
            "EmptyBatchRequest",
            "The batch request doesn't contain any entries",
        ));
    }
    if members.len() > MAX_BATCH {
        return Err(batch(
            "TooManyEntriesInBatchRequest",
            "The batch request contains more entries than permissible",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for m in members {
        let id = m.get("Id").cloned().unwrap_or_default();
        if id.is_empty()
            || id.len() > 80
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(batch(
                "InvalidBatchEntryId",
                "The Id of a batch entry in a batch request doesn't abide by the specification",
            ));
        }
        if !seen.insert(id.clone()) {
            return Err(batch(
                "BatchEntryIdsNotDistinct",
                "Two or more batch entries in the request have the same Id",
            ));
        }
        out.push((id, publish_input(&m)));
    }
    Ok(out)
}

impl SnsOp {
    /// Reads `req` into an operation; an operation SNS has and Ignis does
    /// not serve is `InvalidAction`.
    pub fn parse(req: &QueryRequest) -> Result<Self, AwsError> {
        let p = &req.params;
        let next_token = || p.get("NextToken").cloned();
        Ok(match req.action.as_str() {
            "CreateTopic" => Self::CreateTopic {
                name: required(p, "Name")?,
                attributes: string_map(p, "Attributes"),
                tags: tags(p),
            },
            "DeleteTopic" => Self::DeleteTopic {
                topic_arn: required(p, "TopicArn")?,
            },
            "ListTopics" => Self::ListTopics {
                next_token: next_token(),
            },
            "GetTopicAttributes" => Self::GetTopicAttributes {
                topic_arn: required(p, "TopicArn")?,
            },
            "SetTopicAttributes" => Self::SetTopicAttributes {
                topic_arn: required(p, "TopicArn")?,
                name: required(p, "AttributeName")?,
                value: p.get("AttributeValue").cloned().unwrap_or_default(),
            },
            "Subscribe" => Self::Subscribe {
                topic_arn: required(p, "TopicArn")?,
                protocol: required(p, "Protocol")?,
                endpoint: p.get("Endpoint").cloned().unwrap_or_default(),
                attributes: string_map(p, "Attributes"),
                return_arn: p
                    .get("ReturnSubscriptionArn")
                    .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            },
            "ConfirmSubscription" => Self::ConfirmSubscription {
                topic_arn: required(p, "TopicArn")?,
                token: required(p, "Token")?,
                authenticate_on_unsubscribe: p
                    .get("AuthenticateOnUnsubscribe")
                    .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            },
            "Unsubscribe" => Self::Unsubscribe {
                subscription_arn: required(p, "SubscriptionArn")?,
            },
            "ListSubscriptions" => Self::ListSubscriptions {
                next_token: next_token(),
            },
            "ListSubscriptionsByTopic" => Self::ListSubscriptionsByTopic {
                topic_arn: required(p, "TopicArn")?,
                next_token: next_token(),
            },
            "GetSubscriptionAttributes" => Self::GetSubscriptionAttributes {
                subscription_arn: required(p, "SubscriptionArn")?,
            },
            "SetSubscriptionAttributes" => Self::SetSubscriptionAttributes {
                subscription_arn: required(p, "SubscriptionArn")?,
                name: required(p, "AttributeName")?,
                value: p.get("AttributeValue").cloned().unwrap_or_default(),
            },
            "Publish" => {
                if p.contains_key("PhoneNumber") {
                    return Err(invalid_parameter(
                        "PhoneNumber Reason: Ignis does not send SMS",
                    ));
                }
                let target = p
                    .get("TopicArn")
                    .or_else(|| p.get("TargetArn"))
                    .cloned()
                    .ok_or_else(|| {
                        invalid_parameter("TopicArn or TargetArn Reason: no value for required parameter")
                    })?;
                Self::Publish {
                    target,
                    input: publish_input(p)?,
                }
            }
            "PublishBatch" => Self::PublishBatch {
                topic_arn: required(p, "TopicArn")?,
                entries: batch_entries(p)?,
            },
            "AddPermission" => Self::AddPermission {
                topic_arn: required(p, "TopicArn")?,
                label: required(p, "Label")?,
                accounts: list(p, "AWSAccountId"),
                actions: list(p, "ActionName"),
            },
            "RemovePermission" => Self::RemovePermission {
                topic_arn: required(p, "TopicArn")?,
                label: required(p, "Label")?,
            },
            "TagResource" => Self::TagResource {
                resource_arn: required(p, "ResourceArn")?,
                tags: tags(p),
            },
            "UntagResource" => Self::UntagResource {
                resource_arn: required(p, "ResourceArn")?,
                keys: list(p, "TagKeys"),
            },
            "ListTagsForResource" => Self::ListTagsForResource {
                resource_arn: required(p, "ResourceArn")?,
            },
            other => {
                return Err(AwsError::sender(
                    http::StatusCode::BAD_REQUEST,
                    "InvalidAction",
                    format!("The action {other} is not valid for this endpoint (Ignis serves topics, subscriptions and publishing)."),
                ))
            }
        })
    }

    /// The operation's name (`CreateTopic`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::CreateTopic { .. } => "CreateTopic",
            Self::DeleteTopic { .. } => "DeleteTopic",
            Self::ListTopics { .. } => "ListTopics",
            Self::GetTopicAttributes { .. } => "GetTopicAttributes",
            Self::SetTopicAttributes { .. } => "SetTopicAttributes",
            Self::Subscribe { .. } => "Subscribe",
            Self::ConfirmSubscription { .. } => "ConfirmSubscription",
            Self::Unsubscribe { .. } => "Unsubscribe",
            Self::ListSubscriptions { .. } => "ListSubscriptions",
            Self::ListSubscriptionsByTopic { .. } => "ListSubscriptionsByTopic",
            Self::GetSubscriptionAttributes { .. } => "GetSubscriptionAttributes",
            Self::SetSubscriptionAttributes { .. } => "SetSubscriptionAttributes",
            Self::Publish { .. } => "Publish",
            Self::PublishBatch { .. } => "PublishBatch",
            Self::AddPermission { .. } => "AddPermission",
            Self::RemovePermission { .. } => "RemovePermission",
            Self::TagResource { .. } => "TagResource",
            Self::UntagResource { .. } => "UntagResource",
            Self::ListTagsForResource { .. } => "ListTagsForResource",
        }
    }

    /// The IAM action the front authorizes (`sns:Publish`).
    pub fn action(&self) -> String {
        format!("sns:{}", self.name())
    }

    /// The topic an operation acts on, whose policy is its resource policy
    /// (a subscription's operations act on its topic).
    pub fn topic(&self) -> Option<&str> {
        match self {
            Self::DeleteTopic { topic_arn }
            | Self::GetTopicAttributes { topic_arn }
            | Self::SetTopicAttributes { topic_arn, .. }
            | Self::Subscribe { topic_arn, .. }
            | Self::ConfirmSubscription { topic_arn, .. }
            | Self::ListSubscriptionsByTopic { topic_arn, .. }
            | Self::PublishBatch { topic_arn, .. }
            | Self::AddPermission { topic_arn, .. }
            | Self::RemovePermission { topic_arn, .. } => Some(topic_arn),
            Self::Publish { target, .. } => Some(target),
            Self::TagResource { resource_arn, .. }
            | Self::UntagResource { resource_arn, .. }
            | Self::ListTagsForResource { resource_arn } => Some(resource_arn),
            Self::GetSubscriptionAttributes { subscription_arn }
            | Self::SetSubscriptionAttributes {
                subscription_arn, ..
            }
            | Self::Unsubscribe { subscription_arn } => {
                subscription_arn.rsplit_once(':').map(|(t, _)| t)
            }
            Self::CreateTopic { .. } | Self::ListTopics { .. } | Self::ListSubscriptions { .. } => {
                None
            }
        }
    }

    /// The resource the front authorizes the action on: the topic, a new
    /// topic's ARN, or `*`.
    pub fn resource(&self, region: &str, account: &str) -> String {
        match self {
            Self::CreateTopic { name, .. } => topic_arn(region, account, name),
            other => other
                .topic()
                .map_or_else(|| "*".to_string(), str::to_string),
        }
    }
}

/// The ARN of topic `name`.
pub fn topic_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:sns:{region}:{account}:{name}")
}
