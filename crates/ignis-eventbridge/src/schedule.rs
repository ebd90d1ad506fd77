//! Scheduled rules' expressions, read with `ignis-schedule` (EventBridge's
//! language: `rate(…)` and AWS's six-field `cron(…)`, in UTC as rules
//! are): checked when a rule is put, and the next tick after a time.

use chrono::{TimeZone, Utc};
use ignis_schedule::{Schedule, ScheduleExpression};

/// Whether `text` is a schedule expression a rule may have; EventBridge's
/// message if not.
pub fn check(text: &str) -> Result<(), String> {
    ScheduleExpression::parse_eventbridge(text)
        .map(|_| ())
        .map_err(|e| e.eventbridge_message())
}

/// The first tick strictly after `after_ms` of a schedule started at
/// `anchor_ms` (a rate counts its periods from the anchor); `None` if it
/// never fires again.
pub fn next_after(text: &str, anchor_ms: i64, after_ms: i64) -> Option<i64> {
    let expression = ScheduleExpression::parse_eventbridge(text).ok()?;
    let anchor = Utc.timestamp_millis_opt(anchor_ms).single()?;
    let after = Utc.timestamp_millis_opt(after_ms).single()?;
    Schedule::new(expression, ignis_schedule::Tz::UTC, anchor)
        .next_after(after)
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_crons() {
        assert!(check("rate(1 minute)").is_ok());
        assert!(check("rate(5 minutes)").is_ok());
        assert_eq!(
            check("rate(1 minutes)").unwrap_err(),
            "Parameter ScheduleExpression is not valid."
        );
        assert!(check("cron(0 12 * * ? *)").is_ok());
        assert!(check("at(2030-01-01T00:00:00)").is_err());
        // A rate's first tick is one period after the anchor when asked
        // from the anchor itself.
        assert_eq!(next_after("rate(1 minute)", 0, 0), Some(60_000));
        assert_eq!(next_after("rate(1 minute)", 0, 59_999), Some(60_000));
        assert_eq!(next_after("rate(1 minute)", 0, 60_000), Some(120_000));
        // 1970-01-01 12:00 UTC.
        assert_eq!(next_after("cron(0 12 * * ? *)", 0, 0), Some(43_200_000));
    }
}
