//! Resource-based policies: the documents AddPermission, PutResourcePolicy
//! and AddLayerVersionPermission build and GetPolicy returns, the statement
//! builders that turn those requests into Lambda's statements, and the
//! checks Lambda's model makes on their members. Pure data: the store keeps
//! a [`StoredPolicy`] per function, qualifier or layer version; the identity
//! work evaluates [`PolicyDocument`]s.
//!
//! Lambda renders a statement with its members in one order (`Sid`,
//! `Effect`, `Principal`, `Action`, `Resource`, `Condition`) and its
//! conditions in the order it adds them (`StringEquals` before `ArnLike`),
//! so the types keep order where a map would sort it.

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::{ErrorKind, LambdaError};

/// Largest policy document Lambda keeps, bytes (a function's, a version's,
/// an alias's or a layer version's).
pub const POLICY_MAX_BYTES: usize = 20_480;
/// The policy language version Lambda writes.
pub const POLICY_VERSION: &str = "2012-10-17";
/// The `Id` Lambda gives the documents it builds.
pub const POLICY_ID: &str = "default";

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses, whatever else grants.
    Deny,
}

/// One string or a list of them, as the policy language allows for
/// `Action`, `Resource` and principals; one is written as a plain string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOrMany(pub Vec<String>);

impl OneOrMany {
    /// A single value.
    pub fn one(value: impl Into<String>) -> Self {
        Self(vec![value.into()])
    }
}

impl Serialize for OneOrMany {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        match Raw::deserialize(d)? {
            Raw::One(one) => Ok(Self(vec![one])),
            Raw::Many(many) if many.is_empty() => {
                Err(de::Error::custom("a list of values must not be empty"))
            }
            Raw::Many(many) => Ok(Self(many)),
        }
    }
}

/// Who a statement applies to: everyone (`"*"`), or principals by kind
/// (`AWS`, `Service`, `Federated`, `CanonicalUser`), in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `"*"`.
    Any,
    /// `{"AWS": …, "Service": …}`.
    Named(Vec<(String, OneOrMany)>),
}

impl Principal {
    /// `{"<kind>": "<value>"}`.
    pub fn named(kind: &str, value: impl Into<String>) -> Self {
        Self::Named(vec![(kind.to_string(), OneOrMany::one(value))])
    }
}

impl Serialize for Principal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Any => s.serialize_str("*"),
            Self::Named(kinds) => serialize_pairs(s, kinds),
        }
    }
}

impl<'de> Deserialize<'de> for Principal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Star(String),
            Named(Ordered<OneOrMany>),
        }
        match Raw::deserialize(d)? {
            Raw::Star(s) if s == "*" => Ok(Self::Any),
            Raw::Star(s) => Err(de::Error::custom(format!(
                "Principal must be \"*\" or an object of principals, not \"{s}\""
            ))),
            Raw::Named(Ordered(kinds)) if kinds.is_empty() => Err(de::Error::custom(
                "Principal must name at least one principal",
            )),
            Raw::Named(Ordered(kinds)) => Ok(Self::Named(kinds)),
        }
    }
}

/// A statement's `Condition`: operators (`StringEquals`, `ArnLike`, …),
/// each with its keys and values, in document order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Condition(pub Vec<(String, Vec<(String, Value)>)>);

impl Condition {
    /// Adds `key: value` under `operator`, after what is there.
    pub fn push(&mut self, operator: &str, key: &str, value: &str) {
        let value = Value::String(value.to_string());
        match self.0.iter_mut().find(|(op, _)| op == operator) {
            Some((_, keys)) => keys.push((key.to_string(), value)),
            None => self
                .0
                .push((operator.to_string(), vec![(key.to_string(), value)])),
        }
    }

    /// Whether there is no condition at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (operator, keys) in &self.0 {
            map.serialize_entry(operator, &Pairs(keys))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Ordered(operators) = Ordered::<Ordered<Value>>::deserialize(d)?;
        Ok(Self(
            operators
                .into_iter()
                .map(|(operator, Ordered(keys))| (operator, keys))
                .collect(),
        ))
    }
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// The statement id, unique within its document.
    #[serde(rename = "Sid", default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Allow or Deny.
    #[serde(rename = "Effect")]
    pub effect: Effect,
    /// Who it applies to.
    #[serde(rename = "Principal")]
    pub principal: Principal,
    /// The actions (`lambda:InvokeFunction`, `lambda:*`, `*`).
    #[serde(rename = "Action")]
    pub action: OneOrMany,
    /// The resources (the function's, a version's or an alias's ARN).
    #[serde(rename = "Resource")]
    pub resource: OneOrMany,
    /// When it applies.
    #[serde(
        rename = "Condition",
        default,
        skip_serializing_if = "Condition::is_empty"
    )]
    pub condition: Condition,
}

/// A policy document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// The policy language version.
    #[serde(rename = "Version", default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The document's id (`default` for the ones Lambda builds).
    #[serde(rename = "Id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The statements, in the order they were added.
    #[serde(rename = "Statement", deserialize_with = "statements")]
    pub statements: Vec<Statement>,
}

/// `Statement` may be one object or a list of them. Parsed through a
/// value so a malformed statement says what is wrong with it (an untagged
/// enum would hide that).
fn statements<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Statement>, D::Error> {
    let statements = match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<Vec<Statement>, _>>(),
        one => serde_json::from_value(one).map(|s| vec![s]),
    };
    statements.map_err(de::Error::custom)
}

impl PolicyDocument {
    /// An empty document as Lambda starts one.
    pub fn new() -> Self {
        Self {
            version: Some(POLICY_VERSION.to_string()),
            id: Some(POLICY_ID.to_string()),
            statements: Vec::new(),
        }
    }

    /// Parses a document as PutResourcePolicy receives it; the message says
    /// what is wrong (`InvalidParameterValueException`).
    pub fn parse(text: &str) -> Result<Self, LambdaError> {
        let doc: Self = serde_json::from_str(text).map_err(|e| {
            LambdaError::invalid(format!("The policy is not a valid policy document: {e}"))
        })?;
        if doc.statements.is_empty() {
            return Err(LambdaError::invalid(
                "The policy is not a valid policy document: it has no statement",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for sid in doc.statements.iter().filter_map(|s| s.sid.as_deref()) {
            if !seen.insert(sid) {
                return Err(LambdaError::invalid(format!(
                    "The policy is not a valid policy document: the statement id ({sid}) appears more than once"
                )));
            }
        }
        Ok(doc)
    }

    /// The statement with id `sid`.
    pub fn statement(&self, sid: &str) -> Option<&Statement> {
        self.statements
            .iter()
            .find(|s| s.sid.as_deref() == Some(sid))
    }

    /// Adds `statement`; `ResourceConflictException` if its id is taken.
    pub fn add(&mut self, statement: Statement) -> Result<(), LambdaError> {
        if let Some(sid) = statement.sid.as_deref() {
            if self.statement(sid).is_some() {
                return Err(LambdaError::new(
                    ErrorKind::ResourceConflict,
                    format!("The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."),
                ));
            }
        }
        self.statements.push(statement);
        Ok(())
    }

    /// Removes the statement with id `sid`; `ResourceNotFoundException` if
    /// there is none.
    pub fn remove(&mut self, sid: &str) -> Result<(), LambdaError> {
        let before = self.statements.len();
        self.statements.retain(|s| s.sid.as_deref() != Some(sid));
        if self.statements.len() == before {
            return Err(LambdaError::new(
                ErrorKind::ResourceNotFound,
                format!("Statement {sid} is not found in resource policy."),
            ));
        }
        Ok(())
    }

    /// The document as Lambda writes it: compact JSON.
    pub fn render(&self) -> String {
        serde_json::to_string(self).expect("a policy document always serializes")
    }
}

impl Default for PolicyDocument {
    fn default() -> Self {
        Self::new()
    }
}

/// `PolicyLengthExceededException` if `policy` is over [`POLICY_MAX_BYTES`].
pub fn check_size(policy: &str) -> Result<(), LambdaError> {
    if policy.len() > POLICY_MAX_BYTES {
        return Err(LambdaError::new(
            ErrorKind::PolicyLengthExceeded,
            format!(
                "The final policy size ({}) is bigger than the limit ({POLICY_MAX_BYTES}).",
                policy.len()
            ),
        ));
    }
    Ok(())
}

/// A policy as the store keeps it: the document exactly as it was last
/// written (by PutResourcePolicy, or rendered after an AddPermission /
/// RemovePermission) and its revision, new on every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPolicy {
    /// The revision; a `RevisionId` precondition compares with it.
    pub revision_id: String,
    /// The document's text.
    pub policy: String,
}

impl StoredPolicy {
    /// Decodes a stored setting (`None` if it is not one; the store holds
    /// only what this module wrote).
    pub fn decode(stored: &str) -> Option<Self> {
        serde_json::from_str(stored).ok()
    }

    /// Encodes it for the store.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a stored policy always serializes")
    }

    /// The document, parsed.
    pub fn document(&self) -> Result<PolicyDocument, LambdaError> {
        serde_json::from_str(&self.policy).map_err(|e| {
            LambdaError::new(
                ErrorKind::Service,
                format!("the stored policy could not be read: {e}"),
            )
        })
    }
}

/// `PreconditionFailedException` unless `given` (if any) is `current`.
pub fn check_revision(given: Option<&str>, current: Option<&str>) -> Result<(), LambdaError> {
    match given {
        Some(g) if Some(g) != current => Err(LambdaError::new(
            ErrorKind::PreconditionFailed,
            "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id",
        )),
        _ => Ok(()),
    }
}

/// AddPermission's body, member for member as botocore sends it
/// (`Qualifier` travels in the query string).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddPermissionRequest {
    /// The statement id.
    #[serde(rename = "StatementId")]
    pub statement_id: String,
    /// The action granted.
    #[serde(rename = "Action")]
    pub action: String,
    /// Who is granted.
    #[serde(rename = "Principal")]
    pub principal: String,
    /// The invoking resource's ARN (`ArnLike` condition).
    #[serde(rename = "SourceArn")]
    pub source_arn: Option<String>,
    /// The invoking resource's account.
    #[serde(rename = "SourceAccount")]
    pub source_account: Option<String>,
    /// Alexa Smart Home's token.
    #[serde(rename = "EventSourceToken")]
    pub event_source_token: Option<String>,
    /// Only when the policy's revision is still this one.
    #[serde(rename = "RevisionId")]
    pub revision_id: Option<String>,
    /// The organization whose accounts are granted.
    #[serde(rename = "PrincipalOrgID")]
    pub principal_org_id: Option<String>,
    /// `NONE` or `AWS_IAM`, for function URL invocations.
    #[serde(rename = "FunctionUrlAuthType")]
    pub function_url_auth_type: Option<String>,
    /// Whether the grant holds only for invocations through the function URL.
    #[serde(rename = "InvokedViaFunctionUrl")]
    pub invoked_via_function_url: Option<bool>,
}

/// AddLayerVersionPermission's body (`RevisionId` travels in the query).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddLayerVersionPermissionRequest {
    /// The statement id.
    #[serde(rename = "StatementId")]
    pub statement_id: String,
    /// `lambda:GetLayerVersion`.
    #[serde(rename = "Action")]
    pub action: String,
    /// An account id, its root ARN, or `*`.
    #[serde(rename = "Principal")]
    pub principal: String,
    /// With `*`: the organization whose accounts are granted.
    #[serde(rename = "OrganizationId")]
    pub organization_id: Option<String>,
}

/// PutResourcePolicy's body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutResourcePolicyRequest {
    /// The document, as a JSON string.
    #[serde(rename = "Policy")]
    pub policy: String,
    /// Only when the policy's revision is still this one.
    #[serde(rename = "RevisionId")]
    pub revision_id: Option<String>,
}

/// The statement AddPermission adds for `req` on `resource` (the
/// function's, version's or alias's ARN), checked as Lambda checks it.
pub fn function_statement(
    req: &AddPermissionRequest,
    resource: &str,
) -> Result<Statement, LambdaError> {
    check_statement_id(&req.statement_id, "statementId")?;
    check_action(&req.action)?;
    let principal = function_principal(&req.principal)?;
    let mut condition = Condition::default();
    if let Some(account) = &req.source_account {
        check_member(account, "sourceAccount", "\\d{12}", is_account)?;
        condition.push("StringEquals", "AWS:SourceAccount", account);
    }
    if let Some(org) = &req.principal_org_id {
        check_member(org, "principalOrgID", "o-[a-z0-9]{10,32}", is_org_id)?;
        condition.push("StringEquals", "aws:PrincipalOrgID", org);
    }
    if let Some(token) = &req.event_source_token {
        check_member(token, "eventSourceToken", "[a-zA-Z0-9._\\-]+", |t| {
            !t.is_empty()
                && t.len() <= 256
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })?;
        condition.push("StringEquals", "lambda:EventSourceToken", token);
    }
    if let Some(auth) = &req.function_url_auth_type {
        if auth != "NONE" && auth != "AWS_IAM" {
            return Err(validation(format!(
                "Value '{auth}' at 'functionUrlAuthType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]"
            )));
        }
        condition.push("StringEquals", "lambda:FunctionUrlAuthType", auth);
    }
    if let Some(arn) = &req.source_arn {
        check_member(
            arn,
            "sourceArn",
            "arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)",
            is_arn,
        )?;
        condition.push("ArnLike", "AWS:SourceArn", arn);
    }
    if req.invoked_via_function_url == Some(true) {
        condition.push("Bool", "lambda:InvokedViaFunctionUrl", "true");
    }
    Ok(Statement {
        sid: Some(req.statement_id.clone()),
        effect: Effect::Allow,
        principal,
        action: OneOrMany::one(req.action.clone()),
        resource: OneOrMany::one(resource),
        condition,
    })
}

/// The statement AddLayerVersionPermission adds for `req` on `resource`
/// (the layer version's ARN).
pub fn layer_statement(
    req: &AddLayerVersionPermissionRequest,
    resource: &str,
) -> Result<Statement, LambdaError> {
    check_statement_id(&req.statement_id, "statementId")?;
    if req.action != "lambda:GetLayerVersion" {
        return Err(validation(format!(
            "Value '{}' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: lambda:GetLayerVersion",
            req.action
        )));
    }
    let p = req.principal.as_str();
    let principal = if p == "*" {
        Principal::Any
    } else if is_account(p) {
        Principal::named("AWS", format!("arn:aws:iam::{p}:root"))
    } else if is_root_arn(p) {
        Principal::named("AWS", p)
    } else {
        return Err(validation(format!(
            "Value '{p}' at 'principal' failed to satisfy constraint: Member must satisfy regular expression pattern: \\d{{12}}|\\*|arn:(aws[a-zA-Z-]*):iam::\\d{{12}}:root"
        )));
    };
    let mut condition = Condition::default();
    if let Some(org) = &req.organization_id {
        check_member(org, "organizationId", "o-[a-z0-9]{10,32}", is_org_id)?;
        if principal != Principal::Any {
            return Err(LambdaError::invalid(
                "OrganizationId can only be specified with the principal '*'",
            ));
        }
        condition.push("StringEquals", "aws:PrincipalOrgID", org);
    }
    Ok(Statement {
        sid: Some(req.statement_id.clone()),
        effect: Effect::Allow,
        principal,
        action: OneOrMany::one(req.action.clone()),
        resource: OneOrMany::one(resource),
        condition,
    })
}

/// AddPermission's principal as Lambda writes it: `*`, an account (its
/// root), an ARN, or a service (anything domain-shaped).
fn function_principal(p: &str) -> Result<Principal, LambdaError> {
    if p.is_empty() || p.len() > 2048 || p.chars().any(char::is_whitespace) {
        return Err(validation(format!(
            "Value '{p}' at 'principal' failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\s]+"
        )));
    }
    if p == "*" {
        Ok(Principal::Any)
    } else if is_account(p) {
        Ok(Principal::named("AWS", format!("arn:aws:iam::{p}:root")))
    } else if p.starts_with("arn:") {
        Ok(Principal::named("AWS", p))
    } else if is_service(p) {
        Ok(Principal::named("Service", p))
    } else {
        Err(LambdaError::invalid(
            "The provided principal was invalid. Please check the principal and try again.",
        ))
    }
}

/// A service principal: dot-separated labels of letters, digits and `-`
/// (`s3.amazonaws.com`, `events.amazonaws.com`).
fn is_service(p: &str) -> bool {
    p.contains('.')
        && p.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Checks a StatementId against the model: 1–100 of `[a-zA-Z0-9-_]`.
pub fn check_statement_id(sid: &str, member: &str) -> Result<(), LambdaError> {
    let broken = if sid.is_empty() {
        "Member must have length greater than or equal to 1"
    } else if sid.chars().count() > 100 {
        "Member must have length less than or equal to 100"
    } else if !sid
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)"
    } else {
        return Ok(());
    };
    Err(validation(format!(
        "Value '{sid}' at '{member}' failed to satisfy constraint: {broken}"
    )))
}

/// Checks an Action against the model: `lambda:*`, `lambda:<Name>` or `*`.
pub fn check_action(action: &str) -> Result<(), LambdaError> {
    let ok = action == "*"
        || action.strip_prefix("lambda:").is_some_and(|rest| {
            rest == "*" || (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphabetic()))
        });
    if !ok {
        return Err(validation(format!(
            "Value '{action}' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])"
        )));
    }
    Ok(())
}

fn check_member(
    value: &str,
    member: &str,
    pattern: &str,
    ok: impl Fn(&str) -> bool,
) -> Result<(), LambdaError> {
    if ok(value) {
        return Ok(());
    }
    Err(validation(format!(
        "Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
    )))
}

fn validation(detail: String) -> LambdaError {
    LambdaError::new(
        ErrorKind::Validation,
        format!("1 validation error detected: {detail}"),
    )
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

fn is_root_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, "root"]
        if partition.strip_prefix("aws").is_some_and(|r| r.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'))
            && is_account(account))
}

/// The model's `Arn`: `arn:<partition>:<service>:<region>?:<account>?:<rest>`.
fn is_arn(s: &str) -> bool {
    let mut parts = s.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(_)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    partition
        .strip_prefix("aws")
        .is_some_and(|r| r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && (account.is_empty() || is_account(account))
}

/// An object's members in document order.
struct Ordered<T>(Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<T>, A::Error> {
                let mut pairs = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, T>()? {
                    pairs.push((k, v));
                }
                Ok(Ordered(pairs))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

struct Pairs<'a, T>(&'a [(String, T)]);

impl<T: Serialize> Serialize for Pairs<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_pairs(s, self.0)
    }
}

fn serialize_pairs<S: Serializer, T: Serialize>(
    s: S,
    pairs: &[(String, T)],
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

#[cfg(test)]
mod tests;
