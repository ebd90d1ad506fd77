//! Condition operators: `String…`, `Arn…`, `Numeric…`, `Date…`, `Bool`,
//! `BinaryEquals`, `IpAddress`/`NotIpAddress`, `Null`; the `…IfExists`
//! suffix and the `ForAnyValue:` / `ForAllValues:` set prefixes.
//!
//! A clause holds when the request's value(s) for its key match any of its
//! values (negated operators: none of them). A missing key fails the
//! clause, except with `…IfExists`, `ForAllValues:`, `Null`, and the
//! negated operators, which hold.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::context::ContextKeys;
use super::document::ConditionClause;
use super::pattern::{compile, variable, Pattern};

/// The comparison an operator makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `StringEquals`.
    StringEquals,
    /// `StringEqualsIgnoreCase`.
    StringEqualsIgnoreCase,
    /// `StringLike` (`*`, `?`).
    StringLike,
    /// `NumericEquals`.
    NumericEquals,
    /// `NumericLessThan`.
    NumericLessThan,
    /// `NumericLessThanEquals`.
    NumericLessThanEquals,
    /// `NumericGreaterThan`.
    NumericGreaterThan,
    /// `NumericGreaterThanEquals`.
    NumericGreaterThanEquals,
    /// `DateEquals`.
    DateEquals,
    /// `DateLessThan`.
    DateLessThan,
    /// `DateLessThanEquals`.
    DateLessThanEquals,
    /// `DateGreaterThan`.
    DateGreaterThan,
    /// `DateGreaterThanEquals`.
    DateGreaterThanEquals,
    /// `Bool`.
    Bool,
    /// `BinaryEquals` (base64 text compared as written).
    BinaryEquals,
    /// `IpAddress` (CIDR, v4 or v6).
    IpAddress,
    /// `ArnEquals` / `ArnLike` (IAM treats both alike).
    ArnLike,
    /// `Null`.
    Null,
}

/// A condition operator: a comparison, maybe negated (`StringNotEquals`,
/// `NotIpAddress`, …), with its suffix and prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    /// What is compared.
    pub comparison: Comparison,
    /// `…Not…`: holds when no value matches.
    pub negated: bool,
    /// `…IfExists`: holds when the key is absent.
    pub if_exists: bool,
    /// `ForAnyValue:` / `ForAllValues:`.
    pub set: Option<SetOperator>,
}

/// How a multi-valued key is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOperator {
    /// At least one request value matches.
    ForAnyValue,
    /// Every request value matches (also true with no value at all).
    ForAllValues,
}

const OPERATORS: &[(&str, Comparison, bool)] = &[
    ("StringEquals", Comparison::StringEquals, false),
    ("StringNotEquals", Comparison::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        Comparison::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Comparison::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", Comparison::StringLike, false),
    ("StringNotLike", Comparison::StringLike, true),
    ("NumericEquals", Comparison::NumericEquals, false),
    ("NumericNotEquals", Comparison::NumericEquals, true),
    ("NumericLessThan", Comparison::NumericLessThan, false),
    (
        "NumericLessThanEquals",
        Comparison::NumericLessThanEquals,
        false,
    ),
    ("NumericGreaterThan", Comparison::NumericGreaterThan, false),
    (
        "NumericGreaterThanEquals",
        Comparison::NumericGreaterThanEquals,
        false,
    ),
    ("DateEquals", Comparison::DateEquals, false),
    ("DateNotEquals", Comparison::DateEquals, true),
    ("DateLessThan", Comparison::DateLessThan, false),
    ("DateLessThanEquals", Comparison::DateLessThanEquals, false),
    ("DateGreaterThan", Comparison::DateGreaterThan, false),
    (
        "DateGreaterThanEquals",
        Comparison::DateGreaterThanEquals,
        false,
    ),
    ("Bool", Comparison::Bool, false),
    ("BinaryEquals", Comparison::BinaryEquals, false),
    ("IpAddress", Comparison::IpAddress, false),
    ("NotIpAddress", Comparison::IpAddress, true),
    ("ArnEquals", Comparison::ArnLike, false),
    ("ArnLike", Comparison::ArnLike, false),
    ("ArnNotEquals", Comparison::ArnLike, true),
    ("ArnNotLike", Comparison::ArnLike, true),
    ("Null", Comparison::Null, false),
];

impl Operator {
    /// Reads an operator name (case-sensitive, as IAM); `None` if unknown.
    pub fn parse(name: &str) -> Option<Self> {
        let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (Some(SetOperator::ForAnyValue), rest)
        } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (Some(SetOperator::ForAllValues), rest)
        } else {
            (None, name)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let (_, comparison, negated) = OPERATORS.iter().find(|(n, _, _)| *n == base)?;
        if *comparison == Comparison::Null && (if_exists || set.is_some()) {
            return None;
        }
        Some(Self {
            comparison: *comparison,
            negated: *negated,
            if_exists,
            set,
        })
    }
}

/// Whether `clause` holds for the request's `keys`; `vars` substitutes
/// policy variables in its values (version 2012-10-17 documents).
pub(crate) fn holds(clause: &ConditionClause, keys: &ContextKeys, vars: bool) -> bool {
    let op = clause.operator;
    let actual = keys.get(&clause.key).filter(|v| !v.is_empty());
    if op.comparison == Comparison::Null {
        let absent = actual.is_none();
        return clause
            .values
            .iter()
            .any(|v| v.eq_ignore_ascii_case(if absent { "true" } else { "false" }));
    }
    let Some(actual) = actual else {
        return op.if_exists || op.negated || op.set == Some(SetOperator::ForAllValues);
    };
    let vars = vars.then_some(keys);
    let expected: Vec<Expected> = clause
        .values
        .iter()
        .filter_map(|v| Expected::new(v, op.comparison, vars))
        .collect();
    // One request value against the clause's values.
    let one = |value: &String| {
        let any = expected.iter().any(|e| e.matches(value, op.comparison));
        any != op.negated
    };
    match op.set {
        Some(SetOperator::ForAllValues) => actual.iter().all(one),
        Some(SetOperator::ForAnyValue) => actual.iter().any(one),
        None if op.negated => actual.iter().all(one),
        None => actual.iter().any(one),
    }
}

/// A clause value after variable substitution.
struct Expected {
    text: String,
    pattern: Option<Pattern>,
}

impl Expected {
    fn new(value: &str, comparison: Comparison, vars: Option<&ContextKeys>) -> Option<Self> {
        let wildcards = matches!(comparison, Comparison::StringLike | Comparison::ArnLike);
        // Exact comparisons take substituted text literally.
        let (text, pattern) = if wildcards {
            (String::new(), Some(compile(value, vars)?))
        } else {
            (substitute(value, vars)?, None)
        };
        Some(Self { text, pattern })
    }

    fn matches(&self, actual: &str, comparison: Comparison) -> bool {
        use Comparison::*;
        match comparison {
            StringEquals | BinaryEquals => self.text == actual,
            StringEqualsIgnoreCase => self.text.to_lowercase() == actual.to_lowercase(),
            StringLike => self
                .pattern
                .as_ref()
                .is_some_and(|p| p.matches(actual, false)),
            ArnLike => self.pattern.as_ref().is_some_and(|p| p.matches_arn(actual)),
            Bool => self.text.eq_ignore_ascii_case(actual),
            NumericEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => match (actual.parse::<f64>(), self.text.parse::<f64>()) {
                (Ok(a), Ok(e)) => ordered(comparison, a.partial_cmp(&e)),
                _ => false,
            },
            DateEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => match (parse_date(actual), parse_date(&self.text)) {
                (Some(a), Some(e)) => ordered(comparison, Some(a.cmp(&e))),
                _ => false,
            },
            IpAddress => in_cidr(actual, &self.text),
            Null => false,
        }
    }
}

fn ordered(comparison: Comparison, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    use Comparison::*;
    matches!(
        (comparison, ord),
        (NumericEquals | DateEquals, Some(Equal))
            | (NumericLessThan | DateLessThan, Some(Less))
            | (
                NumericLessThanEquals | DateLessThanEquals,
                Some(Less | Equal)
            )
            | (NumericGreaterThan | DateGreaterThan, Some(Greater))
            | (
                NumericGreaterThanEquals | DateGreaterThanEquals,
                Some(Greater | Equal)
            )
    )
}

/// Substitutes variables into exact text (`${*}` is a literal `*`).
fn substitute(value: &str, vars: Option<&ContextKeys>) -> Option<String> {
    let Some(vars) = vars else {
        return Some(value.to_string());
    };
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&variable(&rest[start + 2..start + end], vars)?);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// ISO 8601 (`2024-05-01T12:00:00Z`, a date alone) or epoch seconds.
fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    text.parse::<i64>()
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
}

/// Whether `ip` lies in `cidr` (`10.0.0.0/8`, `2001:db8::/32`, or one address).
fn in_cidr(ip: &str, cidr: &str) -> bool {
    let (net, len) = match cidr.split_once('/') {
        Some((net, len)) => (net, len.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let (Ok(ip), Ok(net)) = (ip.trim().parse::<IpAddr>(), net.trim().parse::<IpAddr>()) else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let len = len.unwrap_or(32);
            len <= 32
                && prefix_eq(
                    u128::from(u32::from(ip)),
                    u128::from(u32::from(net)),
                    len,
                    32,
                )
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let len = len.unwrap_or(128);
            len <= 128 && prefix_eq(u128::from(ip), u128::from(net), len, 128)
        }
        _ => false,
    }
}

fn prefix_eq(a: u128, b: u128, len: u32, bits: u32) -> bool {
    if len == 0 {
        return true;
    }
    let shift = bits - len;
    (a >> shift) == (b >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_parse_with_prefix_and_suffix() {
        let op = Operator::parse("ForAnyValue:StringNotLikeIfExists").unwrap();
        assert_eq!(op.comparison, Comparison::StringLike);
        assert!(op.negated && op.if_exists);
        assert_eq!(op.set, Some(SetOperator::ForAnyValue));
        assert!(Operator::parse("StringEqualz").is_none());
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("stringequals").is_none());
    }

    #[test]
    fn cidrs() {
        assert!(in_cidr("203.0.113.7", "203.0.113.0/24"));
        assert!(!in_cidr("203.0.114.7", "203.0.113.0/24"));
        assert!(in_cidr("10.1.2.3", "0.0.0.0/0"));
        assert!(in_cidr("192.0.2.1", "192.0.2.1"));
        assert!(in_cidr("2001:db8::1", "2001:db8::/32"));
        assert!(!in_cidr("2001:db9::1", "2001:db8::/32"));
        assert!(!in_cidr("192.0.2.1", "2001:db8::/32"));
        assert!(!in_cidr("not an ip", "0.0.0.0/0"));
    }

    #[test]
    fn dates_in_either_form() {
        assert_eq!(parse_date("2024-05-01T00:00:00Z"), parse_date("1714521600"));
        assert_eq!(parse_date("2024-05-01"), parse_date("1714521600"));
    }
}
