//! The evaluator on a table of cases: each row is an expression, a zone,
//! an instant, and the next run AWS documents (UTC), or the refusal.

use chrono::{DateTime, Utc};
use ignis_schedule::{parse_timezone, Schedule, ScheduleExpression, EVENTBRIDGE_MESSAGE};

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

/// The next run after `after` for a schedule anchored at `anchor`.
fn next(expr: &str, tz: &str, anchor: &str, after: &str) -> Option<String> {
    let expression = ScheduleExpression::parse(expr).unwrap_or_else(|e| panic!("{e}"));
    let schedule = Schedule::new(expression, parse_timezone(tz).unwrap(), utc(anchor));
    schedule
        .next_after(utc(after))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

const A: &str = "2026-01-01T00:00:00Z";

/// (expression, zone, anchor, after, expected next run)
const NEXT: &[(&str, &str, &str, &str, Option<&str>)] = &[
    // Plain fields.
    (
        "cron(0 12 * * ? *)",
        "UTC",
        A,
        "2026-01-01T00:00:00Z",
        Some("2026-01-01T12:00:00Z"),
    ),
    (
        "cron(0 12 * * ? *)",
        "UTC",
        A,
        "2026-01-01T12:00:00Z",
        Some("2026-01-02T12:00:00Z"),
    ),
    (
        "cron(0/15 * * * ? *)",
        "UTC",
        A,
        "2026-01-01T10:07:00Z",
        Some("2026-01-01T10:15:00Z"),
    ),
    (
        "cron(*/20 * * * ? *)",
        "UTC",
        A,
        "2026-01-01T10:41:00Z",
        Some("2026-01-01T11:00:00Z"),
    ),
    (
        "cron(10-40/10 * * * ? *)",
        "UTC",
        A,
        "2026-01-01T10:41:00Z",
        Some("2026-01-01T11:10:00Z"),
    ),
    (
        "cron(0 8,17 * * ? *)",
        "UTC",
        A,
        "2026-01-01T09:00:00Z",
        Some("2026-01-01T17:00:00Z"),
    ),
    (
        "cron(0 0 1,15 * ? *)",
        "UTC",
        A,
        "2026-01-02T00:00:00Z",
        Some("2026-01-15T00:00:00Z"),
    ),
    (
        "cron(0 9 ? * MON-FRI *)",
        "UTC",
        A,
        "2026-01-03T00:00:00Z",
        Some("2026-01-05T09:00:00Z"),
    ),
    (
        "cron(0 9 ? * 2-6 *)",
        "UTC",
        A,
        "2026-01-03T00:00:00Z",
        Some("2026-01-05T09:00:00Z"),
    ),
    (
        "cron(0 9 ? * fri-mon *)",
        "UTC",
        A,
        "2026-01-06T00:00:00Z",
        Some("2026-01-09T09:00:00Z"),
    ),
    (
        "cron(0 0 1 JUN-AUG ? *)",
        "UTC",
        A,
        "2026-01-01T00:00:00Z",
        Some("2026-06-01T00:00:00Z"),
    ),
    (
        "cron(0 0 1 1 ? 2030)",
        "UTC",
        A,
        "2026-01-01T00:00:00Z",
        Some("2030-01-01T00:00:00Z"),
    ),
    (
        "cron(0 0 1 1 ? 2020-2025)",
        "UTC",
        A,
        "2026-01-01T00:00:00Z",
        None,
    ),
    (
        "cron(59 23 31 12 ? 2199)",
        "UTC",
        A,
        "2199-12-31T23:59:00Z",
        None,
    ),
    ("cron(0 0 30 2 ? *)", "UTC", A, "2026-01-01T00:00:00Z", None),
    // L, W, #.
    (
        "cron(0 0 L * ? *)",
        "UTC",
        A,
        "2026-02-01T00:00:00Z",
        Some("2026-02-28T00:00:00Z"),
    ),
    (
        "cron(0 0 L 2 ? *)",
        "UTC",
        A,
        "2027-03-01T00:00:00Z",
        Some("2028-02-29T00:00:00Z"),
    ),
    (
        "cron(0 0 29 2 ? *)",
        "UTC",
        A,
        "2026-01-01T00:00:00Z",
        Some("2028-02-29T00:00:00Z"),
    ),
    (
        "cron(0 0 29 2 ? 2100)",
        "UTC",
        A,
        "2026-01-01T00:00:00Z",
        None,
    ),
    (
        "cron(0 0 15W * ? *)",
        "UTC",
        A,
        "2026-08-01T00:00:00Z",
        Some("2026-08-14T00:00:00Z"),
    ),
    (
        "cron(0 0 15W * ? *)",
        "UTC",
        A,
        "2026-02-01T00:00:00Z",
        Some("2026-02-16T00:00:00Z"),
    ),
    (
        "cron(0 0 15W * ? *)",
        "UTC",
        A,
        "2026-01-01T00:00:00Z",
        Some("2026-01-15T00:00:00Z"),
    ),
    (
        "cron(0 0 1W * ? *)",
        "UTC",
        A,
        "2026-07-15T00:00:00Z",
        Some("2026-08-03T00:00:00Z"),
    ),
    (
        "cron(0 0 LW * ? *)",
        "UTC",
        A,
        "2026-05-01T00:00:00Z",
        Some("2026-05-29T00:00:00Z"),
    ),
    (
        "cron(0 0 LW * ? *)",
        "UTC",
        A,
        "2026-02-01T00:00:00Z",
        Some("2026-02-27T00:00:00Z"),
    ),
    (
        "cron(0 0 ? * 6L *)",
        "UTC",
        A,
        "2026-01-01T00:00:00Z",
        Some("2026-01-30T00:00:00Z"),
    ),
    (
        "cron(0 0 ? * FRIL *)",
        "UTC",
        A,
        "2026-01-01T00:00:00Z",
        Some("2026-01-30T00:00:00Z"),
    ),
    (
        "cron(0 0 ? * L *)",
        "UTC",
        A,
        "2026-01-01T00:00:00Z",
        Some("2026-01-31T00:00:00Z"),
    ),
    (
        "cron(0 0 ? * 6#3 *)",
        "UTC",
        A,
        "2026-01-01T00:00:00Z",
        Some("2026-01-16T00:00:00Z"),
    ),
    (
        "cron(0 0 ? * 2#1 *)",
        "UTC",
        A,
        "2026-02-01T00:00:00Z",
        Some("2026-02-02T00:00:00Z"),
    ),
    (
        "cron(0 0 ? * 1#5 *)",
        "UTC",
        A,
        "2026-01-01T00:00:00Z",
        Some("2026-03-29T00:00:00Z"),
    ),
    // Rates: fixed durations from the anchor.
    (
        "rate(1 minute)",
        "UTC",
        "2026-01-01T10:00:30Z",
        "2026-01-01T09:00:00Z",
        Some("2026-01-01T10:00:30Z"),
    ),
    (
        "rate(1 minute)",
        "UTC",
        "2026-01-01T10:00:30Z",
        "2026-01-01T10:00:30Z",
        Some("2026-01-01T10:01:30Z"),
    ),
    (
        "rate(5 minutes)",
        "UTC",
        "2026-01-01T10:00:00Z",
        "2026-01-01T10:07:00Z",
        Some("2026-01-01T10:10:00Z"),
    ),
    (
        "rate(2 hours)",
        "UTC",
        "2026-01-01T10:00:00Z",
        "2026-01-01T12:00:00Z",
        Some("2026-01-01T14:00:00Z"),
    ),
    // A day is 24 hours across New York's spring-forward (13:00 EDT, not 12:00).
    (
        "rate(1 day)",
        "America/New_York",
        "2026-03-07T17:00:00Z",
        "2026-03-07T17:00:00Z",
        Some("2026-03-08T17:00:00Z"),
    ),
    // One-time schedules.
    (
        "at(2026-05-01T10:00:00)",
        "UTC",
        A,
        "2026-01-01T00:00:00Z",
        Some("2026-05-01T10:00:00Z"),
    ),
    (
        "at(2026-05-01T10:00:00)",
        "UTC",
        A,
        "2026-05-01T10:00:00Z",
        None,
    ),
    (
        "at(2026-07-01T09:00:00)",
        "America/New_York",
        A,
        A,
        Some("2026-07-01T13:00:00Z"),
    ),
    ("at(2026-03-08T02:30:00)", "America/New_York", A, A, None),
    (
        "at(2026-11-01T01:30:00)",
        "America/New_York",
        A,
        A,
        Some("2026-11-01T05:30:00Z"),
    ),
    // Time zones and daylight saving: New York springs forward 2026-03-08
    // 02:00 EST→03:00 EDT and falls back 2026-11-01 02:00 EDT→01:00 EST.
    (
        "cron(0 9 * * ? *)",
        "America/New_York",
        A,
        A,
        Some("2026-01-01T14:00:00Z"),
    ),
    (
        "cron(0 9 * * ? *)",
        "America/New_York",
        A,
        "2026-07-01T00:00:00Z",
        Some("2026-07-01T13:00:00Z"),
    ),
    // 02:30 does not exist on 03-08: skipped.
    (
        "cron(30 2 * * ? *)",
        "America/New_York",
        A,
        "2026-03-07T08:00:00Z",
        Some("2026-03-09T06:30:00Z"),
    ),
    // 01:30 happens twice on 11-01: runs once, the first time.
    (
        "cron(30 1 * * ? *)",
        "America/New_York",
        A,
        "2026-11-01T04:00:00Z",
        Some("2026-11-01T05:30:00Z"),
    ),
    (
        "cron(30 1 * * ? *)",
        "America/New_York",
        A,
        "2026-11-01T05:30:00Z",
        Some("2026-11-02T06:30:00Z"),
    ),
    (
        "cron(0 * * * ? *)",
        "America/New_York",
        A,
        "2026-11-01T05:00:00Z",
        Some("2026-11-01T07:00:00Z"),
    ),
    // Berlin springs forward 2026-03-29 02:00 CET→03:00 CEST and falls back
    // 2026-10-25 03:00 CEST→02:00 CET.
    (
        "cron(30 2 ? * SUN *)",
        "Europe/Berlin",
        A,
        "2026-03-28T00:00:00Z",
        Some("2026-04-05T00:30:00Z"),
    ),
    (
        "cron(30 2 * * ? *)",
        "Europe/Berlin",
        A,
        "2026-10-24T23:00:00Z",
        Some("2026-10-25T00:30:00Z"),
    ),
    (
        "cron(30 2 * * ? *)",
        "Europe/Berlin",
        A,
        "2026-10-25T00:30:00Z",
        Some("2026-10-26T01:30:00Z"),
    ),
    (
        "cron(0 9 * * ? *)",
        "Europe/Berlin",
        A,
        "2026-06-01T00:00:00Z",
        Some("2026-06-01T07:00:00Z"),
    ),
    (
        "cron(0 0 * * ? *)",
        "Asia/Kolkata",
        A,
        "2026-01-01T00:00:00Z",
        Some("2026-01-01T18:30:00Z"),
    ),
];

#[test]
fn next_runs() {
    let mut failures = Vec::new();
    for (expr, tz, anchor, after, expected) in NEXT {
        let got = next(expr, tz, anchor, after);
        if got.as_deref() != *expected {
            failures.push(format!(
                "{expr} in {tz} after {after}: got {got:?}, want {expected:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const INVALID: &[&str] = &[
    "cron(0 12 * * ?)",
    "cron(0 12 * * ? * *)",
    "cron(0 12 ? * ? *)",
    "cron(0 12 * * * *)",
    "cron(0 12 1 * MON *)",
    "cron(60 12 * * ? *)",
    "cron(0 24 * * ? *)",
    "cron(0 0 32 * ? *)",
    "cron(0 0 0 * ? *)",
    "cron(0 0 1 13 ? *)",
    "cron(0 0 1 FOO ? *)",
    "cron(0 0 ? * 8 *)",
    "cron(0 0 ? * 0 *)",
    "cron(0 0 1 * ? 1969)",
    "cron(0 0 1 * ? 2200)",
    "cron(0 0 1 * ? 2030-2020)",
    "cron(0/0 * * * ? *)",
    "cron(0/ * * * ? *)",
    "cron(L * * * ? *)",
    "cron(0 0 32W * ? *)",
    "cron(0 0 ? * 6#6 *)",
    "cron(0 0 ? * 8L *)",
    "cron(0 0 ? * 2W *)",
    "cron(0 0 * * ?  *)",
    "cron(0,,5 0 * * ? *)",
    "rate(0 minutes)",
    "rate(1 minutes)",
    "rate(5 minute)",
    "rate(5 weeks)",
    "rate(-1 minutes)",
    "rate(5  minutes)",
    "rate(minutes)",
    "rate()",
    "at(2026-13-01T00:00:00)",
    "at(2026-01-01 00:00:00)",
    "at(2026-01-01T00:00)",
    "every(5 minutes)",
    "rate 5 minutes",
    "",
];

#[test]
fn refusals() {
    for expr in INVALID {
        let err = ScheduleExpression::parse(expr)
            .err()
            .unwrap_or_else(|| panic!("{expr:?} was accepted"));
        assert_eq!(
            err.scheduler_message(),
            format!("Invalid Schedule Expression {expr}.")
        );
        assert_eq!(err.eventbridge_message(), EVENTBRIDGE_MESSAGE);
    }
}

#[test]
fn rules_take_rate_and_cron_but_not_at() {
    assert!(ScheduleExpression::parse_eventbridge("rate(5 minutes)").is_ok());
    assert!(ScheduleExpression::parse_eventbridge("cron(0 12 * * ? *)").is_ok());
    let err = ScheduleExpression::parse_eventbridge("at(2026-05-01T10:00:00)").unwrap_err();
    assert_eq!(
        err.eventbridge_message(),
        "Parameter ScheduleExpression is not valid."
    );
    assert!(ScheduleExpression::parse("at(2026-05-01T10:00:00)")
        .unwrap()
        .is_one_time());
}

#[test]
fn time_zones() {
    assert!(parse_timezone("UTC").is_ok());
    assert!(parse_timezone("America/New_York").is_ok());
    let err = parse_timezone("Mars/Olympus_Mons").unwrap_err();
    assert_eq!(
        err.scheduler_message(),
        "Invalid ScheduleExpressionTimezone Mars/Olympus_Mons."
    );
}

/// Every minute across New York's fall-back: the repeated hour runs once.
#[test]
fn every_minute_across_fall_back_runs_each_wall_clock_minute_once() {
    let expression = ScheduleExpression::parse("cron(* * * * ? *)").unwrap();
    let schedule = Schedule::new(
        expression,
        parse_timezone("America/New_York").unwrap(),
        utc(A),
    );
    let mut at = utc("2026-11-01T03:59:00Z"); // 23:59 EDT
    let mut runs = 0;
    while let Some(next) = schedule.next_after(at) {
        if next >= utc("2026-11-01T08:00:00Z") {
            break; // 03:00 EST
        }
        runs += 1;
        at = next;
    }
    // 00:00–02:59 local is 180 wall-clock minutes over 4 real hours.
    assert_eq!(runs, 180);
}
