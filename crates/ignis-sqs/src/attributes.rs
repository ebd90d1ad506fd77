//! Queue attributes: which SQS knows, their ranges and defaults, and the
//! resolved settings the engine runs a queue by.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::SqsError;

/// `DelaySeconds`.
pub const DELAY_SECONDS: &str = "DelaySeconds";
/// `MaximumMessageSize`.
pub const MAXIMUM_MESSAGE_SIZE: &str = "MaximumMessageSize";
/// `MessageRetentionPeriod`.
pub const MESSAGE_RETENTION_PERIOD: &str = "MessageRetentionPeriod";
/// `ReceiveMessageWaitTimeSeconds`.
pub const RECEIVE_WAIT: &str = "ReceiveMessageWaitTimeSeconds";
/// `VisibilityTimeout`.
pub const VISIBILITY_TIMEOUT: &str = "VisibilityTimeout";
/// `RedrivePolicy`.
pub const REDRIVE_POLICY: &str = "RedrivePolicy";
/// `RedriveAllowPolicy`.
pub const REDRIVE_ALLOW_POLICY: &str = "RedriveAllowPolicy";
/// `Policy`.
pub const POLICY: &str = "Policy";
/// `FifoQueue`.
pub const FIFO_QUEUE: &str = "FifoQueue";
/// `ContentBasedDeduplication`.
pub const CONTENT_BASED_DEDUPLICATION: &str = "ContentBasedDeduplication";
/// `DeduplicationScope`.
pub const DEDUPLICATION_SCOPE: &str = "DeduplicationScope";
/// `FifoThroughputLimit`.
pub const FIFO_THROUGHPUT_LIMIT: &str = "FifoThroughputLimit";
/// `KmsMasterKeyId`.
pub const KMS_MASTER_KEY_ID: &str = "KmsMasterKeyId";
/// `KmsDataKeyReusePeriodSeconds`.
pub const KMS_DATA_KEY_REUSE: &str = "KmsDataKeyReusePeriodSeconds";
/// `SqsManagedSseEnabled`.
pub const SQS_MANAGED_SSE: &str = "SqsManagedSseEnabled";

/// Integer attributes and their ranges.
const RANGES: &[(&str, i64, i64)] = &[
    (DELAY_SECONDS, 0, 900),
    (MAXIMUM_MESSAGE_SIZE, 1_024, 1_048_576),
    (MESSAGE_RETENTION_PERIOD, 60, 1_209_600),
    (RECEIVE_WAIT, 0, 20),
    (VISIBILITY_TIMEOUT, 0, 43_200),
    (KMS_DATA_KEY_REUSE, 60, 86_400),
];

/// Attributes only FIFO queues have.
const FIFO_ONLY: &[&str] = &[
    CONTENT_BASED_DEDUPLICATION,
    DEDUPLICATION_SCOPE,
    FIFO_THROUGHPUT_LIMIT,
];

/// Attributes any queue has.
const COMMON: &[&str] = &[
    DELAY_SECONDS,
    MAXIMUM_MESSAGE_SIZE,
    MESSAGE_RETENTION_PERIOD,
    RECEIVE_WAIT,
    VISIBILITY_TIMEOUT,
    REDRIVE_POLICY,
    REDRIVE_ALLOW_POLICY,
    POLICY,
    KMS_MASTER_KEY_ID,
    KMS_DATA_KEY_REUSE,
    SQS_MANAGED_SSE,
];

/// The highest `maxReceiveCount`.
const MAX_RECEIVE_COUNT: i64 = 1_000;

/// A parsed `RedrivePolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedrivePolicy {
    /// The dead-letter queue's ARN.
    pub target_arn: String,
    /// Receives after which a message moves there.
    pub max_receive_count: u32,
}

/// Validates attributes given to `CreateQueue` (`creating`) or
/// `SetQueueAttributes` for a queue of this type, and returns them
/// normalized (numbers in decimal, booleans in lower case, the redrive
/// policy as SQS renders it). An empty value (set only) removes an optional
/// attribute.
pub fn validate(
    given: &BTreeMap<String, String>,
    fifo: bool,
    creating: bool,
) -> Result<BTreeMap<String, String>, SqsError> {
    let mut out = BTreeMap::new();
    for (name, value) in given {
        let known = COMMON.contains(&name.as_str())
            || (name == FIFO_QUEUE && creating)
            || (fifo && FIFO_ONLY.contains(&name.as_str()));
        if !known {
            return Err(SqsError::invalid_attribute_name(name));
        }
        out.insert(name.clone(), normalize(name, value, creating)?);
    }
    Ok(out)
}

fn normalize(name: &str, value: &str, creating: bool) -> Result<String, SqsError> {
    let invalid = || SqsError::invalid_attribute_value(name, None);
    if let Some(&(_, low, high)) = RANGES.iter().find(|(n, ..)| *n == name) {
        let n: i64 = value.trim().parse().map_err(|_| invalid())?;
        if !(low..=high).contains(&n) {
            return Err(invalid());
        }
        return Ok(n.to_string());
    }
    match name {
        FIFO_QUEUE | CONTENT_BASED_DEDUPLICATION | SQS_MANAGED_SSE => {
            match value.to_ascii_lowercase().as_str() {
                v @ ("true" | "false") => Ok(v.to_string()),
                _ => Err(invalid()),
            }
        }
        DEDUPLICATION_SCOPE => match value {
            "messageGroup" | "queue" => Ok(value.to_string()),
            _ => Err(invalid()),
        },
        FIFO_THROUGHPUT_LIMIT => match value {
            "perQueue" | "perMessageGroupId" => Ok(value.to_string()),
            _ => Err(invalid()),
        },
        REDRIVE_POLICY if value.is_empty() && !creating => Ok(String::new()),
        REDRIVE_POLICY => redrive_policy(value).map(|p| render_redrive(&p)),
        REDRIVE_ALLOW_POLICY if value.is_empty() && !creating => Ok(String::new()),
        REDRIVE_ALLOW_POLICY => redrive_allow_policy(value).map(|()| value.to_string()),
        POLICY if value.is_empty() => Ok(String::new()),
        POLICY => match serde_json::from_str::<Value>(value) {
            Ok(Value::Object(_)) => Ok(value.to_string()),
            _ => Err(SqsError::invalid_attribute_value(
                name,
                Some("failed to parse the policy document as JSON"),
            )),
        },
        _ => Ok(value.to_string()), // KmsMasterKeyId: stored as given
    }
}

/// Parses a `RedrivePolicy` (`maxReceiveCount` a number or a string of one).
pub fn redrive_policy(value: &str) -> Result<RedrivePolicy, SqsError> {
    let bad = |reason: &str| SqsError::invalid_attribute_value(REDRIVE_POLICY, Some(reason));
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(value) else {
        return Err(bad("Redrive policy is not a valid JSON map."));
    };
    let arn = map
        .get("deadLetterTargetArn")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
        })?;
    let count = match map.get("maxReceiveCount") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        None => {
            return Err(bad(
                "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
            ))
        }
        _ => None,
    };
    let count = count
        .filter(|c| (1..=MAX_RECEIVE_COUNT).contains(c))
        .ok_or_else(|| {
            bad("Invalid value for maxReceiveCount: must be an integer from 1 to 1000.")
        })?;
    if let Some(extra) = map
        .keys()
        .find(|k| *k != "deadLetterTargetArn" && *k != "maxReceiveCount")
    {
        return Err(bad(&format!(
            "Redrive policy contains an unknown attribute: {extra}."
        )));
    }
    Ok(RedrivePolicy {
        target_arn: arn.to_string(),
        max_receive_count: u32::try_from(count).expect("within 1..=1000"),
    })
}

/// A redrive policy as SQS renders it.
pub fn render_redrive(p: &RedrivePolicy) -> String {
    serde_json::json!({
        "deadLetterTargetArn": p.target_arn,
        "maxReceiveCount": p.max_receive_count,
    })
    .to_string()
}

fn redrive_allow_policy(value: &str) -> Result<(), SqsError> {
    let bad = |reason: &str| SqsError::invalid_attribute_value(REDRIVE_ALLOW_POLICY, Some(reason));
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(value) else {
        return Err(bad("Redrive allow policy is not a valid JSON map."));
    };
    let arns = map.get("sourceQueueArns").map(|v| {
        v.as_array()
            .filter(|a| a.iter().all(Value::is_string))
            .map(Vec::len)
    });
    match (map.get("redrivePermission").and_then(Value::as_str), arns) {
        (Some("byQueue"), Some(Some(1..=10))) => Ok(()),
        (Some("byQueue"), _) => Err(bad(
            "Redrive allow policy with redrivePermission byQueue needs sourceQueueArns of 1 to 10 queue ARNs.",
        )),
        (Some("allowAll" | "denyAll"), None) => Ok(()),
        (Some("allowAll" | "denyAll"), Some(_)) => Err(bad(
            "sourceQueueArns can be given only with redrivePermission byQueue.",
        )),
        _ => Err(bad("Redrive allow policy needs redrivePermission allowAll, denyAll or byQueue.")),
    }
}

/// Whether a dead-letter queue's `RedriveAllowPolicy` lets `source_arn`
/// name it.
pub fn allows_source(allow_policy: Option<&str>, source_arn: &str) -> bool {
    let Some(Ok(Value::Object(map))) = allow_policy.map(serde_json::from_str::<Value>) else {
        return true;
    };
    match map.get("redrivePermission").and_then(Value::as_str) {
        Some("denyAll") => false,
        Some("byQueue") => map
            .get("sourceQueueArns")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(source_arn))),
        _ => true,
    }
}

/// A new queue's attributes: the given ones (validated) over SQS's defaults.
pub fn with_defaults(given: BTreeMap<String, String>, fifo: bool) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = [
        (DELAY_SECONDS, "0"),
        (MAXIMUM_MESSAGE_SIZE, "262144"),
        (MESSAGE_RETENTION_PERIOD, "345600"),
        (RECEIVE_WAIT, "0"),
        (VISIBILITY_TIMEOUT, "30"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if fifo {
        for (k, v) in [
            (FIFO_QUEUE, "true"),
            (CONTENT_BASED_DEDUPLICATION, "false"),
            (DEDUPLICATION_SCOPE, "queue"),
            (FIFO_THROUGHPUT_LIMIT, "perQueue"),
        ] {
            out.insert(k.to_string(), v.to_string());
        }
    }
    let kms = given.get(KMS_MASTER_KEY_ID).is_some_and(|k| !k.is_empty());
    if kms {
        out.insert(KMS_DATA_KEY_REUSE.to_string(), "300".to_string());
    }
    out.insert(SQS_MANAGED_SSE.to_string(), (!kms).to_string());
    for (k, v) in given {
        if !v.is_empty() {
            out.insert(k, v);
        }
    }
    if !fifo {
        out.remove(FIFO_QUEUE);
    }
    out
}

/// Checks rules across attributes of the resulting set.
pub fn check_combination(attrs: &BTreeMap<String, String>) -> Result<(), SqsError> {
    let per_group =
        attrs.get(FIFO_THROUGHPUT_LIMIT).map(String::as_str) == Some("perMessageGroupId");
    let queue_scope = attrs.get(DEDUPLICATION_SCOPE).map(String::as_str) != Some("messageGroup");
    if per_group && queue_scope {
        return Err(SqsError::invalid_attribute_value(
            FIFO_THROUGHPUT_LIMIT,
            Some("The perMessageGroupId value is allowed only when the value for DeduplicationScope is messageGroup."),
        ));
    }
    Ok(())
}

/// The settings the engine runs a queue by, read from its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `DelaySeconds`.
    pub delay_seconds: u32,
    /// `MaximumMessageSize`, bytes.
    pub max_message_size: usize,
    /// `MessageRetentionPeriod`, seconds.
    pub retention_seconds: u32,
    /// `ReceiveMessageWaitTimeSeconds`.
    pub wait_seconds: u32,
    /// `VisibilityTimeout`, seconds.
    pub visibility_timeout: u32,
    /// `RedrivePolicy`.
    pub redrive: Option<RedrivePolicy>,
    /// `ContentBasedDeduplication`.
    pub content_based_dedup: bool,
    /// `DeduplicationScope` is `messageGroup`.
    pub dedup_per_group: bool,
}

impl Settings {
    /// Reads a queue's stored attributes (falling back to defaults).
    pub fn of(attrs: &BTreeMap<String, String>) -> Self {
        let num = |name: &str, default: u32| {
            attrs
                .get(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Self {
            delay_seconds: num(DELAY_SECONDS, 0),
            max_message_size: num(MAXIMUM_MESSAGE_SIZE, 262_144) as usize,
            retention_seconds: num(MESSAGE_RETENTION_PERIOD, 345_600),
            wait_seconds: num(RECEIVE_WAIT, 0),
            visibility_timeout: num(VISIBILITY_TIMEOUT, 30),
            redrive: attrs
                .get(REDRIVE_POLICY)
                .and_then(|v| redrive_policy(v).ok()),
            content_based_dedup: attrs
                .get(CONTENT_BASED_DEDUPLICATION)
                .is_some_and(|v| v == "true"),
            dedup_per_group: attrs
                .get(DEDUPLICATION_SCOPE)
                .is_some_and(|v| v == "messageGroup"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ranges_names_and_types_are_checked() {
        assert_eq!(
            validate(&map(&[("VisibilityTimeout", "43201")]), false, true)
                .unwrap_err()
                .code,
            "InvalidAttributeValue"
        );
        assert_eq!(
            validate(&map(&[("MaximumMessageSize", "1023")]), false, true)
                .unwrap_err()
                .message,
            "Invalid value for the parameter MaximumMessageSize."
        );
        assert_eq!(
            validate(&map(&[("Bogus", "1")]), false, true)
                .unwrap_err()
                .code,
            "InvalidAttributeName"
        );
        assert_eq!(
            validate(&map(&[("ContentBasedDeduplication", "true")]), false, true)
                .unwrap_err()
                .code,
            "InvalidAttributeName",
            "a standard queue has no deduplication"
        );
        assert_eq!(
            validate(&map(&[("FifoQueue", "true")]), true, false)
                .unwrap_err()
                .code,
            "InvalidAttributeName",
            "the queue type cannot change"
        );
        let ok = validate(
            &map(&[
                ("DelaySeconds", "900"),
                ("ContentBasedDeduplication", "TRUE"),
            ]),
            true,
            true,
        )
        .unwrap();
        assert_eq!(ok["ContentBasedDeduplication"], "true");
    }

    #[test]
    fn redrive_policies_parse_and_render_as_sqs_does() {
        let p = redrive_policy(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:r:0:dlq","maxReceiveCount":"3"}"#,
        )
        .unwrap();
        assert_eq!(p.max_receive_count, 3);
        assert_eq!(
            render_redrive(&p),
            r#"{"deadLetterTargetArn":"arn:aws:sqs:r:0:dlq","maxReceiveCount":3}"#
        );
        for bad in [
            "nope",
            r#"{"maxReceiveCount":3}"#,
            r#"{"deadLetterTargetArn":"a","maxReceiveCount":0}"#,
            r#"{"deadLetterTargetArn":"a","maxReceiveCount":1001}"#,
            r#"{"deadLetterTargetArn":"a","maxReceiveCount":1,"x":1}"#,
        ] {
            assert_eq!(
                redrive_policy(bad).unwrap_err().code,
                "InvalidAttributeValue",
                "{bad}"
            );
        }
    }

    #[test]
    fn allow_policies_gate_sources() {
        assert!(allows_source(None, "a"));
        assert!(!allows_source(
            Some(r#"{"redrivePermission":"denyAll"}"#),
            "a"
        ));
        let by = r#"{"redrivePermission":"byQueue","sourceQueueArns":["a"]}"#;
        assert!(allows_source(Some(by), "a"));
        assert!(!allows_source(Some(by), "b"));
        assert!(redrive_allow_policy(r#"{"redrivePermission":"byQueue"}"#).is_err());
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        let a = with_defaults(map(&[("VisibilityTimeout", "5")]), false);
        assert_eq!(a["VisibilityTimeout"], "5");
        assert_eq!(a["MaximumMessageSize"], "262144");
        assert_eq!(a["SqsManagedSseEnabled"], "true");
        assert!(!a.contains_key("FifoQueue"));
        let f = with_defaults(map(&[("FifoQueue", "true")]), true);
        assert_eq!(f["DeduplicationScope"], "queue");
        let s = Settings::of(&f);
        assert_eq!((s.visibility_timeout, s.retention_seconds), (30, 345_600));
    }
}
