//! A rule's target: its settings as PutTargets gives them ([`Target`]),
//! their checks, and the input it is delivered (`Input`, `InputPath`, an
//! `InputTransformer`, or the whole event).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::path::JsonPath;

/// Retries before a delivery is given up, by default (AWS's).
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 185;
/// The oldest event delivered, seconds, by default (AWS's: 24 hours).
pub const DEFAULT_EVENT_AGE_S: u32 = 86_400;
/// Placeholders an `InputPathsMap` may name.
const MAX_PATHS: usize = 100;

/// An input transformer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InputTransformer {
    /// Placeholder names to JSON paths in the event.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub input_paths_map: BTreeMap<String, String>,
    /// The template, with `<name>` placeholders.
    pub input_template: String,
}

/// A retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RetryPolicy {
    /// Retries (0 to 185).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    /// The oldest event delivered, seconds (60 to 86,400).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<u32>,
}

/// A dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    /// The queue's ARN.
    pub arn: Option<String>,
}

/// A queue target's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SqsParameters {
    /// FIFO: the message group.
    pub message_group_id: Option<String>,
}

/// A target as PutTargets gives it (the members Ignis uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    /// The id (unique on its rule).
    pub id: String,
    /// What it delivers to.
    pub arn: String,
    /// The role (kept, not assumed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// A constant input (JSON text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The part of the event delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    /// A template filled from the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_transformer: Option<InputTransformer>,
    /// Retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    /// Where an event that could not be delivered goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    /// Queue parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqs_parameters: Option<SqsParameters>,
}

/// The service an ARN is of (`lambda`, `sqs`, …).
pub fn service_of(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next()? == "arn").then_some(())?;
    parts.next()?;
    parts.next().filter(|s| !s.is_empty())
}

impl Target {
    /// Checks the target as PutTargets does; the message of a failed
    /// entry.
    pub fn check(&self) -> Result<(), String> {
        if !crate::names::valid_rule_name(&self.id) {
            return Err(format!(
                "Parameter Id is not valid: {:?} must be 1 to 64 of [.-_A-Za-z0-9]",
                self.id
            ));
        }
        match service_of(&self.arn) {
            Some("lambda" | "sqs" | "sns" | "events") => {}
            Some(other) => {
                return Err(format!(
                    "Ignis does not deliver to {other} targets (functions, queues, topics and event buses only)"
                ))
            }
            None => return Err(format!("Parameter {} is not valid.", self.arn)),
        }
        let fifo_queue = service_of(&self.arn) == Some("sqs") && self.arn.ends_with(".fifo");
        let group = self
            .sqs_parameters
            .as_ref()
            .and_then(|p| p.message_group_id.as_deref());
        if fifo_queue && group.is_none_or(str::is_empty) {
            return Err(format!(
                "Parameter(s) SqsParameters must be specified for target: {}.",
                self.id
            ));
        }
        let given = [
            self.input.is_some(),
            self.input_path.is_some(),
            self.input_transformer.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(
                "Only one of Input, InputPath, or InputTransformer must be provided.".into(),
            );
        }
        if let Some(input) = &self.input {
            if serde_json::from_str::<Value>(input).is_err() {
                return Err("Input is not valid JSON text.".into());
            }
        }
        if let Some(path) = &self.input_path {
            if JsonPath::parse(path).is_none() {
                return Err(format!("InputPath {path} is not a valid JSON path."));
            }
        }
        if let Some(t) = &self.input_transformer {
            check_transformer(t)?;
        }
        if let Some(p) = &self.retry_policy {
            if p.maximum_retry_attempts.is_some_and(|n| n > 185) {
                return Err("MaximumRetryAttempts must be between 0 and 185.".into());
            }
            if p.maximum_event_age_in_seconds
                .is_some_and(|s| !(60..=86_400).contains(&s))
            {
                return Err("MaximumEventAgeInSeconds must be between 60 and 86400.".into());
            }
        }
        if let Some(d) = &self.dead_letter_config {
            match d.arn.as_deref().map(service_of) {
                Some(Some("sqs")) | None => {}
                _ => return Err("The dead-letter queue must be an SQS queue ARN.".into()),
            }
        }
        Ok(())
    }

    /// Retries before giving up.
    pub fn retry_attempts(&self) -> u32 {
        self.retry_policy
            .and_then(|p| p.maximum_retry_attempts)
            .unwrap_or(DEFAULT_RETRY_ATTEMPTS)
    }

    /// The oldest event delivered, seconds.
    pub fn max_event_age_s(&self) -> u32 {
        self.retry_policy
            .and_then(|p| p.maximum_event_age_in_seconds)
            .unwrap_or(DEFAULT_EVENT_AGE_S)
    }

    /// The dead-letter queue's ARN, if any.
    pub fn dead_letter_arn(&self) -> Option<String> {
        self.dead_letter_config.as_ref()?.arn.clone()
    }

    /// What this target is delivered for `event` (JSON text).
    pub fn input_for(&self, event: &Value, rule: &RuleRef<'_>) -> String {
        if let Some(input) = &self.input {
            return input.clone();
        }
        if let Some(path) = &self.input_path {
            return JsonPath::parse(path)
                .and_then(|p| p.get(event).cloned())
                .unwrap_or(Value::Null)
                .to_string();
        }
        match &self.input_transformer {
            Some(t) => transform(t, event, rule),
            None => event.to_string(),
        }
    }
}

/// The rule a delivery is for (for the transformer's reserved
/// placeholders).
pub struct RuleRef<'a> {
    /// The rule's ARN.
    pub arn: &'a str,
    /// The rule's name.
    pub name: &'a str,
    /// When the event was taken in (RFC 3339).
    pub ingestion_time: &'a str,
}

fn check_transformer(t: &InputTransformer) -> Result<(), String> {
    if t.input_paths_map.len() > MAX_PATHS {
        return Err(format!(
            "InputTransformer: InputPathsMap has more than {MAX_PATHS} entries."
        ));
    }
    for (key, path) in &t.input_paths_map {
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        {
            return Err(format!("InputTransformer: key {key} is not valid."));
        }
        if key.starts_with("aws") {
            return Err(format!(
                "InputTransformer: key {key} is reserved (keys may not start with aws)."
            ));
        }
        if JsonPath::parse(path).is_none() {
            return Err(format!(
                "InputTransformer: {path} of key {key} is not a valid JSON path."
            ));
        }
    }
    if t.input_template.is_empty() || t.input_template.len() > 8192 {
        return Err("InputTransformer: InputTemplate must be 1 to 8192 characters.".into());
    }
    Ok(())
}

/// Fills the template. In a JSON template (one starting with `{`, `[` or
/// `"`) a placeholder inside a JSON string takes a string value's text
/// (escaped for the string) or another value's JSON text; outside a
/// string, the value's JSON text. A plain-text template takes string
/// values' text as they are. A path that finds nothing gives an empty text
/// inside a string (or in plain text) and `null` outside; a placeholder
/// that names no key is left as written.
fn transform(t: &InputTransformer, event: &Value, rule: &RuleRef<'_>) -> String {
    let lookup = |name: &str| -> Option<Option<Value>> {
        match name {
            "aws.events.rule-arn" => Some(Some(Value::String(rule.arn.to_string()))),
            "aws.events.rule-name" => Some(Some(Value::String(rule.name.to_string()))),
            "aws.events.event.ingestion-time" => {
                Some(Some(Value::String(rule.ingestion_time.to_string())))
            }
            "aws.events.event" => {
                let mut without = event.clone();
                if let Some(map) = without.as_object_mut() {
                    map.remove("detail");
                }
                Some(Some(without))
            }
            "aws.events.event.json" => Some(Some(event.clone())),
            _ => {
                let path = t.input_paths_map.get(name)?;
                Some(JsonPath::parse(path).and_then(|p| p.get(event).cloned()))
            }
        }
    };
    let text = &t.input_template;
    let json = matches!(text.trim_start().chars().next(), Some('{' | '[' | '"'));
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text.as_str();
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            if let Some(end) = rest.find('>') {
                let name = &rest[1..end];
                let plain = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
                if plain {
                    if let Some(value) = lookup(name) {
                        out.push_str(&render(value, in_string, json));
                        rest = &rest[end + 1..];
                        escaped = false;
                        continue;
                    }
                }
            }
        }
        if escaped {
            escaped = false;
        } else if c == '\\' && in_string {
            escaped = true;
        } else if c == '"' {
            in_string = !in_string;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn render(value: Option<Value>, in_string: bool, json: bool) -> String {
    if !json {
        return match value {
            None => String::new(),
            Some(Value::String(s)) => s,
            Some(v) => v.to_string(),
        };
    }
    match (value, in_string) {
        (None, true) => String::new(),
        (None, false) => "null".into(),
        (Some(Value::String(s)), true) => {
            let quoted = Value::String(s).to_string();
            quoted[1..quoted.len() - 1].to_string()
        }
        (Some(v), true) => {
            let quoted = Value::String(v.to_string()).to_string();
            quoted[1..quoted.len() - 1].to_string()
        }
        (Some(v), false) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target(extra: Value) -> Target {
        let mut t = json!({"Id": "t1", "Arn": "arn:aws:sqs:us-east-1:000000000000:q"});
        for (k, v) in extra.as_object().unwrap() {
            t[k] = v.clone();
        }
        serde_json::from_value(t).unwrap()
    }

    fn event() -> Value {
        json!({"id": "e1", "source": "app.orders", "detail-type": "Order Placed",
               "detail": {"order": {"id": 17, "item": "tea \"green\""}, "state": "new", "tags": ["a"]}})
    }

    const RULE: RuleRef<'static> = RuleRef {
        arn: "arn:aws:events:us-east-1:000000000000:rule/r",
        name: "r",
        ingestion_time: "2026-01-01T00:00:00Z",
    };

    #[test]
    fn no_input_delivers_the_event_and_input_path_a_part() {
        assert_eq!(
            target(json!({})).input_for(&event(), &RULE),
            event().to_string()
        );
        assert_eq!(
            target(json!({"InputPath": "$.detail.order"})).input_for(&event(), &RULE),
            r#"{"id":17,"item":"tea \"green\""}"#
        );
        assert_eq!(
            target(json!({"InputPath": "$.detail.state"})).input_for(&event(), &RULE),
            r#""new""#
        );
        assert_eq!(
            target(json!({"Input": "{\"fixed\":1}"})).input_for(&event(), &RULE),
            r#"{"fixed":1}"#
        );
    }

    #[test]
    fn the_transformer_fills_strings_and_values() {
        let t = target(json!({"InputTransformer": {
            "InputPathsMap": {"id": "$.detail.order.id", "item": "$.detail.order.item",
                              "tags": "$.detail.tags", "gone": "$.detail.nothing"},
            "InputTemplate": "{\"text\": \"order <id> of <item> by <aws.events.rule-name>\", \"id\": <id>, \"tags\": <tags>, \"gone\": <gone>, \"g\": \"<gone>\", \"keep\": \"<other>\"}"
        }}));
        t.check().unwrap();
        let out: Value = serde_json::from_str(&t.input_for(&event(), &RULE)).unwrap();
        assert_eq!(
            out,
            json!({"text": "order 17 of tea \"green\" by r", "id": 17, "tags": ["a"],
                   "gone": null, "g": "", "keep": "<other>"})
        );
        // A plain-text template (a JSON string).
        let t = target(json!({"InputTransformer": {
            "InputPathsMap": {"state": "$.detail.state"},
            "InputTemplate": "\"the order is <state>\""
        }}));
        assert_eq!(t.input_for(&event(), &RULE), "\"the order is new\"");
        // A plain-text template.
        let t = target(json!({"InputTransformer": {
            "InputPathsMap": {"state": "$.detail.state", "id": "$.detail.order.id"},
            "InputTemplate": "order <id> is <state>"
        }}));
        assert_eq!(t.input_for(&event(), &RULE), "order 17 is new");
        // The event without its detail, and with it.
        let t = target(json!({"InputTransformer": {
            "InputTemplate": "{\"e\": <aws.events.event>, \"j\": <aws.events.event.json>}"
        }}));
        let out: Value = serde_json::from_str(&t.input_for(&event(), &RULE)).unwrap();
        assert!(out["e"].get("detail").is_none());
        assert_eq!(out["e"]["source"], "app.orders");
        assert_eq!(out["j"], event());
    }

    #[test]
    fn checks_refuse_what_aws_refuses() {
        assert!(target(json!({"Input": "{}", "InputPath": "$"}))
            .check()
            .is_err());
        assert!(target(json!({"Input": "not json"})).check().is_err());
        assert!(target(json!({"InputPath": "detail"})).check().is_err());
        let reserved = target(json!({"InputTransformer": {
            "InputPathsMap": {"aws.x": "$.a"}, "InputTemplate": "<aws.x>"}}));
        assert!(reserved.check().is_err());
        assert!(
            target(json!({"RetryPolicy": {"MaximumRetryAttempts": 186}}))
                .check()
                .is_err()
        );
        assert!(target(
            json!({"DeadLetterConfig": {"Arn": "arn:aws:sns:us-east-1:000000000000:t"}})
        )
        .check()
        .is_err());
        let mut t = target(json!({}));
        t.arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s".into();
        assert!(t.check().is_err());
        assert!(target(json!({"RetryPolicy": {"MaximumRetryAttempts": 0}}))
            .check()
            .is_ok());
        let mut fifo = target(json!({}));
        fifo.arn = "arn:aws:sqs:us-east-1:000000000000:q.fifo".into();
        assert!(fifo.check().unwrap_err().contains("SqsParameters"));
        fifo.sqs_parameters = Some(SqsParameters {
            message_group_id: Some("g".into()),
        });
        assert!(fifo.check().is_ok());
    }
}
