//! The operations: schedule groups and schedules in the store, answered in
//! Scheduler's JSON.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta};
use ignis_store::schedules::{PutSchedule, ScheduleGroupRow, ScheduleRow, ScheduleStore};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::error::{invalid, SchedulerError};
use crate::model::{epoch_seconds, Definition};
use crate::wire::SchedulerOp;

/// The group every account has and cannot delete.
pub const DEFAULT_GROUP: &str = "default";

/// The scheduler's API over its store (a clone shares the state).
#[derive(Clone)]
pub struct Scheduler {
    pub(crate) store: Arc<dyn ScheduleStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) region: String,
    pub(crate) account: String,
    /// Wakes the engine: a schedule changed.
    pub(crate) wake: Arc<Notify>,
}

type Answer = Result<Value, SchedulerError>;

impl Scheduler {
    /// The service over `store`, telling time by `clock`.
    pub fn new(
        store: Arc<dyn ScheduleStore>,
        clock: Arc<dyn Clock>,
        region: &str,
        account: &str,
    ) -> Self {
        Self {
            store,
            clock,
            region: region.to_owned(),
            account: account.to_owned(),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Runs an operation; the answer is the response's JSON body.
    pub async fn execute(&self, op: SchedulerOp) -> Answer {
        match op {
            SchedulerOp::CreateSchedule { name, body } => self.put(&name, &body, true).await,
            SchedulerOp::UpdateSchedule { name, body } => self.put(&name, &body, false).await,
            SchedulerOp::GetSchedule { name, group } => self.get(&name, group).await,
            SchedulerOp::DeleteSchedule { name, group } => {
                let group = group.unwrap_or_else(|| DEFAULT_GROUP.into());
                check_name("name", &name)?;
                if !self.store.delete_schedule(&group, &name).await? {
                    return Err(schedule_missing(&name));
                }
                self.wake.notify_one();
                Ok(json!({}))
            }
            SchedulerOp::ListSchedules {
                group,
                name_prefix,
                state,
                next_token,
                max_results,
            } => {
                self.list(group, name_prefix, state, next_token, max_results)
                    .await
            }
            SchedulerOp::CreateScheduleGroup { name, body } => {
                check_name("name", &name)?;
                let tags = tags_of(&body)?;
                let now = self.clock.now().timestamp_millis();
                let row = ScheduleGroupRow {
                    name: name.clone(),
                    tags,
                    created_ms: now,
                    modified_ms: now,
                };
                if !self.store.create_schedule_group(row).await? {
                    return Err(SchedulerError::Conflict(format!(
                        "Schedule group {name} already exists."
                    )));
                }
                Ok(json!({"ScheduleGroupArn": self.group_arn(&name)}))
            }
            SchedulerOp::GetScheduleGroup { name } => {
                let group = self.group(&name).await?;
                Ok(Value::Object(self.group_summary(&group)))
            }
            SchedulerOp::DeleteScheduleGroup { name } => {
                check_name("name", &name)?;
                if name == DEFAULT_GROUP {
                    return Err(invalid("The default schedule group cannot be deleted."));
                }
                if !self.store.delete_schedule_group(&name).await? {
                    return Err(group_missing(&name));
                }
                self.wake.notify_one();
                Ok(json!({}))
            }
            SchedulerOp::ListScheduleGroups {
                name_prefix,
                next_token,
                max_results,
            } => {
                let limit = max_results_of(max_results)?;
                let groups: Vec<_> = self
                    .store
                    .list_schedule_groups()
                    .await?
                    .into_iter()
                    .filter(|g| name_prefix.as_deref().is_none_or(|p| g.name.starts_with(p)))
                    .filter(|g| next_token.as_deref().is_none_or(|t| g.name.as_str() > t))
                    .collect();
                let more = groups.len() > limit;
                let page: Vec<_> = groups.into_iter().take(limit).collect();
                let mut out = json!({
                    "ScheduleGroups": page.iter().map(|g| Value::Object(self.group_summary(g))).collect::<Vec<_>>()
                });
                if more {
                    if let Some(last) = page.last() {
                        out["NextToken"] = last.name.clone().into();
                    }
                }
                Ok(out)
            }
            SchedulerOp::TagResource { arn, body } => {
                let name = self.group_of_arn(&arn)?;
                let group = self.group(&name).await?;
                let mut tags = group.tags;
                for (key, value) in tags_of(&body)? {
                    tags.retain(|(k, _)| *k != key);
                    tags.push((key, value));
                }
                tags.sort();
                let now = self.clock.now().timestamp_millis();
                if !self.store.set_schedule_group_tags(&name, tags, now).await? {
                    return Err(group_missing(&name));
                }
                Ok(json!({}))
            }
            SchedulerOp::UntagResource { arn, keys } => {
                let name = self.group_of_arn(&arn)?;
                let group = self.group(&name).await?;
                let tags = group
                    .tags
                    .into_iter()
                    .filter(|(k, _)| !keys.contains(k))
                    .collect();
                let now = self.clock.now().timestamp_millis();
                if !self.store.set_schedule_group_tags(&name, tags, now).await? {
                    return Err(group_missing(&name));
                }
                Ok(json!({}))
            }
            SchedulerOp::ListTagsForResource { arn } => {
                let name = self.group_of_arn(&arn)?;
                let group = self.group(&name).await?;
                let tags: Vec<Value> = group
                    .tags
                    .iter()
                    .map(|(k, v)| json!({"Key": k, "Value": v}))
                    .collect();
                Ok(json!({ "Tags": tags }))
            }
        }
    }

    async fn put(&self, name: &str, body: &Value, create: bool) -> Answer {
        check_name("name", name)?;
        let group = body
            .get("GroupName")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_GROUP)
            .to_owned();
        check_name("groupName", &group)?;
        let definition = Definition::from_request(body)?;
        let now = self.clock.now();
        let existing = self.store.schedule(&group, name).await?;
        let created_ms = match (&existing, create) {
            (Some(_), true) => {
                return Err(SchedulerError::Conflict(format!(
                    "Schedule {name} already exists."
                )))
            }
            (None, false) => return Err(schedule_missing(name)),
            (Some(row), false) => row.created_ms,
            (None, true) => now.timestamp_millis(),
        };
        let created = DateTime::from_timestamp_millis(created_ms).unwrap_or(now);
        // The first tick at or after now (a rate without a start date runs
        // at once).
        let next = definition.next_tick(created, now - TimeDelta::milliseconds(1));
        let row = ScheduleRow {
            group: group.clone(),
            name: name.to_owned(),
            definition: serde_json::to_string(&definition).map_err(|e| invalid(e.to_string()))?,
            enabled: definition.enabled(),
            next_tick_ms: next.map(|t| t.timestamp_millis()),
            created_ms,
            modified_ms: now.timestamp_millis(),
        };
        match self.store.put_schedule(row, create).await? {
            PutSchedule::Done => {}
            PutSchedule::NoGroup => return Err(group_missing(&group)),
            PutSchedule::Exists => {
                return Err(SchedulerError::Conflict(format!(
                    "Schedule {name} already exists."
                )))
            }
            PutSchedule::Missing => return Err(schedule_missing(name)),
        }
        self.wake.notify_one();
        Ok(json!({"ScheduleArn": self.schedule_arn(&group, name)}))
    }

    async fn get(&self, name: &str, group: Option<String>) -> Answer {
        check_name("name", name)?;
        let group = group.unwrap_or_else(|| DEFAULT_GROUP.into());
        let row = self
            .store
            .schedule(&group, name)
            .await?
            .ok_or_else(|| schedule_missing(name))?;
        let definition = definition_of(&row)?;
        let mut out = definition.to_api();
        out.insert("Arn".into(), self.schedule_arn(&group, name).into());
        out.insert("GroupName".into(), group.into());
        out.insert("Name".into(), name.into());
        out.insert("CreationDate".into(), epoch_seconds(row.created_ms));
        out.insert(
            "LastModificationDate".into(),
            epoch_seconds(row.modified_ms),
        );
        Ok(Value::Object(out))
    }

    async fn list(
        &self,
        group: Option<String>,
        name_prefix: Option<String>,
        state: Option<String>,
        next_token: Option<String>,
        max_results: Option<String>,
    ) -> Answer {
        let limit = max_results_of(max_results)?;
        if let Some(state) = &state {
            if !matches!(state.as_str(), "ENABLED" | "DISABLED") {
                return Err(invalid(format!(
                    "Value '{state}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"
                )));
            }
        }
        if let Some(group) = &group {
            self.group(group).await?;
        }
        let rows: Vec<ScheduleRow> = self
            .store
            .list_schedules(group.as_deref())
            .await?
            .into_iter()
            .filter(|r| name_prefix.as_deref().is_none_or(|p| r.name.starts_with(p)))
            .filter(|r| match state.as_deref() {
                Some("ENABLED") => r.enabled,
                Some(_) => !r.enabled,
                None => true,
            })
            .filter(|r| {
                next_token
                    .as_deref()
                    .is_none_or(|t| format!("{}/{}", r.group, r.name).as_str() > t)
            })
            .collect();
        let more = rows.len() > limit;
        let page: Vec<_> = rows.into_iter().take(limit).collect();
        let mut summaries = Vec::new();
        for row in &page {
            let definition = definition_of(row)?;
            summaries.push(json!({
                "Arn": self.schedule_arn(&row.group, &row.name),
                "Name": row.name,
                "GroupName": row.group,
                "State": definition.state,
                "CreationDate": epoch_seconds(row.created_ms),
                "LastModificationDate": epoch_seconds(row.modified_ms),
                "Target": {"Arn": definition.target.arn},
            }));
        }
        let mut out = json!({ "Schedules": summaries });
        if more {
            if let Some(last) = page.last() {
                out["NextToken"] = format!("{}/{}", last.group, last.name).into();
            }
        }
        Ok(out)
    }

    async fn group(&self, name: &str) -> Result<ScheduleGroupRow, SchedulerError> {
        check_name("name", name)?;
        self.store
            .schedule_group(name)
            .await?
            .ok_or_else(|| group_missing(name))
    }

    fn group_summary(&self, g: &ScheduleGroupRow) -> serde_json::Map<String, Value> {
        let mut out = serde_json::Map::new();
        out.insert("Arn".into(), self.group_arn(&g.name).into());
        out.insert("Name".into(), g.name.clone().into());
        out.insert("State".into(), "ACTIVE".into());
        out.insert("CreationDate".into(), epoch_seconds(g.created_ms));
        out.insert("LastModificationDate".into(), epoch_seconds(g.modified_ms));
        out
    }

    /// A schedule's ARN.
    pub fn schedule_arn(&self, group: &str, name: &str) -> String {
        format!(
            "arn:aws:scheduler:{}:{}:schedule/{group}/{name}",
            self.region, self.account
        )
    }

    /// A group's ARN.
    pub fn group_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:scheduler:{}:{}:schedule-group/{name}",
            self.region, self.account
        )
    }

    fn group_of_arn(&self, arn: &str) -> Result<String, SchedulerError> {
        let prefix = format!(
            "arn:aws:scheduler:{}:{}:schedule-group/",
            self.region, self.account
        );
        match arn.strip_prefix(&prefix) {
            Some(name) if valid_name(name) => Ok(name.to_owned()),
            _ => Err(invalid(format!(
                "1 validation error detected: Value '{arn}' at 'resourceArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws[a-z-]*:scheduler:[a-z0-9\\-]+:\\d{{12}}:schedule-group\\/[0-9a-zA-Z-_.]+"
            ))),
        }
    }
}

pub(crate) fn definition_of(row: &ScheduleRow) -> Result<Definition, SchedulerError> {
    serde_json::from_str(&row.definition)
        .map_err(|e| invalid(format!("stored schedule {} is unreadable: {e}", row.name)))
}

fn schedule_missing(name: &str) -> SchedulerError {
    SchedulerError::NotFound(format!("Schedule {name} does not exist."))
}

fn group_missing(name: &str) -> SchedulerError {
    SchedulerError::NotFound(format!("Schedule group {name} does not exist."))
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn check_name(member: &str, name: &str) -> Result<(), SchedulerError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(invalid(format!(
            "1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+"
        )))
    }
}

fn max_results_of(text: Option<String>) -> Result<usize, SchedulerError> {
    match text {
        None => Ok(100),
        Some(t) => match t.parse::<usize>() {
            Ok(n @ 1..=100) => Ok(n),
            _ => Err(invalid(format!(
                "1 validation error detected: Value '{t}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100"
            ))),
        },
    }
}

fn tags_of(body: &Value) -> Result<Vec<(String, String)>, SchedulerError> {
    let Some(tags) = body.get("Tags") else {
        return Ok(Vec::new());
    };
    let list = tags
        .as_array()
        .ok_or_else(|| invalid("Tags must be a list."))?;
    let mut out: Vec<(String, String)> = Vec::new();
    for tag in list {
        let key = tag.get("Key").and_then(Value::as_str);
        let value = tag.get("Value").and_then(Value::as_str);
        let (Some(key), Some(value)) = (key, value) else {
            return Err(invalid("A tag must have a Key and a Value."));
        };
        if key.is_empty() || key.len() > 128 || value.is_empty() || value.len() > 256 {
            return Err(invalid(
                "A tag's Key must be 1 to 128 characters long and its Value 1 to 256.",
            ));
        }
        out.retain(|(k, _)| k != key);
        out.push((key.to_owned(), value.to_owned()));
    }
    out.sort();
    Ok(out)
}
