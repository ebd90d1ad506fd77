//! The topic operations: CreateTopic, DeleteTopic, ListTopics, the topic's
//! attributes, its policy's statements (Add/RemovePermission) and tags.

use std::collections::BTreeMap;

use ignis_protocol::{AwsError, Members, QueryResponse, XmlValue};
use ignis_store::sns::SnsTopic;

use super::*;

impl Sns {
    /// Topics: create, delete, list, attributes, permissions, tags.
    pub(crate) async fn execute_topic(&self, op: &SnsOp) -> Result<QueryResponse, AwsError> {
        let s = &self.inner;
        match op {
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
                Ok(ok(op, Members::new().text("TopicArn", found.arn)))
            }
            SnsOp::DeleteTopic { topic_arn } => {
                self.checked_arn(topic_arn)?;
                s.store
                    .delete_topic(topic_arn)
                    .await
                    .map_err(|e| internal(&e))?;
                Ok(done(op))
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
                    op,
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
                Ok(ok(op, Members::new().nested("Attributes", entries(&a))))
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
                Ok(done(op))
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
                Ok(done(op))
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
                Ok(done(op))
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
                Ok(ok(op, Members::new()))
            }
            SnsOp::UntagResource { resource_arn, keys } => {
                let mut topic = self.tagged(resource_arn).await?;
                for k in keys {
                    topic.tags.remove(k);
                }
                self.save_topic(&topic).await?;
                Ok(ok(op, Members::new()))
            }
            SnsOp::ListTagsForResource { resource_arn } => {
                let topic = self.tagged(resource_arn).await?;
                Ok(ok(op, Members::new().list("Tags", tag_list(&topic.tags))))
            }
            _ => unreachable!("execute routes only these operations here"),
        }
    }
}
