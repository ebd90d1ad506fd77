//! Matching a parsed [`Node`] against JSON, without allocating.
//!
//! The rules every language shares:
//! - every field of a node must match, and every `$or` group must have an
//!   alternative that matches the same object;
//! - a leaf field's values are the field's scalar, or the scalars of an
//!   array (nested arrays flattened); a leaf list matches if any matcher
//!   matches any value;
//! - an object or an array of objects is not a leaf: value matchers never
//!   match it and `exists: false` does; a missing field or `[]` has no
//!   values, so only `exists: false` matches it;
//! - a nested node on an array of objects matches if one element matches
//!   the whole node; on a missing field (or a scalar) it is matched against
//!   nothing, which only `exists: false` leaves satisfy.

use std::fmt::{self, Write as _};

use serde_json::{Map, Number, Value};

use crate::ast::{AnythingBut, Field, Language, Matcher, Node};
use crate::text::{ends_with_ignore_case, eq_ignore_case, starts_with_ignore_case};

/// Where a node finds its fields: a JSON object, or a record whose data
/// field is replaced (Lambda's parsed `body`).
pub(crate) trait Lookup {
    /// The value of field `key`, if present.
    fn field(&self, key: &str) -> Option<&Value>;
}

impl Lookup for Option<&Map<String, Value>> {
    fn field(&self, key: &str) -> Option<&Value> {
        self.and_then(|m| m.get(key))
    }
}

/// A record seen with one top-level field replaced (or hidden).
pub(crate) struct Replaced<'a> {
    /// The record's own fields.
    pub base: Option<&'a Map<String, Value>>,
    /// The field that is replaced.
    pub key: &'a str,
    /// Its replacement (`None` hides it).
    pub value: Option<&'a Value>,
}

impl Lookup for Replaced<'_> {
    fn field(&self, key: &str) -> Option<&Value> {
        if key == self.key {
            self.value
        } else {
            self.base.and_then(|m| m.get(key))
        }
    }
}

impl Node {
    /// Whether the object seen through `obj` matches this node.
    pub(crate) fn matches<L: Lookup>(&self, obj: &L, lang: Language) -> bool {
        self.fields
            .iter()
            .all(|(key, field)| field_matches(field, obj.field(key), lang))
            && self
                .ors
                .iter()
                .all(|alternatives| alternatives.iter().any(|n| n.matches(obj, lang)))
    }

    /// Whether any field at this level or inside `$or` at this level is
    /// named `key` (Lambda asks whether a filter looks at the data field).
    pub(crate) fn mentions(&self, key: &str) -> bool {
        self.fields.iter().any(|(k, _)| k == key)
            || self.ors.iter().flatten().any(|n| n.mentions(key))
    }
}

fn field_matches(field: &Field, value: Option<&Value>, lang: Language) -> bool {
    match field {
        Field::Leaf(matchers) => leaf_matches(matchers, value, lang),
        Field::Nested(node) => match value {
            Some(Value::Object(map)) => node.matches(&Some(map), lang),
            Some(Value::Array(items)) if has_object(items) => any_object(items, node, lang),
            _ => node.matches(&None, lang),
        },
    }
}

fn has_object(items: &[Value]) -> bool {
    items.iter().any(|i| match i {
        Value::Object(_) => true,
        Value::Array(inner) => has_object(inner),
        _ => false,
    })
}

fn any_object(items: &[Value], node: &Node, lang: Language) -> bool {
    items.iter().any(|i| match i {
        Value::Object(map) => node.matches(&Some(map), lang),
        Value::Array(inner) => any_object(inner, node, lang),
        _ => false,
    })
}

/// Calls `f` on each leaf scalar of `value` until it returns true.
fn any_scalar(value: Option<&Value>, f: &mut impl FnMut(&Value) -> bool) -> bool {
    match value {
        None | Some(Value::Object(_)) => false,
        Some(Value::Array(items)) => items.iter().any(|i| any_scalar(Some(i), f)),
        Some(scalar) => f(scalar),
    }
}

fn leaf_matches(matchers: &[Matcher], value: Option<&Value>, lang: Language) -> bool {
    let present = || any_scalar(value, &mut |_| true);
    matchers.iter().any(|m| match m {
        Matcher::Exists(want) => *want == present(),
        Matcher::AnythingBut(ab)
            if lang.anything_but_every_element() && matches!(value, Some(Value::Array(_))) =>
        {
            present() && !any_scalar(value, &mut |v| !anything_but(ab, v))
        }
        _ => any_scalar(value, &mut |v| scalar_matches(m, v, lang)),
    })
}

fn scalar_matches(m: &Matcher, v: &Value, lang: Language) -> bool {
    match (m, v) {
        (Matcher::String(s), Value::String(x)) => s == x,
        (Matcher::Ip(s, ip), Value::String(x)) => {
            s == x || x.parse().is_ok_and(|a: std::net::IpAddr| a == *ip)
        }
        (Matcher::Number(n, text), Value::Number(x)) => {
            if lang.numbers_as_text() {
                number_text_is(x, text)
            } else {
                x.as_f64() == Some(*n)
            }
        }
        (Matcher::Bool(b), Value::Bool(x)) => b == x,
        (Matcher::Null, Value::Null) => true,
        (Matcher::Prefix(p), Value::String(x)) => x.starts_with(p.as_str()),
        (Matcher::PrefixIgnoreCase(p), Value::String(x)) => starts_with_ignore_case(x, p),
        (Matcher::Suffix(p), Value::String(x)) => x.ends_with(p.as_str()),
        (Matcher::SuffixIgnoreCase(p), Value::String(x)) => ends_with_ignore_case(x, p),
        (Matcher::EqualsIgnoreCase(p), Value::String(x)) => eq_ignore_case(x, p),
        (Matcher::Wildcard(w), Value::String(x)) => w.matches(x),
        (Matcher::AnythingBut(ab), v) => anything_but(ab, v),
        (Matcher::Numeric(r), Value::Number(x)) => x.as_f64().is_some_and(|f| r.contains(f)),
        (Matcher::Cidr(c), Value::String(x)) => c.contains_str(x),
        _ => false,
    }
}

/// Whether `x` is written `text` (Lambda compares numbers as text), formatted
/// on the stack: serde_json writes any number in under 32 bytes.
fn number_text_is(x: &Number, text: &str) -> bool {
    let mut buf = StackText {
        bytes: [0; 32],
        len: 0,
    };
    if write!(buf, "{x}").is_err() {
        return x.to_string() == text;
    }
    buf.bytes[..buf.len] == *text.as_bytes()
}

struct StackText {
    bytes: [u8; 32],
    len: usize,
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Whether `v` is not excluded. Exclusions only exclude values of their own
/// type: a number is never excluded by a string, a string never by a
/// number, `null` and booleans by nothing (as EventBridge's matcher does).
fn anything_but(ab: &AnythingBut, v: &Value) -> bool {
    match (ab, v) {
        (AnythingBut::Numbers(list), Value::Number(x)) => {
            x.as_f64().is_some_and(|f| !list.contains(&f))
        }
        (AnythingBut::Strings(list), Value::String(x)) => !list.iter().any(|s| s == x),
        (AnythingBut::Prefix(p), Value::String(x)) => !x.starts_with(p.as_str()),
        (AnythingBut::Suffix(p), Value::String(x)) => !x.ends_with(p.as_str()),
        (AnythingBut::IgnoreCase(list), Value::String(x)) => {
            !list.iter().any(|s| eq_ignore_case(x, s))
        }
        (AnythingBut::Wildcards(list), Value::String(x)) => !list.iter().any(|w| w.matches(x)),
        _ => true,
    }
}
