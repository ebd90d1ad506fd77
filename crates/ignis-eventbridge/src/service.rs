//! [`EventBridge`]: the operations executed against the store. PutEvents
//! commits one delivery per matching rule target (its input already
//! transformed) before it answers; the dispatcher (`dispatch`) delivers
//! them. Rules and targets are in `rules.rs`, buses and tags in
//! `buses.rs`, PutEvents and routing in `put_events.rs`.

use std::sync::Arc;

use ignis_protocol::AwsError;
use ignis_store::events_bus::{EventBus, EventRule};
use ignis_store::EventBusStore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;

use crate::error::{internal, no_bus, no_rule};
use crate::names::{bus_arn, bus_name, DEFAULT_BUS};
use crate::op::EventsOp;
use crate::targets::Targets;

mod buses;
pub(crate) mod put_events;

mod rules;

/// Items per list page when the caller gives no `Limit`.
const PAGE: usize = 100;

/// Where the service reads the time (tests drive it by hand).
pub trait Clock: Send + Sync + 'static {
    /// Now, Unix epoch milliseconds.
    fn now_ms(&self) -> i64;
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// How the service is set up.
pub struct EventBridgeConfig {
    /// The store.
    pub store: Arc<dyn EventBusStore>,
    /// Functions, queues and topics deliveries reach.
    pub targets: Arc<dyn Targets>,
    /// The region in ARNs and events.
    pub region: String,
    /// The account in ARNs and events.
    pub account: String,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// `enforce` mode: deliveries need the targets' resource policies to
    /// allow `events.amazonaws.com`.
    pub enforce: bool,
}

/// The event-rules service. Cheap to clone.
#[derive(Clone)]
pub struct EventBridge {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn EventBusStore>,
    pub(crate) targets: Arc<dyn Targets>,
    pub(crate) region: String,
    pub(crate) account: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) enforce: bool,
    /// Woken when deliveries are written or rules change.
    pub(crate) wake: Notify,
    default_made: tokio::sync::OnceCell<()>,
}

/// A rule's settings as kept in the store's `spec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RuleSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) event_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) schedule_expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) role_arn: Option<String>,
}

impl RuleSpec {
    pub(crate) fn of(rule: &EventRule) -> Self {
        serde_json::from_str(&rule.spec).unwrap_or_default()
    }
}

/// The `Limit` of a list, checked (1 to 100).
fn page_size(limit: Option<i64>) -> Result<usize, AwsError> {
    match limit {
        None => Ok(PAGE),
        Some(n @ 1..=100) => Ok(n as usize),
        Some(_) => Err(crate::error::validation("Limit must be between 1 and 100.")),
    }
}

/// Epoch seconds as the JSON protocol's timestamps.
fn epoch_s(ms: i64) -> Value {
    serde_json::json!(ms as f64 / 1000.0)
}

impl EventBridge {
    /// The service; its dispatcher runs once [`EventBridge::start`] is
    /// called.
    pub fn new(config: EventBridgeConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                store: config.store,
                targets: config.targets,
                region: config.region,
                account: config.account,
                clock: config.clock,
                enforce: config.enforce,
                wake: Notify::new(),
                default_made: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The account.
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// Executes `op`; the answer is the operation's output (JSON).
    pub async fn execute(&self, op: EventsOp) -> Result<Value, AwsError> {
        self.ensure_default().await?;
        match op {
            EventsOp::PutRule(input) => self.put_rule(input).await,
            EventsOp::DescribeRule { name, bus } => self.describe_rule(&name, bus).await,
            EventsOp::ListRules {
                prefix,
                bus,
                next_token,
                limit,
            } => self.list_rules(prefix, bus, next_token, limit).await,
            EventsOp::EnableRule { name, bus } => self.set_state(&name, bus, true).await,
            EventsOp::DisableRule { name, bus } => self.set_state(&name, bus, false).await,
            EventsOp::DeleteRule { name, bus } => self.delete_rule(&name, bus).await,
            EventsOp::PutTargets { rule, bus, targets } => {
                self.put_targets(&rule, bus, targets).await
            }
            EventsOp::RemoveTargets { rule, bus, ids } => {
                self.remove_targets(&rule, bus, ids).await
            }
            EventsOp::ListTargetsByRule {
                rule,
                bus,
                next_token,
                limit,
            } => self.list_targets(&rule, bus, next_token, limit).await,
            EventsOp::ListRuleNamesByTarget {
                target_arn,
                bus,
                next_token,
                limit,
            } => {
                self.rule_names_by_target(&target_arn, bus, next_token, limit)
                    .await
            }
            EventsOp::PutEvents { entries } => self.put_events(entries).await,
            EventsOp::TestEventPattern { pattern, event } => test_event_pattern(&pattern, &event),
            EventsOp::CreateEventBus {
                name,
                description,
                tags,
            } => self.create_bus(name, description, tags).await,
            EventsOp::DescribeEventBus { name } => self.describe_bus(name).await,
            EventsOp::ListEventBuses {
                prefix,
                next_token,
                limit,
            } => self.list_buses(prefix, next_token, limit).await,
            EventsOp::DeleteEventBus { name } => self.delete_bus(&name).await,
            EventsOp::TagResource { arn, tags } => self.tag(&arn, tags).await,
            EventsOp::UntagResource { arn, keys } => self.untag(&arn, keys).await,
            EventsOp::ListTagsForResource { arn } => self.list_tags(&arn).await,
        }
    }

    /// The default bus exists from the first request on.
    async fn ensure_default(&self) -> Result<(), AwsError> {
        self.inner
            .default_made
            .get_or_try_init(|| async {
                let bus = EventBus {
                    name: DEFAULT_BUS.to_string(),
                    arn: bus_arn(&self.inner.region, &self.inner.account, DEFAULT_BUS),
                    description: None,
                    tags: Default::default(),
                    created_ms: self.inner.clock.now_ms(),
                };
                self.inner
                    .store
                    .create_bus(bus)
                    .await
                    .map(|_| ())
                    .map_err(|e| internal(&e))
            })
            .await
            .map(|_| ())
    }

    /// The bus a request names; `ResourceNotFoundException` if it is not
    /// there.
    pub(crate) async fn bus(&self, given: Option<&str>) -> Result<EventBus, AwsError> {
        let name = bus_name(given);
        self.inner
            .store
            .bus(&name)
            .await
            .map_err(|e| internal(&e))?
            .ok_or_else(|| no_bus(&name))
    }

    /// The rule `name` of the bus a request names.
    pub(crate) async fn rule(&self, name: &str, bus: Option<&str>) -> Result<EventRule, AwsError> {
        let bus = self.bus(bus).await?;
        self.inner
            .store
            .rule(&bus.name, name)
            .await
            .map_err(|e| internal(&e))?
            .ok_or_else(|| no_rule(name, &bus.name))
    }
}

fn test_event_pattern(pattern: &str, event: &str) -> Result<Value, AwsError> {
    let pattern = ignis_patterns::EventPattern::parse(pattern)
        .map_err(|e| crate::error::invalid_pattern(e.eventbridge_message()))?;
    let event: Value = serde_json::from_str(event)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| crate::error::validation("Parameter Event is not valid."))?;
    Ok(serde_json::json!({ "Result": pattern.matches(&event) }))
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
