//! AWS's six-field cron: parsing each field into the set of values it
//! allows, and matching a local date and time.

use chrono::{Datelike, NaiveDate, Weekday};

/// Year bounds AWS accepts.
pub(crate) const FIRST_YEAR: i32 = 1970;
pub(crate) const LAST_YEAR: i32 = 2199;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A parsed `cron(...)` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    pub(crate) minutes: Values,
    pub(crate) hours: Values,
    pub(crate) day_of_month: DayOfMonth,
    pub(crate) months: Values,
    pub(crate) day_of_week: DayOfWeek,
    pub(crate) years: Values,
}

/// The allowed values of one plain field, indexed by value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Values {
    min: u32,
    allowed: Vec<bool>,
}

impl Values {
    pub(crate) fn contains(&self, value: u32) -> bool {
        value
            .checked_sub(self.min)
            .and_then(|i| self.allowed.get(i as usize))
            .copied()
            .unwrap_or(false)
    }

    /// The allowed values, smallest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let min = self.min;
        self.allowed
            .iter()
            .enumerate()
            .filter(|(_, on)| **on)
            .map(move |(i, _)| min + i as u32)
    }
}

/// The day-of-month field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DayOfMonth {
    /// `?`: the day of week decides.
    NoSpecific,
    /// Days 1–31 (from `*`, values, ranges, lists, steps).
    Days(Values),
    /// `L`: the last day of the month.
    Last,
    /// `LW`: the last weekday (Monday–Friday) of the month.
    LastWeekday,
    /// `15W`: the weekday nearest the 15th, within the month.
    NearestWeekday(u32),
}

/// The day-of-week field (1 = Sunday … 7 = Saturday).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DayOfWeek {
    /// `?`: the day of month decides.
    NoSpecific,
    /// Days of the week (from `*`, values, names, ranges, lists).
    Days(Values),
    /// `5L` (or `L` alone, Saturday): the last such day of the month.
    Last(u32),
    /// `6#3`: the third Friday of the month.
    Nth(u32, u32),
}

impl Cron {
    /// Parses the body of `cron(...)`; the error says why it is refused.
    pub fn parse(body: &str) -> Result<Self, String> {
        let fields: Vec<&str> = body.split(' ').collect();
        let [minutes, hours, dom, months, dow, years] = fields[..] else {
            return Err(format!("cron() takes 6 fields, got {}", fields.len()));
        };
        let day_of_month = parse_day_of_month(dom)?;
        let day_of_week = parse_day_of_week(dow)?;
        let no_dom = day_of_month == DayOfMonth::NoSpecific;
        let no_dow = day_of_week == DayOfWeek::NoSpecific;
        if no_dom == no_dow {
            return Err("exactly one of day-of-month and day-of-week must be ?".into());
        }
        Ok(Self {
            minutes: parse_values(minutes, 0, 59, None, "minutes")?,
            hours: parse_values(hours, 0, 23, None, "hours")?,
            day_of_month,
            months: parse_values(months, 1, 12, Some(&MONTHS), "month")?,
            day_of_week,
            years: parse_values(years, FIRST_YEAR as u32, LAST_YEAR as u32, None, "year")?,
        })
    }

    /// Whether the date matches the month, year and day fields.
    pub(crate) fn matches_date(&self, date: NaiveDate) -> bool {
        self.years.contains(date.year() as u32)
            && self.months.contains(date.month())
            && self.matches_day(date)
    }

    fn matches_day(&self, date: NaiveDate) -> bool {
        let day = date.day();
        let last = last_day_of_month(date);
        let weekday = date.weekday().number_from_sunday();
        match (&self.day_of_month, &self.day_of_week) {
            (DayOfMonth::Days(days), _) => days.contains(day),
            (DayOfMonth::Last, _) => day == last,
            (DayOfMonth::LastWeekday, _) => {
                day == nearest_weekday(date.with_day(last).expect("last day exists"))
            }
            (DayOfMonth::NearestWeekday(target), _) => {
                *target <= last && day == nearest_weekday(date.with_day(*target).expect("checked"))
            }
            (DayOfMonth::NoSpecific, DayOfWeek::Days(days)) => days.contains(weekday),
            (DayOfMonth::NoSpecific, DayOfWeek::Last(d)) => *d == weekday && day + 7 > last,
            (DayOfMonth::NoSpecific, DayOfWeek::Nth(d, n)) => {
                *d == weekday && (day - 1) / 7 + 1 == *n
            }
            (DayOfMonth::NoSpecific, DayOfWeek::NoSpecific) => false,
        }
    }
}

fn last_day_of_month(date: NaiveDate) -> u32 {
    let (y, m) = (date.year(), date.month());
    let first_next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    first_next
        .and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .unwrap_or(31)
}

/// The day of month of the weekday nearest `date`, not leaving its month.
fn nearest_weekday(date: NaiveDate) -> u32 {
    let day = date.day();
    let last = last_day_of_month(date);
    match date.weekday() {
        Weekday::Sat if day == 1 => 3,
        Weekday::Sat => day - 1,
        Weekday::Sun if day == last => day - 2,
        Weekday::Sun => day + 1,
        _ => day,
    }
}

fn parse_day_of_month(text: &str) -> Result<DayOfMonth, String> {
    match text {
        "?" => return Ok(DayOfMonth::NoSpecific),
        "L" => return Ok(DayOfMonth::Last),
        "LW" => return Ok(DayOfMonth::LastWeekday),
        _ => {}
    }
    if let Some(day) = text.strip_suffix('W') {
        let day = parse_number(day, 1, 31, None, "day-of-month")?;
        return Ok(DayOfMonth::NearestWeekday(day));
    }
    parse_values(text, 1, 31, None, "day-of-month").map(DayOfMonth::Days)
}

fn parse_day_of_week(text: &str) -> Result<DayOfWeek, String> {
    match text {
        "?" => return Ok(DayOfWeek::NoSpecific),
        "L" => return Ok(DayOfWeek::Last(7)),
        _ => {}
    }
    if let Some(day) = text.strip_suffix('L') {
        return parse_number(day, 1, 7, Some(&DAYS), "day-of-week").map(DayOfWeek::Last);
    }
    if let Some((day, nth)) = text.split_once('#') {
        let day = parse_number(day, 1, 7, Some(&DAYS), "day-of-week")?;
        let nth = parse_number(nth, 1, 5, None, "day-of-week")?;
        return Ok(DayOfWeek::Nth(day, nth));
    }
    parse_values(text, 1, 7, Some(&DAYS), "day-of-week").map(DayOfWeek::Days)
}

/// Parses a list of `*`, values, ranges and steps into the allowed values.
/// A range whose start is past its end wraps around (`FRI-MON`), except for
/// years.
fn parse_values(
    text: &str,
    min: u32,
    max: u32,
    names: Option<&[&str]>,
    field: &str,
) -> Result<Values, String> {
    let mut allowed = vec![false; (max - min + 1) as usize];
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(parse_number(step, 1, max, None, field)?)),
            None => (item, None),
        };
        let (start, end) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                parse_number(a, min, max, names, field)?,
                parse_number(b, min, max, names, field)?,
            )
        } else {
            let value = parse_number(range, min, max, names, field)?;
            // `a/step` runs from a to the field's end.
            (value, if step.is_some() { max } else { value })
        };
        if start > end && field == "year" {
            return Err(format!("{field}: range {range} runs backwards"));
        }
        let span = max - min + 1;
        let length = if start <= end {
            end - start
        } else {
            end + span - start
        };
        let step = step.unwrap_or(1);
        let mut offset = 0;
        while offset <= length {
            let value = min + (start - min + offset) % span;
            allowed[(value - min) as usize] = true;
            offset += step;
        }
    }
    Ok(Values { min, allowed })
}

fn parse_number(
    text: &str,
    min: u32,
    max: u32,
    names: Option<&[&str]>,
    field: &str,
) -> Result<u32, String> {
    let value = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u32>().ok()
    } else {
        names.and_then(|names| {
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(text))
                .map(|i| min + i as u32)
        })
    };
    value
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| format!("{field}: {text:?} is not a value in {min}-{max}"))
}
