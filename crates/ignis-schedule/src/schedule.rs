//! An expression in a time zone, from an anchor: when does it run next?

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::cron::{Cron, LAST_YEAR};
use crate::error::TimezoneError;
use crate::expr::ScheduleExpression;

/// Parses an IANA time zone name (`America/New_York`, `UTC`).
pub fn parse_timezone(name: &str) -> Result<Tz, TimezoneError> {
    name.parse::<Tz>()
        .map_err(|_| TimezoneError(name.to_string()))
}

/// An expression evaluated in a time zone. `anchor` is when a rate
/// schedule's first run is (its start date, or when it was created).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The expression.
    pub expression: ScheduleExpression,
    /// The zone cron and at expressions are read in.
    pub timezone: Tz,
    /// A rate schedule's first run.
    pub anchor: DateTime<Utc>,
}

impl Schedule {
    /// An expression in a zone from an anchor.
    pub fn new(expression: ScheduleExpression, timezone: Tz, anchor: DateTime<Utc>) -> Self {
        Self {
            expression,
            timezone,
            anchor,
        }
    }

    /// The first run strictly after `after`, or `None` if there is none
    /// (an `at()` in the past or in a skipped hour, a cron whose years ran
    /// out or whose days never occur).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.expression {
            ScheduleExpression::Rate(rate) => {
                if self.anchor > after {
                    return Some(self.anchor);
                }
                let period = rate.period().num_milliseconds();
                let elapsed = (after - self.anchor).num_milliseconds();
                let periods = elapsed / period + 1;
                Some(self.anchor + TimeDelta::milliseconds(periods * period))
            }
            ScheduleExpression::At(local) => resolve(&self.timezone, *local).filter(|t| *t > after),
            ScheduleExpression::Cron(cron) => next_cron(cron, &self.timezone, after),
        }
    }
}

/// A wall-clock time in a zone as an instant: a time skipped by a
/// spring-forward does not exist (`None`); a time a fall-back repeats is
/// its first occurrence.
fn resolve(tz: &Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

fn next_cron(cron: &Cron, tz: &Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // Start a day early: around a fall-back the local date of `after` can be
    // past a wall-clock time whose (first) instant is still ahead.
    let mut date = after.with_timezone(tz).date_naive().pred_opt()?;
    while date.year() <= LAST_YEAR {
        if !cron.years.contains(date.year() as u32) {
            date = NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)?;
            continue;
        }
        if !cron.months.contains(date.month()) {
            date = first_of_next_month(date)?;
            continue;
        }
        if cron.matches_date(date) {
            for hour in cron.hours.iter() {
                for minute in cron.minutes.iter() {
                    let local = date.and_hms_opt(hour, minute, 0)?;
                    if let Some(at) = resolve(tz, local).filter(|t| *t > after) {
                        return Some(at);
                    }
                }
            }
        }
        date = date.succ_opt()?;
    }
    None
}

fn first_of_next_month(date: NaiveDate) -> Option<NaiveDate> {
    if date.month() == 12 {
        NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
    }
}
