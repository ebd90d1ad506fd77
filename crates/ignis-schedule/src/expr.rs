//! The three kinds of expression and their parsing.

use chrono::{NaiveDateTime, TimeDelta};

use crate::cron::Cron;
use crate::error::ExpressionError;

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleExpression {
    /// `rate(value unit)`.
    Rate(Rate),
    /// `cron(...)`.
    Cron(Cron),
    /// `at(yyyy-mm-ddThh:mm:ss)`, a wall-clock time in the schedule's zone.
    At(NaiveDateTime),
}

/// The unit of a rate expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    /// `minute` / `minutes`.
    Minutes,
    /// `hour` / `hours`.
    Hours,
    /// `day` / `days` (24 hours each).
    Days,
}

/// `rate(value unit)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// How many units between runs (at least 1).
    pub value: u32,
    /// The unit.
    pub unit: RateUnit,
}

impl Rate {
    /// The fixed duration between two runs.
    pub fn period(&self) -> TimeDelta {
        let value = i64::from(self.value);
        match self.unit {
            RateUnit::Minutes => TimeDelta::minutes(value),
            RateUnit::Hours => TimeDelta::hours(value),
            RateUnit::Days => TimeDelta::days(value),
        }
    }
}

impl ScheduleExpression {
    /// Parses any of the three kinds (EventBridge Scheduler's language).
    pub fn parse(text: &str) -> Result<Self, ExpressionError> {
        let err = |reason: &str| ExpressionError::new(text, reason);
        let (kind, body) = text
            .strip_suffix(')')
            .and_then(|t| t.split_once('('))
            .ok_or_else(|| err("expected kind(...)"))?;
        match kind {
            "rate" => parse_rate(body).map(Self::Rate).map_err(err),
            "cron" => Cron::parse(body).map(Self::Cron).map_err(|r| err(&r)),
            "at" => NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .filter(|_| body.len() == 19)
                .map(Self::At)
                .ok_or_else(|| err("at() takes yyyy-mm-ddThh:mm:ss")),
            _ => Err(err("unknown expression kind")),
        }
    }

    /// Parses a rule's `ScheduleExpression` (EventBridge's language: `rate`
    /// and `cron`, no `at`).
    pub fn parse_eventbridge(text: &str) -> Result<Self, ExpressionError> {
        match Self::parse(text)? {
            Self::At(_) => Err(ExpressionError::new(text, "rules take no at()")),
            other => Ok(other),
        }
    }

    /// Whether this is a one-time `at()` expression.
    pub fn is_one_time(&self) -> bool {
        matches!(self, Self::At(_))
    }
}

fn parse_rate(body: &str) -> Result<Rate, &'static str> {
    let mut parts = body.split(' ');
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("rate() takes a value and a unit separated by one space");
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the rate's value must be a positive integer");
    }
    let value: u32 = value.parse().map_err(|_| "the rate's value is too large")?;
    if value == 0 {
        return Err("the rate's value must be a positive integer");
    }
    let (unit, plural) = match unit {
        "minute" => (RateUnit::Minutes, false),
        "minutes" => (RateUnit::Minutes, true),
        "hour" => (RateUnit::Hours, false),
        "hours" => (RateUnit::Hours, true),
        "day" => (RateUnit::Days, false),
        "days" => (RateUnit::Days, true),
        _ => return Err("the rate's unit must be minute(s), hour(s) or day(s)"),
    };
    // AWS: a value of 1 takes the singular unit, a larger value the plural.
    if (value == 1) == plural {
        return Err("the rate's unit must be singular for 1 and plural otherwise");
    }
    Ok(Rate { value, unit })
}
