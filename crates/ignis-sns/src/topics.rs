//! Topic and subscription attributes: what may be set, SNS's checks, and
//! the computed ones (`Policy`'s default, `EffectiveDeliveryPolicy`).

use std::collections::BTreeMap;

use ignis_identity::policy::{PolicyDocument, PolicyKind};
use ignis_patterns::sns::{FilterPolicy, FilterPolicyScope};
use ignis_protocol::AwsError;
use serde_json::{json, Value};

use crate::error::invalid_parameter;

/// Topic attributes CreateTopic and SetTopicAttributes take.
const TOPIC_SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "DisplayName",
    "Policy",
    "SignatureVersion",
    "TracingConfig",
    "KmsMasterKeyId",
    "ContentBasedDeduplication",
    "ArchivePolicy",
    "FifoThroughputScope",
    "DataProtectionPolicy",
];

/// Subscription attributes Subscribe and SetSubscriptionAttributes take.
const SUBSCRIPTION_SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];

/// Whether a topic name is valid: 1–256 of `A-Za-z0-9_-`, a FIFO topic's
/// ending in `.fifo` (counted).
pub fn valid_topic_name(name: &str, fifo: bool) -> bool {
    let stem = if fifo {
        match name.strip_suffix(".fifo") {
            Some(s) => s,
            None => return false,
        }
    } else {
        name
    };
    !stem.is_empty()
        && name.len() <= 256
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn boolean(name: &str, value: &str) -> Result<bool, AwsError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid_parameter(format!(
            "{name}: Invalid value [{value}]. Must be true or false."
        ))),
    }
}

/// Checks one topic attribute (`creating`: CreateTopic, where `FifoTopic`
/// is also taken); `fifo`: whether the topic is FIFO.
pub fn check_topic_attribute(
    name: &str,
    value: &str,
    fifo: bool,
    creating: bool,
) -> Result<(), AwsError> {
    if name == "FifoTopic" && creating {
        boolean(name, value)?;
        return Ok(());
    }
    if !TOPIC_SETTABLE.contains(&name) {
        return Err(invalid_parameter("AttributeName"));
    }
    match name {
        "Policy" => {
            PolicyDocument::parse(value, PolicyKind::Resource)
                .map_err(|e| invalid_parameter(format!("Policy Error: {e}")))?;
        }
        "DeliveryPolicy" => {
            crate::delivery_policy::RetryPolicy::parse(value)
                .map_err(|e| invalid_parameter(format!("DeliveryPolicy: {e}")))?;
        }
        "DisplayName" if value.chars().count() > 100 => {
            return Err(invalid_parameter("DisplayName"));
        }
        "SignatureVersion" if !matches!(value, "1" | "2") => {
            return Err(invalid_parameter("SignatureVersion"));
        }
        "ContentBasedDeduplication" => {
            boolean(name, value)?;
            if !fifo {
                return Err(invalid_parameter(
                    "ContentBasedDeduplication Reason: Content-based deduplication can only be set for FIFO topics",
                ));
            }
        }
        "FifoThroughputScope" => {
            if !fifo {
                return Err(invalid_parameter(
                    "FifoThroughputScope Reason: can only be set for FIFO topics",
                ));
            }
            if !matches!(value, "Topic" | "MessageGroup") {
                return Err(invalid_parameter(
                    "FifoThroughputScope Reason: must be Topic or MessageGroup",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// The policy a topic has before any is set (AWS's default: the owner
/// account's principals may manage and publish).
pub fn default_policy(topic_arn: &str, account: &str) -> String {
    json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic", "SNS:Publish"
            ],
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account}}
        }]
    })
    .to_string()
}

/// Adds `AddPermission`'s statement to `policy`.
pub fn add_statement(
    policy: &str,
    topic_arn: &str,
    label: &str,
    accounts: &[String],
    actions: &[String],
) -> Result<String, AwsError> {
    let mut doc: Value = serde_json::from_str(policy)
        .map_err(|e| invalid_parameter(format!("Policy Error: {e}")))?;
    let statements = statements(&mut doc)?;
    if statements
        .iter()
        .any(|s| s.get("Sid").and_then(Value::as_str) == Some(label))
    {
        return Err(invalid_parameter("Statement already exists"));
    }
    let principals: Vec<String> = accounts
        .iter()
        .map(|a| {
            if a.starts_with("arn:") {
                a.clone()
            } else {
                format!("arn:aws:iam::{a}:root")
            }
        })
        .collect();
    let actions: Vec<String> = actions.iter().map(|a| format!("SNS:{a}")).collect();
    statements.push(json!({
        "Sid": label,
        "Effect": "Allow",
        "Principal": {"AWS": principals},
        "Action": actions,
        "Resource": topic_arn,
    }));
    Ok(doc.to_string())
}

/// Removes the statement `label` from `policy`.
pub fn remove_statement(policy: &str, label: &str) -> Result<String, AwsError> {
    let mut doc: Value = serde_json::from_str(policy)
        .map_err(|e| invalid_parameter(format!("Policy Error: {e}")))?;
    let statements = statements(&mut doc)?;
    let before = statements.len();
    statements.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(label));
    if statements.len() == before {
        return Err(invalid_parameter("Statement does not exist"));
    }
    Ok(doc.to_string())
}

fn statements(doc: &mut Value) -> Result<&mut Vec<Value>, AwsError> {
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| invalid_parameter("Policy Error: not an object"))?;
    let entry = obj.entry("Statement").or_insert_with(|| json!([]));
    if entry.is_object() {
        *entry = json!([entry.take()]);
    }
    entry
        .as_array_mut()
        .ok_or_else(|| invalid_parameter("Policy Error: Statement is not a list"))
}

/// Checks one subscription attribute against the subscription's
/// `protocol` and its other attributes `current` (a `FilterPolicy` is
/// parsed with the scope in effect).
pub fn check_subscription_attribute(
    name: &str,
    value: &str,
    protocol: &str,
    current: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    if !SUBSCRIPTION_SETTABLE.contains(&name) {
        return Err(invalid_parameter("AttributeName"));
    }
    match name {
        "RawMessageDelivery" => {
            boolean(name, value)?;
            if !matches!(protocol, "sqs" | "http" | "https" | "firehose") {
                return Err(invalid_parameter(format!(
                    "Attributes Reason: Delivery protocol [{protocol}] does not support raw message delivery."
                )));
            }
        }
        "FilterPolicy" => {
            let scope = current
                .get("FilterPolicyScope")
                .and_then(|s| FilterPolicyScope::parse(s))
                .unwrap_or_default();
            if !value.is_empty() {
                FilterPolicy::parse(value, scope).map_err(|e| bare(e.sns_message()))?;
            }
        }
        "FilterPolicyScope" => {
            let scope = FilterPolicyScope::parse(value).ok_or_else(|| {
                invalid_parameter(format!(
                    "FilterPolicyScope: Invalid value [{value}]. Please use either MessageBody or MessageAttributes"
                ))
            })?;
            if let Some(policy) = current.get("FilterPolicy").filter(|p| !p.is_empty()) {
                FilterPolicy::parse(policy, scope).map_err(|e| bare(e.sns_message()))?;
            }
        }
        "RedrivePolicy" => {
            dead_letter_arn(value)?;
        }
        "DeliveryPolicy" => {
            crate::delivery_policy::RetryPolicy::parse(value)
                .map_err(|e| invalid_parameter(format!("DeliveryPolicy: {e}")))?;
        }
        _ => {}
    }
    Ok(())
}

fn bare(message: String) -> AwsError {
    AwsError::sender(http::StatusCode::BAD_REQUEST, "InvalidParameter", message)
}

/// The dead-letter queue a `RedrivePolicy` names (`deadLetterTargetArn`,
/// an SQS queue ARN).
pub fn dead_letter_arn(policy: &str) -> Result<String, AwsError> {
    let doc: Value = serde_json::from_str(policy)
        .map_err(|_| invalid_parameter("RedrivePolicy: Invalid RedrivePolicy: not valid JSON"))?;
    let arn = doc
        .get("deadLetterTargetArn")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid_parameter("RedrivePolicy: Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
        })?;
    if !is_arn_of(arn, "sqs") {
        return Err(invalid_parameter(format!(
            "RedrivePolicy: Invalid deadLetterTargetArn: {arn}"
        )));
    }
    Ok(arn.to_string())
}

/// Whether `arn` is `arn:aws:<service>:<region>:<account>:<rest>`.
pub fn is_arn_of(arn: &str, service: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == service
        && !parts[3].is_empty()
        && !parts[4].is_empty()
        && !parts[5].is_empty()
}

/// Whether `arn` names a function (`arn:aws:lambda:r:a:function:name[:q]`).
pub fn is_function_arn(arn: &str) -> bool {
    is_arn_of(arn, "lambda")
        && arn
            .splitn(6, ':')
            .nth(5)
            .and_then(|rest| rest.strip_prefix("function:"))
            .is_some_and(|name| !name.is_empty())
}
