//! The request context a policy is evaluated against: who asks (the
//! principal), to do what (the action), on what (the resource ARN), and the
//! condition keys (`aws:SourceArn`, `aws:SourceIp`, …).

/// What kind of principal makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account's root user: allowed everything.
    Root,
    /// An IAM user.
    User {
        /// Its name.
        name: String,
    },
    /// A session of an assumed role (STS AssumeRole, a function's role).
    AssumedRole {
        /// `arn:aws:iam::<account>:role/<name>`.
        role_arn: String,
        /// The role session name.
        session_name: String,
    },
    /// An AWS service acting for the account (`s3.amazonaws.com`).
    Service {
        /// The service principal's name.
        name: String,
    },
    /// A request without a signature (a function URL with `AuthType: NONE`).
    Anonymous,
}

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Its ARN (`arn:aws:iam::…:user/alice`,
    /// `arn:aws:sts::…:assumed-role/r/s`, the service name for a service).
    pub arn: String,
    /// The account it belongs to (empty for services and anonymous).
    pub account: String,
    /// Its kind.
    pub kind: PrincipalKind,
    /// `aws:userid`: a user's unique id, `<role id>:<session>` for a role.
    pub user_id: Option<String>,
}

impl Principal {
    /// The account's root user.
    pub fn root(account: &str) -> Self {
        Self {
            arn: format!("arn:aws:iam::{account}:root"),
            account: account.to_string(),
            kind: PrincipalKind::Root,
            user_id: Some(account.to_string()),
        }
    }

    /// An IAM user.
    pub fn user(account: &str, name: &str, user_id: Option<&str>) -> Self {
        Self {
            arn: format!("arn:aws:iam::{account}:user/{name}"),
            account: account.to_string(),
            kind: PrincipalKind::User {
                name: name.to_string(),
            },
            user_id: user_id.map(str::to_string),
        }
    }

    /// A session of role `role_name`.
    pub fn assumed_role(
        account: &str,
        role_name: &str,
        session_name: &str,
        role_id: Option<&str>,
    ) -> Self {
        Self {
            arn: format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"),
            account: account.to_string(),
            kind: PrincipalKind::AssumedRole {
                role_arn: format!("arn:aws:iam::{account}:role/{role_name}"),
                session_name: session_name.to_string(),
            },
            user_id: role_id.map(|id| format!("{id}:{session_name}")),
        }
    }

    /// A service principal (`s3.amazonaws.com`).
    pub fn service(name: &str) -> Self {
        Self {
            arn: name.to_string(),
            account: String::new(),
            kind: PrincipalKind::Service {
                name: name.to_string(),
            },
            user_id: None,
        }
    }

    /// An unsigned request.
    pub fn anonymous() -> Self {
        Self {
            arn: "anonymous".to_string(),
            account: String::new(),
            kind: PrincipalKind::Anonymous,
            user_id: None,
        }
    }

    /// `aws:PrincipalType` as AWS names it.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            PrincipalKind::Root => "Account",
            PrincipalKind::User { .. } => "User",
            PrincipalKind::AssumedRole { .. } => "AssumedRole",
            PrincipalKind::Service { .. } => "Service",
            PrincipalKind::Anonymous => "Anonymous",
        }
    }
}

/// Condition keys and their values; names compare case-insensitively.
/// A key may hold several values (for `ForAnyValue:` / `ForAllValues:`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextKeys(Vec<(String, Vec<String>)>);

impl ContextKeys {
    /// Sets `key` to one value.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.insert_all(key, vec![value.into()]);
    }

    /// Sets `key` to several values.
    pub fn insert_all(&mut self, key: &str, values: Vec<String>) {
        let lower = key.to_ascii_lowercase();
        match self.0.iter_mut().find(|(k, _)| *k == lower) {
            Some((_, v)) => *v = values,
            None => self.0.push((lower, values)),
        }
    }

    /// The values of `key`, if the request has it.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        let lower = key.to_ascii_lowercase();
        self.0
            .iter()
            .find(|(k, _)| *k == lower)
            .map(|(_, v)| v.as_slice())
    }

    fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// One request to authorize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// Who asks.
    pub principal: Principal,
    /// The IAM action, `lambda:InvokeFunction`.
    pub action: String,
    /// The resource's ARN (`*` for actions on no resource).
    pub resource: String,
    /// Condition keys.
    pub keys: ContextKeys,
}

impl RequestContext {
    /// A context with the principal's own keys filled in
    /// (`aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`,
    /// `aws:username` for a user, `aws:userid`).
    pub fn new(principal: Principal, action: &str, resource: &str) -> Self {
        let mut keys = ContextKeys::default();
        let principal_arn = match &principal.kind {
            PrincipalKind::AssumedRole { role_arn, .. } => role_arn.clone(),
            _ => principal.arn.clone(),
        };
        if !matches!(
            principal.kind,
            PrincipalKind::Anonymous | PrincipalKind::Service { .. }
        ) {
            keys.insert("aws:PrincipalArn", principal_arn);
            keys.insert("aws:PrincipalAccount", principal.account.clone());
        }
        if let PrincipalKind::Service { name } = &principal.kind {
            keys.insert("aws:PrincipalServiceName", name.clone());
        }
        keys.insert("aws:PrincipalType", principal.type_name());
        if let PrincipalKind::User { name } = &principal.kind {
            keys.insert("aws:username", name.clone());
        }
        if let Some(id) = &principal.user_id {
            keys.insert("aws:userid", id.clone());
        }
        Self {
            principal,
            action: action.to_string(),
            resource: resource.to_string(),
            keys,
        }
    }

    /// Adds a condition key (replacing one of the same name).
    pub fn with_key(mut self, key: &str, value: impl Into<String>) -> Self {
        self.keys.insert(key, value);
        self
    }

    /// Adds a multi-valued condition key.
    pub fn with_keys(mut self, key: &str, values: &[&str]) -> Self {
        self.keys
            .insert_all(key, values.iter().map(|v| v.to_string()).collect());
        self
    }

    /// Whether the request has condition key `key`.
    pub fn has_key(&self, key: &str) -> bool {
        self.keys.contains(key)
    }
}
