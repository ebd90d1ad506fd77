//! A schedule's definition as stored (the scheduler's JSON in the store's
//! `definition` column) and as the API reads and answers it, with the
//! checks CreateSchedule and UpdateSchedule make.

use chrono::{DateTime, TimeDelta, Utc};
use ignis_schedule::{parse_timezone, Schedule, ScheduleExpression, Tz};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{invalid, SchedulerError};

/// A schedule's settings (everything but its name, group and dates of
/// creation and change).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Definition {
    /// `rate(...)`, `cron(...)` or `at(...)`.
    pub schedule_expression: String,
    /// The IANA zone cron and at expressions are read in (UTC if unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_expression_timezone: Option<String>,
    /// No tick before this instant (Unix epoch milliseconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<i64>,
    /// No tick after this instant (Unix epoch milliseconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
    /// The description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `ENABLED` or `DISABLED`.
    pub state: String,
    /// Kept and answered; Ignis does not encrypt with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// The target.
    pub target: Target,
    /// The flexible time window.
    pub flexible_time_window: FlexibleTimeWindow,
    /// `NONE` or `DELETE`.
    pub action_after_completion: String,
}

/// A schedule's target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    /// A function, queue or topic ARN.
    pub arn: String,
    /// The role Scheduler would assume (kept; Ignis delivers as itself).
    pub role_arn: String,
    /// The payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    /// Where a tick that could not be delivered goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    /// For a FIFO queue: the message group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqs_parameters: Option<SqsParameters>,
}

/// `RetryPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryPolicy {
    /// 60–86400; default 86400.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<u32>,
    /// 0–185; default 185.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
}

/// `DeadLetterConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    /// The queue's ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

/// `SqsParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SqsParameters {
    /// The FIFO message group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<String>,
}

/// `FlexibleTimeWindow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlexibleTimeWindow {
    /// `OFF` or `FLEXIBLE`.
    pub mode: String,
    /// 1–1440, with `FLEXIBLE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_window_in_minutes: Option<u32>,
}

/// Default `MaximumRetryAttempts`.
pub const DEFAULT_RETRIES: u32 = 185;
/// Default `MaximumEventAgeInSeconds`.
pub const DEFAULT_EVENT_AGE: u32 = 86_400;

impl Definition {
    /// Reads and checks a CreateSchedule or UpdateSchedule body.
    pub fn from_request(body: &Value) -> Result<Self, SchedulerError> {
        let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        let schedule_expression =
            text("ScheduleExpression").ok_or_else(|| invalid("ScheduleExpression is required."))?;
        let target: Target = match body.get("Target") {
            Some(t) => serde_json::from_value(t.clone())
                .map_err(|e| invalid(format!("Target is not valid: {e}")))?,
            None => return Err(invalid("Target is required.")),
        };
        let flexible_time_window: FlexibleTimeWindow = match body.get("FlexibleTimeWindow") {
            Some(w) => serde_json::from_value(w.clone())
                .map_err(|e| invalid(format!("FlexibleTimeWindow is not valid: {e}")))?,
            None => return Err(invalid("FlexibleTimeWindow is required.")),
        };
        let definition = Self {
            schedule_expression,
            schedule_expression_timezone: text("ScheduleExpressionTimezone"),
            start_ms: date(body, "StartDate")?,
            end_ms: date(body, "EndDate")?,
            description: text("Description"),
            state: text("State").unwrap_or_else(|| "ENABLED".into()),
            kms_key_arn: text("KmsKeyArn"),
            target,
            flexible_time_window,
            action_after_completion: text("ActionAfterCompletion").unwrap_or_else(|| "NONE".into()),
        };
        definition.check()?;
        Ok(definition)
    }

    fn check(&self) -> Result<(), SchedulerError> {
        if self.schedule_expression.is_empty() || self.schedule_expression.len() > 256 {
            return Err(invalid(
                "ScheduleExpression must be 1 to 256 characters long.",
            ));
        }
        self.expression()?;
        self.timezone()?;
        if !matches!(self.state.as_str(), "ENABLED" | "DISABLED") {
            return Err(invalid(format!(
                "Value '{}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]",
                self.state
            )));
        }
        if !matches!(self.action_after_completion.as_str(), "NONE" | "DELETE") {
            return Err(invalid(format!(
                "Value '{}' at 'actionAfterCompletion' failed to satisfy constraint: Member must satisfy enum value set: [NONE, DELETE]",
                self.action_after_completion
            )));
        }
        if let (Some(start), Some(end)) = (self.start_ms, self.end_ms) {
            if end <= start {
                return Err(invalid("The EndDate must be after the StartDate."));
            }
        }
        match (
            self.flexible_time_window.mode.as_str(),
            self.flexible_time_window.maximum_window_in_minutes,
        ) {
            ("OFF", None) => {}
            ("OFF", Some(_)) => {
                return Err(invalid(
                    "MaximumWindowInMinutes must not be provided when the FlexibleTimeWindow Mode is OFF.",
                ))
            }
            ("FLEXIBLE", Some(1..=1440)) => {}
            ("FLEXIBLE", _) => {
                return Err(invalid(
                    "MaximumWindowInMinutes must be between 1 and 1440 when the FlexibleTimeWindow Mode is FLEXIBLE.",
                ))
            }
            (mode, _) => {
                return Err(invalid(format!(
                    "Value '{mode}' at 'flexibleTimeWindow.mode' failed to satisfy constraint: Member must satisfy enum value set: [OFF, FLEXIBLE]"
                )))
            }
        }
        let target = &self.target;
        if !is_arn(&target.arn) {
            return Err(invalid(format!("Invalid target ARN {}.", target.arn)));
        }
        if !is_role_arn(&target.role_arn) {
            return Err(invalid(format!(
                "1 validation error detected: Value '{}' at 'target.roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws[a-z-]*:iam::\\d{{12}}:role\\/[\\w+=,.@\\/-]+",
                target.role_arn
            )));
        }
        if let Some(policy) = target.retry_policy {
            if policy.maximum_retry_attempts.is_some_and(|n| n > 185) {
                return Err(invalid("MaximumRetryAttempts must be between 0 and 185."));
            }
            if policy
                .maximum_event_age_in_seconds
                .is_some_and(|s| !(60..=86_400).contains(&s))
            {
                return Err(invalid(
                    "MaximumEventAgeInSeconds must be between 60 and 86400.",
                ));
            }
        }
        if let Some(dlq) = &target.dead_letter_config {
            if dlq
                .arn
                .as_deref()
                .is_some_and(|a| !a.starts_with("arn:aws:sqs:"))
            {
                return Err(invalid(
                    "DeadLetterConfig Arn must be an Amazon SQS queue ARN.",
                ));
            }
        }
        Ok(())
    }

    /// The parsed expression.
    pub fn expression(&self) -> Result<ScheduleExpression, SchedulerError> {
        ScheduleExpression::parse(&self.schedule_expression)
            .map_err(|e| invalid(e.scheduler_message()))
    }

    /// The zone (UTC if unset).
    pub fn timezone(&self) -> Result<Tz, SchedulerError> {
        match &self.schedule_expression_timezone {
            None => Ok(Tz::UTC),
            Some(name) => parse_timezone(name).map_err(|e| invalid(e.scheduler_message())),
        }
    }

    /// Whether it is enabled.
    pub fn enabled(&self) -> bool {
        self.state == "ENABLED"
    }

    /// The first tick strictly after `after` within the start and end
    /// dates; a rate runs from its start date, or from `created`.
    pub fn next_tick(&self, created: DateTime<Utc>, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let expression = self.expression().ok()?;
        let zone = self.timezone().ok()?;
        let start = self.start_ms.and_then(DateTime::from_timestamp_millis);
        let anchor = start.unwrap_or(created);
        let schedule = Schedule::new(expression, zone, anchor);
        let from = match start {
            Some(start) if start > after => start - TimeDelta::milliseconds(1),
            _ => after,
        };
        let next = schedule.next_after(from)?;
        match self.end_ms.and_then(DateTime::from_timestamp_millis) {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }

    /// How long after its tick a tick is delivered: 0, or with a flexible
    /// window a pseudo-random offset within it, the same for every process
    /// (a hash of the schedule and the tick).
    pub fn offset_ms(&self, key: &str, tick_ms: i64) -> i64 {
        let Some(minutes) = self.flexible_time_window.maximum_window_in_minutes else {
            return 0;
        };
        if self.flexible_time_window.mode != "FLEXIBLE" {
            return 0;
        }
        // FNV-1a over the schedule's key and the tick.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in key.bytes().chain(tick_ms.to_le_bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        (hash % (u64::from(minutes) * 60_000)) as i64
    }

    /// The retry policy with defaults filled in: (attempts after the
    /// first, maximum age in seconds).
    pub fn retries(&self) -> (u32, u32) {
        let policy = self.target.retry_policy.unwrap_or(RetryPolicy {
            maximum_event_age_in_seconds: None,
            maximum_retry_attempts: None,
        });
        (
            policy.maximum_retry_attempts.unwrap_or(DEFAULT_RETRIES),
            policy
                .maximum_event_age_in_seconds
                .unwrap_or(DEFAULT_EVENT_AGE),
        )
    }

    /// The definition as GetSchedule answers it (dates as epoch seconds).
    pub fn to_api(&self) -> serde_json::Map<String, Value> {
        let mut out = serde_json::Map::new();
        out.insert(
            "ScheduleExpression".into(),
            self.schedule_expression.clone().into(),
        );
        if let Some(tz) = &self.schedule_expression_timezone {
            out.insert("ScheduleExpressionTimezone".into(), tz.clone().into());
        }
        if let Some(ms) = self.start_ms {
            out.insert("StartDate".into(), epoch_seconds(ms));
        }
        if let Some(ms) = self.end_ms {
            out.insert("EndDate".into(), epoch_seconds(ms));
        }
        if let Some(d) = &self.description {
            out.insert("Description".into(), d.clone().into());
        }
        out.insert("State".into(), self.state.clone().into());
        if let Some(k) = &self.kms_key_arn {
            out.insert("KmsKeyArn".into(), k.clone().into());
        }
        out.insert(
            "Target".into(),
            serde_json::to_value(&self.target).unwrap_or(Value::Null),
        );
        out.insert(
            "FlexibleTimeWindow".into(),
            serde_json::to_value(&self.flexible_time_window).unwrap_or(Value::Null),
        );
        out.insert(
            "ActionAfterCompletion".into(),
            self.action_after_completion.clone().into(),
        );
        out
    }
}

/// Epoch milliseconds as the JSON number of seconds rest-json timestamps are.
pub fn epoch_seconds(ms: i64) -> Value {
    serde_json::Number::from_f64(ms as f64 / 1000.0)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// A timestamp member: epoch seconds (what the SDKs send) or ISO 8601.
fn date(body: &Value, name: &str) -> Result<Option<i64>, SchedulerError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(|s| Some((s * 1000.0).round() as i64))
            .ok_or_else(|| invalid(format!("{name} is not a valid timestamp."))),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.timestamp_millis()))
            .map_err(|_| invalid(format!("{name} is not a valid timestamp."))),
        Some(_) => Err(invalid(format!("{name} is not a valid timestamp."))),
    }
}

fn is_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    arn.len() <= 1600 && parts.len() == 6 && parts[0] == "arn" && !parts[2].is_empty()
}

fn is_role_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws") else {
        return false;
    };
    let Some((_, rest)) = rest.split_once(":iam::") else {
        return false;
    };
    let Some((account, role)) = rest.split_once(":role/") else {
        return false;
    };
    account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !role.is_empty()
        && role
            .chars()
            .all(|c| c.is_alphanumeric() || "_+=,.@/-".contains(c))
}
