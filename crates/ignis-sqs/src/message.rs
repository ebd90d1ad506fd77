//! What SQS accepts in a message: body characters, message attribute names,
//! types and values, the size limit (body plus attributes), and the FIFO
//! ids. Refusals are per entry ([`EntryError`]), as a batch reports them.

use crate::model::{AttributeValue, EntryError, MessageAttributes, Outgoing};

/// The most message attributes a message may carry.
const MAX_ATTRIBUTES: usize = 10;
/// The longest attribute name or data type.
const MAX_NAME: usize = 256;
/// The longest FIFO group or deduplication id.
const MAX_FIFO_ID: usize = 128;

fn invalid(message: impl Into<String>) -> EntryError {
    EntryError {
        code: "InvalidParameterValue".into(),
        message: message.into(),
        sender_fault: true,
    }
}

fn missing(message: impl Into<String>) -> EntryError {
    EntryError {
        code: "MissingParameter".into(),
        message: message.into(),
        sender_fault: true,
    }
}

/// Whether a character is one SQS allows in a message: `#x9 | #xA | #xD |
/// #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`.
pub fn allowed_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

fn contents_error() -> EntryError {
    EntryError {
        code: "InvalidMessageContents".into(),
        message: "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF".into(),
        sender_fault: true,
    }
}

/// Checks a message for a queue of this type and limit; returns its size
/// as SQS counts it (body plus each attribute's name, type and value).
pub fn check(m: &Outgoing, fifo: bool, max_size: usize) -> Result<usize, EntryError> {
    if m.body.is_empty() {
        return Err(missing(
            "The request must contain the parameter MessageBody.",
        ));
    }
    if !m.body.chars().all(allowed_char) {
        return Err(contents_error());
    }
    let size = m.body.len() + check_attributes(&m.attributes)?;
    check_system_attributes(&m.system_attributes)?;
    if size > max_size {
        return Err(invalid(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {max_size} bytes."
        )));
    }
    check_fifo(m, fifo)?;
    Ok(size)
}

fn check_fifo(m: &Outgoing, fifo: bool) -> Result<(), EntryError> {
    if !fifo {
        if m.deduplication_id.is_some() {
            return Err(invalid(
                "The request include parameter that is not valid for this queue type",
            ));
        }
        // Standard queues accept a MessageGroupId (fair queues); it is kept.
        return m
            .group_id
            .as_deref()
            .map_or(Ok(()), |g| fifo_id("MessageGroupId", g));
    }
    if m.delay_seconds.is_some_and(|d| d > 0) {
        return Err(invalid(
            "Value 1 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.",
        ));
    }
    let Some(group) = &m.group_id else {
        return Err(missing(
            "The request must contain the parameter MessageGroupId.",
        ));
    };
    fifo_id("MessageGroupId", group)?;
    if let Some(id) = &m.deduplication_id {
        fifo_id("MessageDeduplicationId", id)?;
    }
    Ok(())
}

/// A group or deduplication id: 1–128 printable ASCII characters.
fn fifo_id(param: &str, value: &str) -> Result<(), EntryError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_FIFO_ID
        && value.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "Value {value} for parameter {param} is invalid. Reason: {param} can only include alphanumeric and punctuation characters. 1 to 128 in length."
        )))
    }
}

/// Checks message attributes; their size as SQS counts it.
pub fn check_attributes(attributes: &MessageAttributes) -> Result<usize, EntryError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(invalid(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_ATTRIBUTES}].",
            attributes.len()
        )));
    }
    let mut size = 0;
    for (name, value) in attributes {
        check_name(name)?;
        size += name.len() + check_value(name, value)?;
    }
    Ok(size)
}

fn check_name(name: &str) -> Result<(), EntryError> {
    let lower = name.to_ascii_lowercase();
    let reason = if name.is_empty() {
        Some("must not be empty")
    } else if name.len() > MAX_NAME {
        Some("must be at most 256 characters long")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        Some("can only contain alphanumeric characters, hyphens, underscores and periods")
    } else if lower.starts_with("aws.") || lower.starts_with("amazon.") {
        Some("must not start with AWS-reserved prefixes (AWS. or Amazon.)")
    } else if name.starts_with('.') || name.ends_with('.') {
        Some("must not start or end with a period")
    } else if name.contains("..") {
        Some("must not contain successive periods")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(invalid(format!(
            "Message (user) attribute name '{name}' is invalid. The attribute name {reason}."
        ))),
    }
}

/// Checks one attribute's type and value; the size of both.
fn check_value(name: &str, v: &AttributeValue) -> Result<usize, EntryError> {
    let base = v.data_type.split('.').next().unwrap_or("");
    let label_ok = v.data_type.len() <= MAX_NAME
        && v.data_type
            .split_once('.')
            .is_none_or(|(_, label)| !label.is_empty());
    if !label_ok || !matches!(base, "String" | "Number" | "Binary") {
        return Err(invalid(format!(
            "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
        )));
    }
    let value_len = if base == "Binary" {
        if v.string_value.is_some() {
            return Err(invalid(format!(
                "Message (user) attribute '{name}' must contain a non-empty value of message attribute type '{base}'."
            )));
        }
        match &v.binary_value {
            Some(b) if !b.is_empty() => b.len(),
            _ => {
                return Err(invalid(format!(
                    "Message (user) attribute '{name}' must contain a non-empty value of message attribute type '{base}'."
                )))
            }
        }
    } else {
        let s = match (&v.string_value, &v.binary_value) {
            (Some(s), None) if !s.is_empty() => s,
            _ => {
                return Err(invalid(format!(
                    "Message (user) attribute '{name}' must contain a non-empty value of message attribute type '{base}'."
                )))
            }
        };
        if !s.chars().all(allowed_char) {
            return Err(contents_error());
        }
        if base == "Number" && !is_number(s) {
            return Err(invalid(format!(
                "Value {s} for parameter MessageAttributeValue is invalid. Reason: Can't parse the value as a number."
            )));
        }
        s.len()
    };
    Ok(v.data_type.len() + value_len)
}

/// A decimal number SQS accepts: up to 38 significant digits, an optional
/// sign, fraction and exponent.
fn is_number(s: &str) -> bool {
    let s = s.trim();
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    let significant = format!("{int}{frac}");
    let significant = significant.trim_start_matches('0');
    !(int.is_empty() && frac.is_empty())
        && digits(int)
        && digits(frac)
        && exponent_ok
        && significant.trim_end_matches('0').len() <= 38
}

fn check_system_attributes(attributes: &MessageAttributes) -> Result<(), EntryError> {
    for (name, v) in attributes {
        if name != "AWSTraceHeader" {
            return Err(invalid(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        if v.data_type != "String" || v.string_value.as_deref().is_none_or(str::is_empty) {
            return Err(invalid(format!(
                "Message system attribute '{name}' must be of type String with a non-empty value."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(body: &str) -> Outgoing {
        Outgoing {
            body: body.into(),
            sender_id: "000000000000".into(),
            ..Outgoing::default()
        }
    }

    fn string(t: &str, v: &str) -> AttributeValue {
        AttributeValue {
            data_type: t.into(),
            string_value: Some(v.into()),
            binary_value: None,
        }
    }

    #[test]
    fn bodies_are_checked_for_characters_and_size() {
        assert_eq!(check(&msg("hi"), false, 1024), Ok(2));
        assert_eq!(
            check(&msg(""), false, 1024).unwrap_err().code,
            "MissingParameter"
        );
        assert_eq!(
            check(&msg("a\u{1}b"), false, 1024).unwrap_err().code,
            "InvalidMessageContents"
        );
        assert_eq!(
            check(&msg("\u{FFFF}"), false, 1024).unwrap_err().code,
            "InvalidMessageContents"
        );
        assert!(check(&msg("\u{10000}\t\n\r"), false, 1024).is_ok());
        let big = "x".repeat(1025);
        let err = check(&msg(&big), false, 1024).unwrap_err();
        assert_eq!(err.code, "InvalidParameterValue");
        assert!(
            err.message.contains("shorter than 1024 bytes"),
            "{}",
            err.message
        );
        // Attributes count towards the size.
        let mut m = msg(&"x".repeat(1000));
        m.attributes
            .insert("abcdefghij".into(), string("String", &"v".repeat(14)));
        assert_eq!(check(&m, false, 1030).unwrap(), 1000 + 10 + 6 + 14);
        assert!(check(&m, false, 1029).is_err());
    }

    #[test]
    fn attribute_names_types_and_values_follow_sqs() {
        for bad in ["AWS.x", "amazon.x", ".x", "x.", "a..b", "a b", ""] {
            let mut m = msg("b");
            m.attributes.insert(bad.into(), string("String", "v"));
            assert_eq!(
                check(&m, false, 1024).unwrap_err().code,
                "InvalidParameterValue",
                "{bad}"
            );
        }
        let mut m = msg("b");
        m.attributes
            .insert("a.b-c_D".into(), string("Number.float", "-1.5e3"));
        assert!(check(&m, false, 1024).is_ok());
        for (t, v) in [
            ("Number", "abc"),
            ("Strin", "x"),
            ("String.", "x"),
            ("String", ""),
        ] {
            let mut m = msg("b");
            m.attributes.insert("a".into(), string(t, v));
            assert!(check(&m, false, 1024).is_err(), "{t} {v}");
        }
        let mut m = msg("b");
        for i in 0..11 {
            m.attributes.insert(format!("a{i}"), string("String", "v"));
        }
        assert!(check(&m, false, 4096).unwrap_err().message.contains("[11]"));
        assert!(is_number("0012345678901234567890123456789012345678"));
        assert!(!is_number("123456789012345678901234567890123456789"));
    }

    #[test]
    fn fifo_ids_are_required_and_delays_refused() {
        assert_eq!(
            check(&msg("b"), true, 1024).unwrap_err().code,
            "MissingParameter"
        );
        let mut m = msg("b");
        m.group_id = Some("g".into());
        assert!(check(&m, true, 1024).is_ok());
        m.delay_seconds = Some(5);
        assert!(check(&m, true, 1024).is_err());
        m.delay_seconds = None;
        m.group_id = Some("a b".into());
        assert!(check(&m, true, 1024).is_err());
        let mut s = msg("b");
        s.deduplication_id = Some("d".into());
        assert!(
            check(&s, false, 1024).is_err(),
            "standard queues take no dedup id"
        );
    }
}
