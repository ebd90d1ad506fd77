//! Schedule expressions as EventBridge Scheduler and EventBridge rules have
//! them, parsed once and evaluated many times, with no I/O (see
//! `docs/schedules.md`).
//!
//! - `rate(value unit)` — every `value` minutes, hours or days, counted as
//!   fixed durations from an anchor (the schedule's start); a day is 24 hours
//!   whatever daylight saving does, as AWS documents.
//! - `cron(minutes hours day-of-month month day-of-week year)` — AWS's six
//!   fields with `*`, `?`, ranges, lists, steps, names, `L`, `W` and `#`.
//! - `at(yyyy-mm-ddThh:mm:ss)` — once (Scheduler only).
//!
//! A [`Schedule`] evaluates an expression in an IANA time zone: a local
//! time that a spring-forward skips does not run; a local time that a
//! fall-back repeats runs once, at its first occurrence.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use ignis_schedule::{Schedule, ScheduleExpression};
//!
//! let expr = ScheduleExpression::parse("cron(0 9 ? * MON-FRI *)")?;
//! let tz = ignis_schedule::parse_timezone("Europe/Berlin").expect("known zone");
//! let schedule = Schedule::new(expr, tz, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
//! let next = schedule.next_after(Utc.with_ymd_and_hms(2026, 1, 3, 0, 0, 0).unwrap());
//! // Saturday the 3rd → Monday the 5th, 09:00 in Berlin (08:00 UTC).
//! assert_eq!(next, Some(Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap()));
//! # Ok::<(), ignis_schedule::ExpressionError>(())
//! ```

#![deny(missing_docs)]

mod cron;
mod error;
mod expr;
mod schedule;

pub use cron::Cron;
pub use error::{ExpressionError, TimezoneError, EVENTBRIDGE_MESSAGE};
pub use expr::{Rate, RateUnit, ScheduleExpression};
pub use schedule::{parse_timezone, Schedule};

/// The IANA time zone type schedules are evaluated in.
pub use chrono_tz::Tz;
