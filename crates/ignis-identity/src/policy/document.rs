//! Policy documents: parsed from JSON text as IAM reads them, with IAM's
//! `MalformedPolicyDocument` messages for what it refuses.

use serde_json::{Map, Value};

use super::condition::Operator;
use super::PolicyError;

/// Where a document is used; each use requires or forbids elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to a user or role (inline or managed): no `Principal`.
    Identity,
    /// On a resource (a function's policy, later queues', topics',
    /// buckets'): `Principal` required.
    Resource,
    /// A role's trust policy: `Principal` required, no `Resource`.
    Trust,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses, whatever else grants.
    Deny,
}

/// The principals a statement names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principals {
    /// `"*"`: everyone, including anonymous callers.
    Any,
    /// `{"AWS": …, "Service": …, "Federated": …, "CanonicalUser": …}`.
    Named(Vec<(PrincipalType, Vec<String>)>),
}

/// The kinds of principal a statement can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalType {
    /// Accounts, users, roles, sessions (`"AWS"`).
    Aws,
    /// Service principals (`"Service"`).
    Service,
    /// Identity providers (`"Federated"`); Ignis has none, so never matched.
    Federated,
    /// S3 canonical user ids; never matched.
    CanonicalUser,
}

/// A list of patterns, or all but a list (`NotAction`, `NotResource`,
/// `NotPrincipal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher<T> {
    /// What the statement applies to.
    Only(T),
    /// What it does not apply to.
    AllBut(T),
}

/// One key of a statement's `Condition`, under one operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionClause {
    /// The operator with its prefix and suffix.
    pub operator: Operator,
    /// The condition key, as written (compared case-insensitively).
    pub key: String,
    /// The values, any of which may match.
    pub values: Vec<String>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `Sid`.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Principal` / `NotPrincipal`; `None` in identity policies.
    pub principal: Option<Matcher<Principals>>,
    /// `Action` / `NotAction`.
    pub action: Matcher<Vec<String>>,
    /// `Resource` / `NotResource`; `None` in trust policies.
    pub resource: Option<Matcher<Vec<String>>>,
    /// `Condition`, every clause of which must hold.
    pub condition: Vec<ConditionClause>,
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    /// `Version`: `2012-10-17` (policy variables work), `2008-10-17`, or none.
    pub version: Option<String>,
    /// `Id`.
    pub id: Option<String>,
    /// The statements, in document order.
    pub statements: Vec<Statement>,
}

fn malformed(message: impl Into<String>) -> PolicyError {
    PolicyError::Malformed(message.into())
}

fn syntax() -> PolicyError {
    malformed("Syntax errors in policy.")
}

impl PolicyDocument {
    /// Parses a document for `kind`, refusing what IAM refuses.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        let value: Value = serde_json::from_str(text).map_err(|_| syntax())?;
        let Value::Object(top) = value else {
            return Err(syntax());
        };
        for key in top.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(syntax());
            }
        }
        let version = optional_string(&top, "Version")?;
        if let Some(v) = &version {
            if v != "2012-10-17" && v != "2008-10-17" {
                return Err(malformed("The policy failed legacy parsing"));
            }
        }
        let statements = match top.get("Statement") {
            Some(Value::Array(items)) if !items.is_empty() => items.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            None => return Err(malformed("Missing required field Statement")),
            Some(_) => return Err(syntax()),
        };
        let statements = statements
            .into_iter()
            .map(|s| parse_statement(s, kind))
            .collect::<Result<Vec<_>, _>>()?;
        let mut sids: Vec<&str> = statements.iter().filter_map(|s| s.sid.as_deref()).collect();
        sids.sort_unstable();
        if sids.windows(2).any(|w| w[0] == w[1]) {
            return Err(malformed(
                "Statement IDs (SID) in a single policy must be unique.",
            ));
        }
        Ok(Self {
            version,
            id: optional_string(&top, "Id")?,
            statements,
        })
    }

    /// Whether policy variables (`${aws:username}`) are substituted:
    /// only in documents of version `2012-10-17`.
    pub fn uses_variables(&self) -> bool {
        self.version.as_deref() == Some("2012-10-17")
    }
}

fn optional_string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, PolicyError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(syntax()),
    }
}

/// A string or a non-empty list of strings.
fn strings(value: &Value) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(syntax))
            .collect(),
        _ => Err(syntax()),
    }
}

/// Exactly one of `name` and `Not<name>`, or neither.
fn either<'a>(
    map: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<Matcher<&'a Value>>, PolicyError> {
    match (map.get(name), map.get(&format!("Not{name}"))) {
        (Some(_), Some(_)) => Err(syntax()),
        (Some(v), None) => Ok(Some(Matcher::Only(v))),
        (None, Some(v)) => Ok(Some(Matcher::AllBut(v))),
        (None, None) => Ok(None),
    }
}

fn map_matcher<T>(
    m: Matcher<&Value>,
    f: impl Fn(&Value) -> Result<T, PolicyError>,
) -> Result<Matcher<T>, PolicyError> {
    Ok(match m {
        Matcher::Only(v) => Matcher::Only(f(v)?),
        Matcher::AllBut(v) => Matcher::AllBut(f(v)?),
    })
}

fn parse_statement(value: &Value, kind: PolicyKind) -> Result<Statement, PolicyError> {
    let Value::Object(map) = value else {
        return Err(syntax());
    };
    for key in map.keys() {
        let known = matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        );
        if !known {
            return Err(syntax());
        }
    }
    let effect = match map.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(Value::String(e)) => return Err(malformed(format!("Invalid effect: {e}"))),
        Some(_) => return Err(syntax()),
        None => return Err(malformed("Missing required field Effect")),
    };
    let principal = either(map, "Principal")?
        .map(|m| map_matcher(m, parse_principals))
        .transpose()?;
    match (kind, &principal) {
        (PolicyKind::Identity, Some(_)) => {
            return Err(malformed("Policy document should not specify a principal."))
        }
        (PolicyKind::Resource | PolicyKind::Trust, None) => {
            return Err(malformed("Missing required field Principal"))
        }
        _ => {}
    }
    let action = either(map, "Action")?
        .ok_or_else(|| malformed("Policy statement must contain actions."))?;
    let action = map_matcher(action, |v| {
        let actions = strings(v)?;
        actions.iter().try_for_each(|a| check_action(a))?;
        Ok(actions)
    })?;
    let resource = either(map, "Resource")?
        .map(|m| {
            map_matcher(m, |v| {
                let resources = strings(v)?;
                resources.iter().try_for_each(|r| check_resource(r))?;
                Ok(resources)
            })
        })
        .transpose()?;
    match (kind, &resource) {
        (PolicyKind::Trust, Some(_)) => return Err(malformed("Has prohibited field Resource")),
        (PolicyKind::Identity | PolicyKind::Resource, None) => {
            return Err(malformed("Policy statement must contain resources."))
        }
        _ => {}
    }
    Ok(Statement {
        sid: optional_string(map, "Sid")?,
        effect,
        principal,
        action,
        resource,
        condition: match map.get("Condition") {
            None => Vec::new(),
            Some(c) => parse_condition(c)?,
        },
    })
}

fn check_action(action: &str) -> Result<(), PolicyError> {
    if action == "*" {
        return Ok(());
    }
    match action.matches(':').count() {
        0 => Err(malformed(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        )),
        1 if !action.starts_with(':') => Ok(()),
        1 => Err(malformed(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        )),
        _ => Err(malformed("Actions/Condition can contain only one colon.")),
    }
}

fn check_resource(resource: &str) -> Result<(), PolicyError> {
    if resource == "*" || resource.starts_with("arn:") {
        return Ok(());
    }
    Err(malformed(format!(
        "Resource {resource} must be in ARN format or \"*\"."
    )))
}

fn parse_principals(value: &Value) -> Result<Principals, PolicyError> {
    match value {
        Value::String(s) if s == "*" => Ok(Principals::Any),
        Value::Object(kinds) if !kinds.is_empty() => kinds
            .iter()
            .map(|(kind, v)| {
                let kind = match kind.as_str() {
                    "AWS" => PrincipalType::Aws,
                    "Service" => PrincipalType::Service,
                    "Federated" => PrincipalType::Federated,
                    "CanonicalUser" => PrincipalType::CanonicalUser,
                    _ => return Err(malformed("Invalid principal in policy")),
                };
                Ok((kind, strings(v)?))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Principals::Named),
        _ => Err(malformed("Invalid principal in policy")),
    }
}

fn condition_value(value: &Value) -> Result<String, PolicyError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(syntax()),
    }
}

fn parse_condition(value: &Value) -> Result<Vec<ConditionClause>, PolicyError> {
    let Value::Object(operators) = value else {
        return Err(syntax());
    };
    let mut clauses = Vec::new();
    for (name, keys) in operators {
        let operator = Operator::parse(name)
            .ok_or_else(|| malformed(format!("Invalid Condition type : {name}")))?;
        let Value::Object(keys) = keys else {
            return Err(syntax());
        };
        for (key, values) in keys {
            let values = match values {
                Value::Array(items) if !items.is_empty() => items
                    .iter()
                    .map(condition_value)
                    .collect::<Result<_, _>>()?,
                Value::Array(_) => return Err(syntax()),
                one => vec![condition_value(one)?],
            };
            clauses.push(ConditionClause {
                operator,
                key: key.clone(),
                values,
            });
        }
    }
    Ok(clauses)
}
