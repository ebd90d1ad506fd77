//! Rules and their targets: PutRule, DescribeRule, ListRules,
//! Enable/DisableRule, DeleteRule, PutTargets, RemoveTargets,
//! ListTargetsByRule, ListRuleNamesByTarget.

use std::collections::BTreeSet;

use ignis_protocol::AwsError;
use ignis_store::events_bus::{EventRule, RuleDeleted, RuleTarget};
use serde_json::{json, Value};

use super::{page_size, EventBridge, RuleSpec};
use crate::error::{internal, invalid_pattern, limit_exceeded, no_bus, no_rule, validation};
use crate::names::{rule_arn, valid_rule_name, DEFAULT_BUS};
use crate::op::PutRuleInput;
use crate::schedule;
use crate::target::Target;

/// Targets a rule may have (AWS's quota).
const MAX_TARGETS: usize = 5;

impl EventBridge {
    pub(super) async fn put_rule(&self, input: PutRuleInput) -> Result<Value, AwsError> {
        if !valid_rule_name(&input.name) {
            return Err(validation(format!(
                "1 validation error detected: Value '{}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+",
                input.name
            )));
        }
        let pattern = input.event_pattern.filter(|p| !p.is_empty());
        let schedule = input.schedule_expression.filter(|s| !s.is_empty());
        if pattern.is_none() && schedule.is_none() {
            return Err(validation(
                "Parameter(s) EventPattern or ScheduleExpression must be specified.",
            ));
        }
        if let Some(p) = &pattern {
            ignis_patterns::EventPattern::parse(p)
                .map_err(|e| invalid_pattern(e.eventbridge_message()))?;
        }
        let bus = self.bus(input.event_bus_name.as_deref()).await?;
        if let Some(s) = &schedule {
            if bus.name != DEFAULT_BUS {
                return Err(validation(
                    "ScheduleExpression is supported only on the default event bus.",
                ));
            }
            schedule::check(s).map_err(validation)?;
        }
        if input
            .description
            .as_deref()
            .is_some_and(|d| d.chars().count() > 512)
        {
            return Err(validation("Description must be at most 512 characters."));
        }
        let enabled = match input.state.as_deref() {
            None | Some("ENABLED") | Some("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS") => true,
            Some("DISABLED") => false,
            Some(other) => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{other}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]"
                )))
            }
        };
        let spec = RuleSpec {
            event_pattern: pattern,
            schedule_expression: schedule,
            description: input.description,
            role_arn: input.role_arn,
        };
        let now = self.inner.clock.now_ms();
        let arn = rule_arn(
            &self.inner.region,
            &self.inner.account,
            &bus.name,
            &input.name,
        );
        let old = self
            .inner
            .store
            .rule(&bus.name, &input.name)
            .await
            .map_err(|e| internal(&e))?;
        let mut tags = old.as_ref().map(|r| r.tags.clone()).unwrap_or_default();
        tags.extend(input.tags.into_iter().map(|t| (t.key, t.value)));
        let next_fire_ms = match (&old, &spec.schedule_expression) {
            (_, None) => None,
            // The same schedule keeps its next tick.
            (Some(old), Some(s)) if RuleSpec::of(old).schedule_expression.as_ref() == Some(s) => {
                old.next_fire_ms
                    .or_else(|| schedule::next_after(s, now, now))
            }
            (_, Some(s)) => schedule::next_after(s, now, now),
        };
        let rule = EventRule {
            bus: bus.name.clone(),
            name: input.name,
            arn: arn.clone(),
            enabled,
            spec: serde_json::to_string(&spec).unwrap_or_default(),
            next_fire_ms,
            tags,
            created_ms: old.map_or(now, |r| r.created_ms),
        };
        if !self
            .inner
            .store
            .put_rule(rule)
            .await
            .map_err(|e| internal(&e))?
        {
            return Err(no_bus(&bus.name));
        }
        self.inner.wake.notify_one();
        Ok(json!({ "RuleArn": arn }))
    }

    pub(super) async fn describe_rule(
        &self,
        name: &str,
        bus: Option<String>,
    ) -> Result<Value, AwsError> {
        let rule = self.rule(name, bus.as_deref()).await?;
        let mut out = rule_json(&rule);
        out["CreatedBy"] = json!(self.inner.account);
        Ok(out)
    }

    pub(super) async fn list_rules(
        &self,
        prefix: Option<String>,
        bus: Option<String>,
        next_token: Option<String>,
        limit: Option<i64>,
    ) -> Result<Value, AwsError> {
        let size = page_size(limit)?;
        let bus = self.bus(bus.as_deref()).await?;
        let mut rules = self
            .inner
            .store
            .list_rules(
                &bus.name,
                prefix.as_deref().unwrap_or(""),
                next_token.as_deref(),
                size + 1,
            )
            .await
            .map_err(|e| internal(&e))?;
        let more = rules.len() > size;
        rules.truncate(size);
        let mut out = json!({ "Rules": rules.iter().map(rule_json).collect::<Vec<_>>() });
        if more {
            out["NextToken"] = json!(rules.last().map(|r| r.name.clone()));
        }
        Ok(out)
    }

    pub(super) async fn set_state(
        &self,
        name: &str,
        bus: Option<String>,
        enabled: bool,
    ) -> Result<Value, AwsError> {
        let mut rule = self.rule(name, bus.as_deref()).await?;
        if enabled && !rule.enabled {
            // A rule enabled again starts its schedule from now.
            let now = self.inner.clock.now_ms();
            rule.next_fire_ms = RuleSpec::of(&rule)
                .schedule_expression
                .and_then(|s| schedule::next_after(&s, now, now));
        }
        rule.enabled = enabled;
        self.inner
            .store
            .put_rule(rule)
            .await
            .map_err(|e| internal(&e))?;
        self.inner.wake.notify_one();
        Ok(json!({}))
    }

    pub(super) async fn delete_rule(
        &self,
        name: &str,
        bus: Option<String>,
    ) -> Result<Value, AwsError> {
        let bus = self.bus(bus.as_deref()).await?;
        match self
            .inner
            .store
            .delete_rule(&bus.name, name)
            .await
            .map_err(|e| internal(&e))?
        {
            // AWS answers a rule that is not there as deleted.
            RuleDeleted::Deleted | RuleDeleted::Missing => Ok(json!({})),
            RuleDeleted::HasTargets => {
                Err(validation("Rule can't be deleted since it has targets."))
            }
        }
    }

    pub(super) async fn put_targets(
        &self,
        rule: &str,
        bus: Option<String>,
        targets: Vec<Value>,
    ) -> Result<Value, AwsError> {
        if targets.is_empty() || targets.len() > 100 {
            return Err(validation(
                "1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length between 1 and 100",
            ));
        }
        let rule = self.rule(rule, bus.as_deref()).await?;
        let mut failed = Vec::new();
        let mut good = Vec::new();
        for raw in targets {
            let id = raw
                .get("Id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let target: Target = match serde_json::from_value(raw.clone()) {
                Ok(t) => t,
                Err(e) => {
                    failed.push(json!({"TargetId": id, "ErrorCode": "ValidationException",
                        "ErrorMessage": format!("The target does not read: {e}")}));
                    continue;
                }
            };
            match target.check() {
                Ok(()) => good.push(target),
                Err(message) => failed.push(json!({"TargetId": target.id,
                    "ErrorCode": "ValidationException", "ErrorMessage": message})),
            }
        }
        let existing = self
            .inner
            .store
            .targets(&rule.bus, &rule.name)
            .await
            .map_err(|e| internal(&e))?;
        let ids: BTreeSet<&str> = existing
            .iter()
            .map(|t| t.id.as_str())
            .chain(good.iter().map(|t| t.id.as_str()))
            .collect();
        if ids.len() > MAX_TARGETS {
            return Err(limit_exceeded(format!(
                "The requested resource exceeds the maximum number allowed: a rule has at most {MAX_TARGETS} targets."
            )));
        }
        let rows = good
            .into_iter()
            .map(|t| RuleTarget {
                id: t.id.clone(),
                arn: t.arn.clone(),
                spec: serde_json::to_string(&t).unwrap_or_default(),
            })
            .collect::<Vec<_>>();
        if !rows.is_empty()
            && !self
                .inner
                .store
                .put_targets(&rule.bus, &rule.name, rows)
                .await
                .map_err(|e| internal(&e))?
        {
            return Err(no_rule(&rule.name, &rule.bus));
        }
        Ok(json!({ "FailedEntryCount": failed.len(), "FailedEntries": failed }))
    }

    pub(super) async fn remove_targets(
        &self,
        rule: &str,
        bus: Option<String>,
        ids: Vec<String>,
    ) -> Result<Value, AwsError> {
        if ids.is_empty() || ids.len() > 100 {
            return Err(validation(
                "1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must have length between 1 and 100",
            ));
        }
        let rule = self.rule(rule, bus.as_deref()).await?;
        self.inner
            .store
            .remove_targets(&rule.bus, &rule.name, ids)
            .await
            .map_err(|e| internal(&e))?;
        Ok(json!({ "FailedEntryCount": 0, "FailedEntries": [] }))
    }

    pub(super) async fn list_targets(
        &self,
        rule: &str,
        bus: Option<String>,
        next_token: Option<String>,
        limit: Option<i64>,
    ) -> Result<Value, AwsError> {
        let size = page_size(limit)?;
        let rule = self.rule(rule, bus.as_deref()).await?;
        let all = self
            .inner
            .store
            .targets(&rule.bus, &rule.name)
            .await
            .map_err(|e| internal(&e))?;
        let mut page: Vec<&RuleTarget> = all
            .iter()
            .filter(|t| {
                next_token
                    .as_deref()
                    .is_none_or(|after| t.id.as_str() > after)
            })
            .take(size + 1)
            .collect();
        let more = page.len() > size;
        page.truncate(size);
        let targets: Vec<Value> = page
            .iter()
            .map(|t| {
                serde_json::from_str(&t.spec).unwrap_or_else(|_| json!({"Id": t.id, "Arn": t.arn}))
            })
            .collect();
        let mut out = json!({ "Targets": targets });
        if more {
            out["NextToken"] = json!(page.last().map(|t| t.id.clone()));
        }
        Ok(out)
    }

    pub(super) async fn rule_names_by_target(
        &self,
        target_arn: &str,
        bus: Option<String>,
        next_token: Option<String>,
        limit: Option<i64>,
    ) -> Result<Value, AwsError> {
        let size = page_size(limit)?;
        let bus = self.bus(bus.as_deref()).await?;
        let mut names = self
            .inner
            .store
            .rule_names_by_target(&bus.name, target_arn, next_token.as_deref(), size + 1)
            .await
            .map_err(|e| internal(&e))?;
        let more = names.len() > size;
        names.truncate(size);
        let mut out = json!({ "RuleNames": names });
        if more {
            out["NextToken"] = json!(names.last());
        }
        Ok(out)
    }
}

/// A rule as DescribeRule and ListRules answer it.
fn rule_json(rule: &EventRule) -> Value {
    let spec = RuleSpec::of(rule);
    let mut out = json!({
        "Name": rule.name,
        "Arn": rule.arn,
        "State": if rule.enabled { "ENABLED" } else { "DISABLED" },
        "EventBusName": rule.bus,
    });
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            out[k] = json!(v);
        }
    };
    put("EventPattern", spec.event_pattern);
    put("ScheduleExpression", spec.schedule_expression);
    put("Description", spec.description);
    put("RoleArn", spec.role_arn);
    out
}
