//! SNS subscription filter policies, on message attributes (the default
//! scope, a flat policy) or on the message body (JSON, nested).
//!
//! Operators: exact strings and numbers, `prefix`, `suffix`,
//! `equals-ignore-case`, `anything-but` (values, `prefix`, `suffix`),
//! `numeric`, `exists`, `cidr`, `$or`; no `wildcard`. Limits: five keys
//! (per `$or` branch), 150 value combinations (summed over branches),
//! 256 KB, numbers within ±10⁹.

use serde_json::{Map, Number, Value};

use crate::ast::{Field, Language, Node};
use crate::error::PatternError;
use crate::parse::parse;

/// The largest policy SNS accepts, in characters (256 KB).
pub const MAX_POLICY_LENGTH: usize = 256 * 1024;
/// Keys one policy branch may name.
pub const MAX_KEYS: usize = 5;
/// Value combinations a policy may have.
pub const MAX_COMBINATIONS: u64 = 150;

/// What a policy filters on (`FilterPolicyScope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilterPolicyScope {
    /// Message attributes (the default).
    #[default]
    MessageAttributes,
    /// The message body, parsed as JSON.
    MessageBody,
}

impl FilterPolicyScope {
    /// The attribute value SNS uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageAttributes => "MessageAttributes",
            Self::MessageBody => "MessageBody",
        }
    }

    /// Parses `FilterPolicyScope`; `None` for anything else (SNS answers
    /// `InvalidParameter` "FilterPolicyScope: Invalid value [..]. Please use
    /// either MessageBody or MessageAttributes").
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "MessageAttributes" => Some(Self::MessageAttributes),
            "MessageBody" => Some(Self::MessageBody),
            _ => None,
        }
    }

    fn language(self) -> Language {
        Language::Sns {
            nested: self == Self::MessageBody,
        }
    }
}

/// A parsed, checked filter policy.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPolicy {
    root: Option<Node>,
    scope: FilterPolicyScope,
}

impl FilterPolicy {
    /// Parses a policy for `scope`; the error's
    /// [`sns_message`](PatternError::sns_message) is SNS's `InvalidParameter`
    /// message. `{}` is a policy that accepts every message.
    pub fn parse(text: &str, scope: FilterPolicyScope) -> Result<Self, PatternError> {
        if text.chars().count() > MAX_POLICY_LENGTH {
            return Err(PatternError::TooLarge {
                max: MAX_POLICY_LENGTH,
            });
        }
        if serde_json::from_str::<Value>(text)
            .is_ok_and(|v| v.as_object().is_some_and(Map::is_empty))
        {
            return Ok(Self { root: None, scope });
        }
        let root = parse(text, scope.language(), MAX_POLICY_LENGTH)?;
        check_complexity(&root)?;
        Ok(Self {
            root: Some(root),
            scope,
        })
    }

    /// The scope the policy was parsed for.
    pub fn scope(&self) -> FilterPolicyScope {
        self.scope
    }

    /// Whether a message passes, by the policy's scope: its attributes, or
    /// its body (a body that is not JSON matches no body policy).
    pub fn matches_message(&self, attributes: &MessageAttributes, body: &str) -> bool {
        match self.scope {
            FilterPolicyScope::MessageAttributes => self.matches_attributes(attributes),
            FilterPolicyScope::MessageBody => {
                self.root.is_none()
                    || serde_json::from_str::<Value>(body).is_ok_and(|v| self.matches_body(&v))
            }
        }
    }

    /// Whether these attributes pass an attribute-scope policy.
    pub fn matches_attributes(&self, attributes: &MessageAttributes) -> bool {
        self.root
            .as_ref()
            .is_none_or(|root| root.matches(&Some(&attributes.values), self.scope.language()))
    }

    /// Whether this parsed body passes a body-scope policy; a body that is
    /// not a JSON object matches only policies that allow absence.
    pub fn matches_body(&self, body: &Value) -> bool {
        self.root
            .as_ref()
            .is_none_or(|root| root.matches(&body.as_object(), self.scope.language()))
    }
}

/// A message's attributes as a policy sees them, built once per message and
/// matched against every subscription's policy: `String` values are
/// strings, `Number` values numbers, `String.Array` values arrays, `Binary`
/// values absent (SNS ignores them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageAttributes {
    values: Map<String, Value>,
}

impl MessageAttributes {
    /// No attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds attribute `name` of SNS data type `data_type` (`String`,
    /// `Number`, `String.Array`, `Binary`, each with an optional
    /// `.custom` suffix) whose string value is `value`.
    pub fn insert(&mut self, name: &str, data_type: &str, value: &str) {
        let base = data_type.split('.').next().unwrap_or(data_type);
        let parsed = if data_type == "String.Array" {
            match serde_json::from_str::<Value>(value) {
                Ok(array @ Value::Array(_)) => array,
                _ => Value::String(value.to_string()),
            }
        } else if base == "Number" {
            value
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map_or_else(|| Value::String(value.to_string()), Value::Number)
        } else if base == "String" {
            Value::String(value.to_string())
        } else {
            return;
        };
        self.values.insert(name.to_string(), parsed);
    }
}

impl<'a> FromIterator<(&'a str, &'a str, &'a str)> for MessageAttributes {
    /// Builds from `(name, data_type, value)` triples.
    fn from_iter<I: IntoIterator<Item = (&'a str, &'a str, &'a str)>>(iter: I) -> Self {
        let mut attributes = Self::new();
        for (name, data_type, value) in iter {
            attributes.insert(name, data_type, value);
        }
        attributes
    }
}

/// A branch of a policy once its `$or`s are expanded: keys named and value
/// combinations.
#[derive(Clone, Copy)]
struct Branch {
    keys: usize,
    combinations: u64,
}

/// How many branches expansion may produce before the policy is too complex.
const MAX_BRANCHES: usize = 1024;

fn check_complexity(root: &Node) -> Result<(), PatternError> {
    let branches = expand(root)?;
    if branches.iter().any(|b| b.keys > MAX_KEYS) {
        return Err(PatternError::TooManyKeys { max: MAX_KEYS });
    }
    let total = branches
        .iter()
        .fold(0u64, |sum, b| sum.saturating_add(b.combinations));
    if total > MAX_COMBINATIONS {
        return Err(PatternError::TooComplex);
    }
    Ok(())
}

fn expand(node: &Node) -> Result<Vec<Branch>, PatternError> {
    let mut branches = vec![Branch {
        keys: 0,
        combinations: 1,
    }];
    for (_, field) in &node.fields {
        match field {
            Field::Leaf(values) => {
                for b in &mut branches {
                    b.keys += 1;
                    b.combinations = b.combinations.saturating_mul(values.len() as u64);
                }
            }
            Field::Nested(inner) => branches = cross(&branches, &expand(inner)?)?,
        }
    }
    for group in &node.ors {
        let mut alternatives = Vec::new();
        for alternative in group {
            alternatives.extend(expand(alternative)?);
        }
        branches = cross(&branches, &alternatives)?;
    }
    Ok(branches)
}

fn cross(left: &[Branch], right: &[Branch]) -> Result<Vec<Branch>, PatternError> {
    if left.len().saturating_mul(right.len()) > MAX_BRANCHES {
        return Err(PatternError::TooComplex);
    }
    Ok(left
        .iter()
        .flat_map(|l| {
            right.iter().map(move |r| Branch {
                keys: l.keys + r.keys,
                combinations: l.combinations.saturating_mul(r.combinations),
            })
        })
        .collect())
}
