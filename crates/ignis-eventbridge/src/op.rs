//! [`EventsOp`]: the operations Ignis serves, read from a JSON-protocol
//! body (`X-Amz-Target: AWSEvents.<Operation>`) into typed inputs, with
//! the IAM action and resource each is authorized on.

use serde::Deserialize;
use serde_json::Value;

use crate::error::validation;
use ignis_protocol::AwsError;

/// A tag as the API spells it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// PutRule's input.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRuleInput {
    /// The rule's name.
    pub name: String,
    /// `rate(…)` or `cron(…)`.
    pub schedule_expression: Option<String>,
    /// The event pattern (JSON text).
    pub event_pattern: Option<String>,
    /// `ENABLED` or `DISABLED`.
    pub state: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// The role targets are reached with (kept, not assumed).
    pub role_arn: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The bus (name or ARN; `default` if none).
    pub event_bus_name: Option<String>,
}

/// One entry of PutEvents.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct EventEntry {
    /// The event's time (epoch seconds, or a timestamp string).
    pub time: Option<Value>,
    /// The source.
    pub source: Option<String>,
    /// ARNs the event concerns.
    pub resources: Option<Vec<String>>,
    /// The detail type.
    pub detail_type: Option<String>,
    /// The detail (a JSON object, as text).
    pub detail: Option<String>,
    /// The bus (name or ARN; `default` if none).
    pub event_bus_name: Option<String>,
    /// An X-Ray trace header (kept out of the event).
    pub trace_header: Option<String>,
}

/// The operations served.
#[derive(Debug, Clone, PartialEq)]
pub enum EventsOp {
    /// Creates or updates a rule.
    PutRule(PutRuleInput),
    /// A rule's settings.
    DescribeRule {
        /// The rule.
        name: String,
        /// The bus.
        bus: Option<String>,
    },
    /// Rules of a bus.
    ListRules {
        /// Names starting with this.
        prefix: Option<String>,
        /// The bus.
        bus: Option<String>,
        /// The page after this token.
        next_token: Option<String>,
        /// At most this many.
        limit: Option<i64>,
    },
    /// Enables a rule.
    EnableRule {
        /// The rule.
        name: String,
        /// The bus.
        bus: Option<String>,
    },
    /// Disables a rule.
    DisableRule {
        /// The rule.
        name: String,
        /// The bus.
        bus: Option<String>,
    },
    /// Deletes a rule without targets.
    DeleteRule {
        /// The rule.
        name: String,
        /// The bus.
        bus: Option<String>,
    },
    /// Adds or replaces targets of a rule.
    PutTargets {
        /// The rule.
        rule: String,
        /// The bus.
        bus: Option<String>,
        /// The targets as given (JSON objects).
        targets: Vec<Value>,
    },
    /// Removes targets of a rule.
    RemoveTargets {
        /// The rule.
        rule: String,
        /// The bus.
        bus: Option<String>,
        /// The target ids.
        ids: Vec<String>,
    },
    /// A rule's targets.
    ListTargetsByRule {
        /// The rule.
        rule: String,
        /// The bus.
        bus: Option<String>,
        /// The page after this token.
        next_token: Option<String>,
        /// At most this many.
        limit: Option<i64>,
    },
    /// Rules with a target of this ARN.
    ListRuleNamesByTarget {
        /// The target's ARN.
        target_arn: String,
        /// The bus.
        bus: Option<String>,
        /// The page after this token.
        next_token: Option<String>,
        /// At most this many.
        limit: Option<i64>,
    },
    /// Sends events.
    PutEvents {
        /// The entries.
        entries: Vec<EventEntry>,
    },
    /// Whether a pattern matches an event.
    TestEventPattern {
        /// The pattern.
        pattern: String,
        /// The event (JSON text).
        event: String,
    },
    /// Creates a bus.
    CreateEventBus {
        /// The name.
        name: String,
        /// The description.
        description: Option<String>,
        /// Tags.
        tags: Vec<Tag>,
    },
    /// A bus's settings.
    DescribeEventBus {
        /// The bus (`default` if none).
        name: Option<String>,
    },
    /// The buses.
    ListEventBuses {
        /// Names starting with this.
        prefix: Option<String>,
        /// The page after this token.
        next_token: Option<String>,
        /// At most this many.
        limit: Option<i64>,
    },
    /// Deletes a bus.
    DeleteEventBus {
        /// The name.
        name: String,
    },
    /// Tags a rule or bus.
    TagResource {
        /// Its ARN.
        arn: String,
        /// The tags.
        tags: Vec<Tag>,
    },
    /// Untags a rule or bus.
    UntagResource {
        /// Its ARN.
        arn: String,
        /// The keys.
        keys: Vec<String>,
    },
    /// A rule's or bus's tags.
    ListTagsForResource {
        /// Its ARN.
        arn: String,
    },
}

/// The names of the operations Ignis serves; every other operation of the
/// model is answered as not served.
pub const SERVED: &[&str] = &[
    "PutRule",
    "DescribeRule",
    "ListRules",
    "EnableRule",
    "DisableRule",
    "DeleteRule",
    "PutTargets",
    "RemoveTargets",
    "ListTargetsByRule",
    "ListRuleNamesByTarget",
    "PutEvents",
    "TestEventPattern",
    "CreateEventBus",
    "DescribeEventBus",
    "ListEventBuses",
    "DeleteEventBus",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Named {
    name: Option<String>,
    event_bus_name: Option<String>,
    name_prefix: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
    rule: Option<String>,
    #[serde(default)]
    targets: Vec<Value>,
    #[serde(default)]
    ids: Vec<String>,
    target_arn: Option<String>,
    entries: Option<Vec<EventEntry>>,
    event_pattern: Option<String>,
    event: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    #[serde(default)]
    tag_keys: Vec<String>,
}

fn required<T>(value: Option<T>, member: &str) -> Result<T, AwsError> {
    value.ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

impl EventsOp {
    /// Reads operation `name`'s `body`; `Ok(None)` for an operation Ignis
    /// does not serve.
    pub fn parse(name: &str, body: &[u8]) -> Result<Option<Self>, AwsError> {
        if !SERVED.contains(&name) {
            return Ok(None);
        }
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            &b"{}"[..]
        } else {
            body
        };
        let bad = |e: serde_json::Error| {
            AwsError::sender(
                http::StatusCode::BAD_REQUEST,
                "SerializationException",
                format!("The request body does not read as {name}'s input: {e}"),
            )
        };
        if name == "PutRule" {
            return serde_json::from_slice(body)
                .map(|i| Some(Self::PutRule(i)))
                .map_err(bad);
        }
        let n: Named = serde_json::from_slice(body).map_err(bad)?;
        Ok(Some(match name {
            "DescribeRule" => Self::DescribeRule {
                name: required(n.name, "name")?,
                bus: n.event_bus_name,
            },
            "ListRules" => Self::ListRules {
                prefix: n.name_prefix,
                bus: n.event_bus_name,
                next_token: n.next_token,
                limit: n.limit,
            },
            "EnableRule" => Self::EnableRule {
                name: required(n.name, "name")?,
                bus: n.event_bus_name,
            },
            "DisableRule" => Self::DisableRule {
                name: required(n.name, "name")?,
                bus: n.event_bus_name,
            },
            "DeleteRule" => Self::DeleteRule {
                name: required(n.name, "name")?,
                bus: n.event_bus_name,
            },
            "PutTargets" => Self::PutTargets {
                rule: required(n.rule, "rule")?,
                bus: n.event_bus_name,
                targets: n.targets,
            },
            "RemoveTargets" => Self::RemoveTargets {
                rule: required(n.rule, "rule")?,
                bus: n.event_bus_name,
                ids: n.ids,
            },
            "ListTargetsByRule" => Self::ListTargetsByRule {
                rule: required(n.rule, "rule")?,
                bus: n.event_bus_name,
                next_token: n.next_token,
                limit: n.limit,
            },
            "ListRuleNamesByTarget" => Self::ListRuleNamesByTarget {
                target_arn: required(n.target_arn, "targetArn")?,
                bus: n.event_bus_name,
                next_token: n.next_token,
                limit: n.limit,
            },
            "PutEvents" => Self::PutEvents {
                entries: required(n.entries, "entries")?,
            },
            "TestEventPattern" => Self::TestEventPattern {
                pattern: required(n.event_pattern, "eventPattern")?,
                event: required(n.event, "event")?,
            },
            "CreateEventBus" => Self::CreateEventBus {
                name: required(n.name, "name")?,
                description: n.description,
                tags: n.tags,
            },
            "DescribeEventBus" => Self::DescribeEventBus { name: n.name },
            "ListEventBuses" => Self::ListEventBuses {
                prefix: n.name_prefix,
                next_token: n.next_token,
                limit: n.limit,
            },
            "DeleteEventBus" => Self::DeleteEventBus {
                name: required(n.name, "name")?,
            },
            "TagResource" => Self::TagResource {
                arn: required(n.resource_arn, "resourceARN")?,
                tags: n.tags,
            },
            "UntagResource" => Self::UntagResource {
                arn: required(n.resource_arn, "resourceARN")?,
                keys: n.tag_keys,
            },
            "ListTagsForResource" => Self::ListTagsForResource {
                arn: required(n.resource_arn, "resourceARN")?,
            },
            _ => return Ok(None),
        }))
    }

    /// The operation's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::PutRule(_) => "PutRule",
            Self::DescribeRule { .. } => "DescribeRule",
            Self::ListRules { .. } => "ListRules",
            Self::EnableRule { .. } => "EnableRule",
            Self::DisableRule { .. } => "DisableRule",
            Self::DeleteRule { .. } => "DeleteRule",
            Self::PutTargets { .. } => "PutTargets",
            Self::RemoveTargets { .. } => "RemoveTargets",
            Self::ListTargetsByRule { .. } => "ListTargetsByRule",
            Self::ListRuleNamesByTarget { .. } => "ListRuleNamesByTarget",
            Self::PutEvents { .. } => "PutEvents",
            Self::TestEventPattern { .. } => "TestEventPattern",
            Self::CreateEventBus { .. } => "CreateEventBus",
            Self::DescribeEventBus { .. } => "DescribeEventBus",
            Self::ListEventBuses { .. } => "ListEventBuses",
            Self::DeleteEventBus { .. } => "DeleteEventBus",
            Self::TagResource { .. } => "TagResource",
            Self::UntagResource { .. } => "UntagResource",
            Self::ListTagsForResource { .. } => "ListTagsForResource",
        }
    }

    /// The IAM action (`events:<Operation>`).
    pub fn action(&self) -> String {
        format!("events:{}", self.name())
    }

    /// The ARN the operation is authorized on: the rule's
    /// (`rule/[<bus>/]<name>`), the bus's (`event-bus/<name>`), the
    /// tagged resource, or `*`.
    pub fn resource(&self, region: &str, account: &str) -> String {
        let rule = |bus: &Option<String>, name: &str| {
            crate::names::rule_arn(
                region,
                account,
                &crate::names::bus_name(bus.as_deref()),
                name,
            )
        };
        let bus =
            |b: Option<&str>| crate::names::bus_arn(region, account, &crate::names::bus_name(b));
        match self {
            Self::PutRule(i) => rule(&i.event_bus_name, &i.name),
            Self::DescribeRule { name, bus: b }
            | Self::EnableRule { name, bus: b }
            | Self::DisableRule { name, bus: b }
            | Self::DeleteRule { name, bus: b } => rule(b, name),
            Self::PutTargets {
                rule: r, bus: b, ..
            }
            | Self::RemoveTargets {
                rule: r, bus: b, ..
            }
            | Self::ListTargetsByRule {
                rule: r, bus: b, ..
            } => rule(b, r),
            Self::ListRules { .. } | Self::ListRuleNamesByTarget { .. } => {
                format!("arn:aws:events:{region}:{account}:rule/*")
            }
            Self::PutEvents { entries } => {
                bus(entries.first().and_then(|e| e.event_bus_name.as_deref()))
            }
            Self::CreateEventBus { name, .. } | Self::DeleteEventBus { name } => bus(Some(name)),
            Self::DescribeEventBus { name } => bus(name.as_deref()),
            Self::TagResource { arn, .. }
            | Self::UntagResource { arn, .. }
            | Self::ListTagsForResource { arn } => arn.clone(),
            Self::TestEventPattern { .. } | Self::ListEventBuses { .. } => "*".to_string(),
        }
    }
}
