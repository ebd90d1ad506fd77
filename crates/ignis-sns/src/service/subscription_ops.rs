//! The subscription operations: Subscribe (an HTTP endpoint's
//! confirmation request written with the subscription), ConfirmSubscription,
//! Unsubscribe (with an HTTP endpoint's UnsubscribeConfirmation), the lists
//! and the subscription's attributes.

use std::collections::BTreeMap;

use ignis_protocol::{AwsError, Members, QueryResponse, XmlValue};
use ignis_store::sns::SnsSubscription;

use super::*;

impl Sns {
    /// Subscriptions: subscribe, confirm, unsubscribe, list, attributes.
    pub(crate) async fn execute_subscription(
        &self,
        op: &SnsOp,
        caller_account: &str,
    ) -> Result<QueryResponse, AwsError> {
        let s = &self.inner;
        match op {
            SnsOp::Subscribe {
                topic_arn,
                protocol,
                endpoint,
                attributes,
                return_arn,
            } => {
                self.subscribe(
                    op,
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
                Ok(ok(op, Members::new().text("SubscriptionArn", sub.arn)))
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
                Ok(done(op))
            }
            SnsOp::ListSubscriptions { next_token } => {
                let subs = s
                    .store
                    .list_subscriptions(None, next_token.as_deref(), PAGE + 1)
                    .await
                    .map_err(|e| internal(&e))?;
                Ok(ok(op, subscription_page(subs)))
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
                Ok(ok(op, subscription_page(subs)))
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
                Ok(ok(op, Members::new().nested("Attributes", entries(&a))))
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
                Ok(done(op))
            }
            _ => unreachable!("execute routes only these operations here"),
        }
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
        let requested = sub.attributes.clone();
        let (sub, new) = s
            .store
            .subscribe(sub, rows)
            .await
            .map_err(|e| internal(&e))?
            .ok_or_else(no_topic)?;
        // The same endpoint again answers the subscription it has, unless
        // the attributes asked for differ from its own.
        if !new
            && requested
                .iter()
                .any(|(k, v)| sub.attributes.get(k) != Some(v))
        {
            return Err(invalid_parameter(
                "Attributes Reason: Subscription already exists with different attributes",
            ));
        }
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
