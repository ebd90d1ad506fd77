//! Pattern text to [`Node`] tree, checking it the way the service named by
//! the [`Language`] does, with the service's reasons.

use serde_json::{Map, Value};

use crate::ast::{AnythingBut, Field, Language, Matcher, Node, Range};
use crate::cidr::Cidr;
use crate::error::PatternError;
use crate::text::{lower, Wildcard};

/// How deep objects may nest (fields inside `$or` alternatives count at the
/// level of the `$or`).
pub(crate) const MAX_DEPTH: usize = 64;

/// Operator names that cannot be field names inside `$or`.
const RESERVED_IN_OR: [&str; 8] = [
    "anything-but",
    "cidr",
    "equals-ignore-case",
    "exists",
    "numeric",
    "prefix",
    "suffix",
    "wildcard",
];

/// Parses and checks a pattern of at most `max_len` characters.
pub(crate) fn parse(text: &str, language: Language, max_len: usize) -> Result<Node, PatternError> {
    if text.chars().count() > max_len {
        return Err(PatternError::TooLarge { max: max_len });
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| PatternError::InvalidJson(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(PatternError::NotAnObject);
    };
    Parser { language }.object(&map, false, 0)
}

struct Parser {
    language: Language,
}

impl Parser {
    fn object(
        &self,
        map: &Map<String, Value>,
        in_or: bool,
        depth: usize,
    ) -> Result<Node, PatternError> {
        if depth > MAX_DEPTH {
            return Err(PatternError::TooDeep { max: MAX_DEPTH });
        }
        if map.is_empty() {
            return Err(PatternError::EmptyObject);
        }
        let mut node = Node::default();
        for (key, value) in map {
            if key == "$or" && (!self.language.or_falls_back_to_field() || is_or(value)) {
                node.ors.push(self.or(value, depth)?);
                continue;
            }
            if in_or && RESERVED_IN_OR.contains(&key.as_str()) {
                return Err(PatternError::OrReservedField(key.clone()));
            }
            let field = match value {
                Value::Object(inner) if self.language.allows_nesting() => {
                    Field::Nested(self.object(inner, in_or, depth + 1)?)
                }
                Value::Object(_) => return Err(PatternError::NestedNotAllowed),
                Value::Array(values) => Field::Leaf(self.values(values)?),
                _ => return Err(PatternError::NotObjectOrArray(key.clone())),
            };
            node.fields.push((key.clone(), field));
        }
        Ok(node)
    }

    fn or(&self, value: &Value, depth: usize) -> Result<Vec<Node>, PatternError> {
        let Value::Array(items) = value else {
            return Err(PatternError::OrNotArray);
        };
        let alternatives = items
            .iter()
            .map(|item| match item {
                Value::Object(map) => self.object(map, true, depth + 1),
                _ => Err(PatternError::OrNotObject),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if alternatives.len() < 2 {
            return Err(PatternError::OrTooFew);
        }
        Ok(alternatives)
    }

    fn values(&self, values: &[Value]) -> Result<Vec<Matcher>, PatternError> {
        if values.is_empty() {
            return Err(PatternError::EmptyArray);
        }
        values.iter().map(|v| self.value(v)).collect()
    }

    fn value(&self, value: &Value) -> Result<Matcher, PatternError> {
        Ok(match value {
            Value::String(s) => match s.parse() {
                Ok(ip) => Matcher::Ip(s.clone(), ip),
                Err(_) => Matcher::String(s.clone()),
            },
            Value::Number(n) => Matcher::Number(n.as_f64().unwrap_or(f64::NAN), n.to_string()),
            Value::Bool(b) => Matcher::Bool(*b),
            Value::Null => Matcher::Null,
            Value::Object(map) => self.expression(map)?,
            Value::Array(_) => return Err(PatternError::BadMatchValue),
        })
    }

    fn expression(&self, map: &Map<String, Value>) -> Result<Matcher, PatternError> {
        let Some((name, value)) = map.iter().next() else {
            return Err(PatternError::MatchExpressionNameNotFound);
        };
        if map.len() > 1 {
            return Err(PatternError::OnlyOneKey);
        }
        let lang = self.language;
        Ok(match name.as_str() {
            "prefix" => affix(
                value,
                "prefix",
                lang,
                Matcher::Prefix,
                Matcher::PrefixIgnoreCase,
            )?,
            "suffix" => affix(
                value,
                "suffix",
                lang,
                Matcher::Suffix,
                Matcher::SuffixIgnoreCase,
            )?,
            "equals-ignore-case" => {
                Matcher::EqualsIgnoreCase(lower(string(value, "equals-ignore-case")?))
            }
            "wildcard" if lang.has_wildcard() => {
                Matcher::Wildcard(Wildcard::parse(string(value, "wildcard")?)?)
            }
            "anything-but" => Matcher::AnythingBut(self.anything_but(value)?),
            "numeric" => Matcher::Numeric(numeric(value, lang.numeric_limit())?),
            "exists" => match value {
                Value::Bool(b) => Matcher::Exists(*b),
                _ => return Err(PatternError::ExistsNotBoolean),
            },
            "cidr" => Matcher::Cidr(Cidr::parse(string(value, "cidr")?)?),
            other => return Err(PatternError::UnrecognizedMatchType(other.to_string())),
        })
    }

    fn anything_but(&self, value: &Value) -> Result<AnythingBut, PatternError> {
        match value {
            Value::String(s) => Ok(AnythingBut::Strings(vec![s.clone()])),
            Value::Number(n) => Ok(AnythingBut::Numbers(vec![n.as_f64().unwrap_or(f64::NAN)])),
            Value::Array(items) => anything_but_list(items),
            Value::Object(map) => self.anything_but_operator(map),
            _ => Err(PatternError::AnythingButValue),
        }
    }

    fn anything_but_operator(&self, map: &Map<String, Value>) -> Result<AnythingBut, PatternError> {
        let Some((name, value)) = map.iter().next() else {
            return Err(PatternError::MatchExpressionNameNotFound);
        };
        if map.len() > 1 {
            return Err(PatternError::OnlyOneKey);
        }
        let lang = self.language;
        let affix = |v: &Value| match v {
            Value::String(s) if s.is_empty() => Err(PatternError::EmptyPrefixSuffix),
            Value::String(s) => Ok(s.clone()),
            _ => Err(PatternError::MustBeString("prefix/suffix")),
        };
        match name.as_str() {
            "prefix" if lang.has_anything_but_affix() => Ok(AnythingBut::Prefix(affix(value)?)),
            "suffix" if lang.has_anything_but_affix() => Ok(AnythingBut::Suffix(affix(value)?)),
            "equals-ignore-case" if lang.has_anything_but_strings() => {
                let list = strings(value, "equals-ignore-case")?;
                Ok(AnythingBut::IgnoreCase(
                    list.into_iter().map(lower).collect(),
                ))
            }
            "wildcard" if lang.has_anything_but_strings() => {
                let list = strings(value, "wildcard")?;
                let parsed = list
                    .into_iter()
                    .map(Wildcard::parse)
                    .collect::<Result<_, _>>()?;
                Ok(AnythingBut::Wildcards(parsed))
            }
            other => Err(PatternError::UnsupportedAnythingBut(other.to_string())),
        }
    }
}

/// Whether `value` is what SNS recognizes as a `$or`: an array of at least
/// two objects, none naming an operator.
fn is_or(value: &Value) -> bool {
    let Value::Array(items) = value else {
        return false;
    };
    items.len() >= 2
        && items.iter().all(|item| {
            item.as_object()
                .is_some_and(|m| m.keys().all(|k| !RESERVED_IN_OR.contains(&k.as_str())))
        })
}

fn string<'v>(value: &'v Value, op: &'static str) -> Result<&'v str, PatternError> {
    value.as_str().ok_or(PatternError::MustBeString(op))
}

/// A string or a non-empty list of strings (inside `anything-but`).
fn strings<'v>(value: &'v Value, op: &'static str) -> Result<Vec<&'v str>, PatternError> {
    match value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().ok_or(PatternError::AnythingButStringsOnly(op)))
            .collect(),
        _ => Err(PatternError::AnythingButStringsOnly(op)),
    }
}

fn affix(
    value: &Value,
    op: &'static str,
    lang: Language,
    exact: fn(String) -> Matcher,
    ignore_case: fn(String) -> Matcher,
) -> Result<Matcher, PatternError> {
    match value {
        Value::String(s) => Ok(exact(s.clone())),
        Value::Object(map) if lang.has_ignore_case_affix() && map.len() == 1 => {
            match map.get("equals-ignore-case") {
                Some(Value::String(s)) => Ok(ignore_case(lower(s))),
                _ => Err(PatternError::MustBeString(op)),
            }
        }
        _ => Err(PatternError::MustBeString(op)),
    }
}

fn anything_but_list(items: &[Value]) -> Result<AnythingBut, PatternError> {
    let mut strings = Vec::new();
    let mut numbers = Vec::new();
    for item in items {
        match item {
            Value::String(s) => strings.push(s.clone()),
            Value::Number(n) => numbers.push(n.as_f64().unwrap_or(f64::NAN)),
            _ => return Err(PatternError::AnythingButListType),
        }
    }
    match (strings.is_empty(), numbers.is_empty()) {
        (false, true) => Ok(AnythingBut::Strings(strings)),
        (true, false) => Ok(AnythingBut::Numbers(numbers)),
        _ => Err(PatternError::AnythingButMixed),
    }
}

/// `["op", n]` or `[">"|">=", a, "<"|"<=", b]`.
fn numeric(value: &Value, limit: f64) -> Result<Range, PatternError> {
    let Value::Array(terms) = value else {
        return Err(PatternError::NumericNotArray);
    };
    let op = match terms.first() {
        Some(Value::String(op)) => op.as_str(),
        Some(other) => return Err(PatternError::NumericInvalidMember(other.to_string())),
        None => return Err(PatternError::NumericInvalidMember("]".to_string())),
    };
    let operand = |at: usize, op: &str| -> Result<f64, PatternError> {
        let name = if op == "=" { "equals" } else { op };
        let n = terms
            .get(at)
            .and_then(Value::as_f64)
            .ok_or_else(|| PatternError::NumericNotNumber(name.to_string()))?;
        if n.abs() > limit {
            return Err(PatternError::NumericOutOfRange {
                op: name.to_string(),
                limit,
            });
        }
        Ok(n)
    };
    let single = |range: Range| {
        if terms.len() > 2 {
            Err(PatternError::NumericTooManyElements)
        } else {
            Ok(range)
        }
    };
    match op {
        "=" => {
            let v = operand(1, op)?;
            single(Range {
                lower: Some((v, true)),
                upper: Some((v, true)),
            })
        }
        "<" | "<=" => {
            let v = operand(1, op)?;
            single(Range {
                lower: None,
                upper: Some((v, op == "<=")),
            })
        }
        ">" | ">=" => {
            let bottom = (operand(1, op)?, op == ">=");
            let Some(second) = terms.get(2) else {
                return Ok(Range {
                    lower: Some(bottom),
                    upper: None,
                });
            };
            let top_op = match second {
                Value::String(s) if s == "<" || s == "<=" => s.as_str(),
                Value::String(s) => return Err(PatternError::NumericBadRangeOperator(s.clone())),
                other => return Err(PatternError::NumericBadRangeValue(other.to_string())),
            };
            let top = (operand(3, top_op)?, top_op == "<=");
            if terms.len() > 4 {
                return Err(PatternError::NumericTooManyElements);
            }
            if bottom.0 >= top.0 {
                return Err(PatternError::NumericBottomNotBelowTop);
            }
            Ok(Range {
                lower: Some(bottom),
                upper: Some(top),
            })
        }
        other => Err(PatternError::NumericUnknownOperator(other.to_string())),
    }
}
