//! Publish and PublishBatch: a message checked as SNS checks it (size,
//! subject, structure, FIFO ids), matched against each confirmed
//! subscription's filter policy, and committed as one delivery row per
//! matching subscription before it is answered.

use std::collections::BTreeMap;

use ignis_protocol::{AwsError, Members, QueryResponse, XmlValue};
use ignis_store::sns::{Dedup, DeliveriesFor, NewDelivery, Published, SnsSubscription, SnsTopic};
use ignis_store::StoreError;
use serde_json::Value;
use sha2::Digest;

use super::*;

impl Sns {
    /// Publish and PublishBatch.
    pub(crate) async fn execute_publish(&self, op: &SnsOp) -> Result<QueryResponse, AwsError> {
        match op {
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
                    op,
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
                    op,
                    Members::new()
                        .list("Successful", successful)
                        .list("Failed", failed),
                ))
            }
            _ => unreachable!("execute routes only these operations here"),
        }
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
        // Rows are encoded once the store has numbered the message, so a
        // FIFO topic's notifications carry their SequenceNumber.
        let make: DeliveriesFor = Box::new(move |sequence| {
            rows.into_iter()
                .map(|(arn, key, mut d)| {
                    if fifo {
                        d.sequence = Some(sequence_text(sequence));
                    }
                    let payload =
                        serde_json::to_string(&d).map_err(|source| StoreError::Encode {
                            name: format!("a delivery to {arn}"),
                            source,
                        })?;
                    Ok(NewDelivery {
                        subscription_arn: arn,
                        ordering_key: key,
                        payload,
                        not_before_ms: 0,
                    })
                })
                .collect()
        });
        match s
            .store
            .publish(&topic.arn, dedup, make)
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

/// A publish, checked, for one topic: the message for each protocol and
/// what the filter policies see.
struct Checked {
    default: String,
    by_protocol: BTreeMap<String, String>,
    policy_attributes: PolicyAttributes,
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
