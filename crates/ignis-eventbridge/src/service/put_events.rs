//! PutEvents: entries checked, each event routed to the enabled rules of
//! its bus whose patterns match it, and one delivery per matching rule
//! target committed (input already transformed) before the answer.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use ignis_patterns::EventPattern;
use ignis_protocol::AwsError;
use ignis_store::events_bus::{EventRule, NewEventDelivery, RuleTarget};
use serde_json::{json, Value};

use super::{EventBridge, RuleSpec};
use crate::delivery::Delivery;
use crate::error::{internal, validation};
use crate::event::{check, entry_size, envelope, format_time, MAX_ENTRIES, MAX_REQUEST_SIZE};
use crate::names::bus_name;
use crate::op::EventEntry;
use crate::target::{RuleRef, Target};

/// A bus's enabled rules with their targets.
type BusRules = Vec<(EventRule, Vec<RuleTarget>)>;

impl EventBridge {
    pub(super) async fn put_events(&self, entries: Vec<EventEntry>) -> Result<Value, AwsError> {
        if entries.is_empty() || entries.len() > MAX_ENTRIES {
            return Err(validation(format!(
                "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and {MAX_ENTRIES}"
            )));
        }
        if entries.iter().map(entry_size).sum::<usize>() > MAX_REQUEST_SIZE {
            return Err(validation(
                "Total size of the entries in the request is over the limit.",
            ));
        }
        let now = Utc
            .timestamp_millis_opt(self.inner.clock.now_ms())
            .single()
            .unwrap_or_else(Utc::now);
        let mut rules: HashMap<String, Option<BusRules>> = HashMap::new();
        let mut results = Vec::with_capacity(entries.len());
        let mut deliveries = Vec::new();
        let mut failed = 0;
        for entry in &entries {
            let checked = match check(entry, now) {
                Ok(c) => c,
                Err(e) => {
                    failed += 1;
                    results.push(json!({"ErrorCode": e.code, "ErrorMessage": e.message}));
                    continue;
                }
            };
            let bus = bus_name(entry.event_bus_name.as_deref());
            if !rules.contains_key(&bus) {
                let found = match self.inner.store.bus(&bus).await.map_err(|e| internal(&e))? {
                    Some(_) => Some(
                        self.inner
                            .store
                            .enabled_rules(&bus)
                            .await
                            .map_err(|e| internal(&e))?,
                    ),
                    None => None,
                };
                rules.insert(bus.clone(), found);
            }
            let Some(Some(bus_rules)) = rules.get(&bus) else {
                failed += 1;
                results.push(json!({"ErrorCode": "ResourceNotFoundException",
                    "ErrorMessage": format!("Event bus {bus} does not exist.")}));
                continue;
            };
            let id = uuid::Uuid::new_v4().to_string();
            let event = envelope(
                &id,
                entry.detail_type.as_deref().unwrap_or_default(),
                entry.source.as_deref().unwrap_or_default(),
                &self.inner.account,
                checked.time,
                &self.inner.region,
                entry.resources.as_deref().unwrap_or_default(),
                checked.detail,
            );
            deliveries.extend(route(
                bus_rules,
                &event,
                &format_time(now),
                now.timestamp_millis(),
            ));
            results.push(json!({ "EventId": id }));
        }
        self.commit(deliveries).await?;
        Ok(json!({ "FailedEntryCount": failed, "Entries": results }))
    }

    /// Commits deliveries and wakes the dispatcher.
    pub(crate) async fn commit(&self, deliveries: Vec<NewEventDelivery>) -> Result<(), AwsError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        self.inner
            .store
            .add_deliveries(deliveries)
            .await
            .map_err(|e| internal(&e))?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Puts one of Ignis's own events (`source` `lambda`, …) on a bus
    /// (a name or ARN): routed and committed as PutEvents would; the
    /// event's id.
    pub async fn put_event(
        &self,
        bus: &str,
        source: &str,
        detail_type: &str,
        resources: Vec<String>,
        detail: Value,
    ) -> Result<String, AwsError> {
        self.ensure_default().await?;
        let bus = self.bus(Some(bus)).await?;
        let now = self.inner.clock.now_ms();
        let time = Utc
            .timestamp_millis_opt(now)
            .single()
            .unwrap_or_else(Utc::now);
        let id = uuid::Uuid::new_v4().to_string();
        let event = envelope(
            &id,
            detail_type,
            source,
            &self.inner.account,
            time,
            &self.inner.region,
            &resources,
            detail,
        );
        self.route_on(&bus.name, &event).await?;
        Ok(id)
    }

    /// Routes an event already made (a cross-bus delivery) on `bus`.
    pub(crate) async fn route_on(&self, bus: &str, event: &Value) -> Result<(), AwsError> {
        let rules = self
            .inner
            .store
            .enabled_rules(bus)
            .await
            .map_err(|e| internal(&e))?;
        let now = self.inner.clock.now_ms();
        let time = Utc
            .timestamp_millis_opt(now)
            .single()
            .unwrap_or_else(Utc::now);
        self.commit(route(&rules, event, &format_time(time), now))
            .await
    }
}

/// The deliveries of `event` to the targets of the rules whose patterns
/// match it (rules with a schedule only match no event).
pub(crate) fn route(
    rules: &[(EventRule, Vec<RuleTarget>)],
    event: &Value,
    ingestion_time: &str,
    now_ms: i64,
) -> Vec<NewEventDelivery> {
    let mut out = Vec::new();
    for (rule, targets) in rules {
        let spec = RuleSpec::of(rule);
        let Some(pattern) = spec.event_pattern.as_deref() else {
            continue;
        };
        let Ok(pattern) = EventPattern::parse(pattern) else {
            continue;
        };
        if pattern.matches(event) {
            out.extend(deliveries_for(rule, targets, event, ingestion_time, now_ms));
        }
    }
    out
}

/// One delivery per target of `rule` for `event`.
pub(crate) fn deliveries_for(
    rule: &EventRule,
    targets: &[RuleTarget],
    event: &Value,
    ingestion_time: &str,
    now_ms: i64,
) -> Vec<NewEventDelivery> {
    let rule_ref = RuleRef {
        arn: &rule.arn,
        name: &rule.name,
        ingestion_time,
    };
    targets
        .iter()
        .filter_map(|t| {
            let target: Target = serde_json::from_str(&t.spec).ok()?;
            let d = Delivery {
                input: target.input_for(event, &rule_ref),
                event: event.to_string(),
                event_id: event["id"].as_str().unwrap_or_default().to_string(),
                rule_arn: rule.arn.clone(),
                first_ms: now_ms,
                target,
            };
            Some(NewEventDelivery {
                rule_arn: rule.arn.clone(),
                target_arn: t.arn.clone(),
                payload: serde_json::to_string(&d).ok()?,
                not_before_ms: 0,
            })
        })
        .collect()
}
