//! PutEvents' entries: their sizes, per-entry checks (AWS's error codes
//! and messages) and the event every target sees.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use crate::op::EventEntry;

/// The largest PutEvents request, bytes (entries as AWS counts them).
pub const MAX_REQUEST_SIZE: usize = 262_144;
/// Entries of one PutEvents.
pub const MAX_ENTRIES: usize = 10;

/// A refused entry: its error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    /// `InvalidArgument`, `MalformedDetail`, ….
    pub code: &'static str,
    /// The message.
    pub message: String,
}

fn invalid(member: &str, why: &str) -> EntryError {
    EntryError {
        code: "InvalidArgument",
        message: format!("Parameter {member} is not valid. Reason: {why}"),
    }
}

/// An entry's size as AWS counts it: 14 bytes for a `Time`, and the UTF-8
/// bytes of the source, detail type, detail and each resource.
pub fn entry_size(e: &EventEntry) -> usize {
    let text = |s: &Option<String>| s.as_deref().map_or(0, str::len);
    let time = if e.time.is_some() { 14 } else { 0 };
    time + text(&e.source)
        + text(&e.detail_type)
        + text(&e.detail)
        + e.resources.iter().flatten().map(String::len).sum::<usize>()
}

/// An entry checked: its detail and time.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The detail.
    pub detail: Value,
    /// The event's time.
    pub time: DateTime<Utc>,
}

/// Checks an entry as PutEvents does.
pub fn check(e: &EventEntry, now: DateTime<Utc>) -> Result<Checked, EntryError> {
    let source = e
        .source
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("Source", "Source is a required argument."))?;
    if e.detail_type.as_deref().is_none_or(str::is_empty) {
        return Err(invalid("DetailType", "DetailType is a required argument."));
    }
    let detail = e
        .detail
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("Detail", "Detail is a required argument."))?;
    let detail: Value = match serde_json::from_str(detail) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return Err(EntryError {
                code: "MalformedDetail",
                message: "Detail is malformed.".into(),
            })
        }
    };
    if source.starts_with("aws.") {
        return Err(EntryError {
            code: "NotAuthorizedForSourceException",
            message: "Not authorized for the source.".into(),
        });
    }
    let time = match &e.time {
        None => now,
        Some(t) => time_of(t).ok_or_else(|| invalid("Time", "Time is not a timestamp."))?,
    };
    Ok(Checked { detail, time })
}

/// A timestamp as the JSON protocol sends it (epoch seconds) or as text.
fn time_of(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Number(n) => {
            let ms = (n.as_f64()? * 1000.0).round() as i64;
            Utc.timestamp_millis_opt(ms).single()
        }
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
            .or_else(|| s.parse::<f64>().ok().and_then(|f| time_of(&json!(f)))),
        _ => None,
    }
}

/// AWS's event time format.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The event targets see.
#[allow(clippy::too_many_arguments)]
pub fn envelope(
    id: &str,
    detail_type: &str,
    source: &str,
    account: &str,
    time: DateTime<Utc>,
    region: &str,
    resources: &[String],
    detail: Value,
) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": format_time(time),
        "region": region,
        "resources": resources,
        "detail": detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(detail: Option<&str>) -> EventEntry {
        EventEntry {
            source: Some("app".into()),
            detail_type: Some("t".into()),
            detail: detail.map(str::to_string),
            ..EventEntry::default()
        }
    }

    #[test]
    fn per_entry_errors() {
        let now = Utc::now();
        assert!(check(&entry(Some("{}")), now).is_ok());
        let e = check(&entry(None), now).unwrap_err();
        assert_eq!(e.code, "InvalidArgument");
        assert!(e.message.contains("Detail is a required argument"));
        assert_eq!(
            check(&entry(Some("[1]")), now).unwrap_err().code,
            "MalformedDetail"
        );
        assert_eq!(
            check(&entry(Some("{")), now).unwrap_err().code,
            "MalformedDetail"
        );
        let mut e = entry(Some("{}"));
        e.source = None;
        assert!(check(&e, now).unwrap_err().message.contains("Source"));
        e.source = Some("aws.ec2".into());
        assert_eq!(
            check(&e, now).unwrap_err().code,
            "NotAuthorizedForSourceException"
        );
        let mut e = entry(Some("{}"));
        e.time = Some(json!(1_700_000_000));
        assert_eq!(
            format_time(check(&e, now).unwrap().time),
            "2023-11-14T22:13:20Z"
        );
        e.resources = Some(vec!["abc".into()]);
        assert_eq!(entry_size(&e), 14 + 3 + 1 + 2 + 3);
    }
}
