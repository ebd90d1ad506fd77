//! IAM's operations as a typed enum, built from a query request with the
//! model's constraints, and what the front authorizes each as.

use ignis_protocol::{AwsError, QueryRequest};

use crate::error::{invalid_input, validation};
use crate::params::{
    Page, Params, Pattern, Rule, ACCESS_KEY_ID, ARN, DOCUMENT, NAME128, NAME64, PATH, PATH_PREFIX,
    POLICY_PATH,
};
use crate::principal::{policy_arn, role_arn, user_arn};
use crate::Principal;

/// A tag: key and value.
pub type Tag = (String, String);

/// `Scope` of ListPolicies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// AWS managed and customer managed.
    All,
    /// AWS managed only.
    Aws,
    /// Customer managed only.
    Local,
}

/// One IAM operation, parsed and checked against the model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // Fields are the model's members, named alike.
pub enum IamOp {
    CreateUser {
        user_name: String,
        path: String,
        tags: Vec<Tag>,
    },
    /// `user_name: None` is the caller itself (the root user).
    GetUser {
        user_name: Option<String>,
    },
    DeleteUser {
        user_name: String,
    },
    ListUsers {
        path_prefix: String,
        page: Page,
    },
    CreateAccessKey {
        user_name: String,
    },
    ListAccessKeys {
        user_name: String,
        page: Page,
    },
    DeleteAccessKey {
        user_name: String,
        access_key_id: String,
    },
    CreateRole {
        role_name: String,
        path: String,
        assume_role_policy_document: String,
        description: Option<String>,
        max_session_duration: u32,
        tags: Vec<Tag>,
    },
    GetRole {
        role_name: String,
    },
    DeleteRole {
        role_name: String,
    },
    ListRoles {
        path_prefix: String,
        page: Page,
    },
    UpdateAssumeRolePolicy {
        role_name: String,
        policy_document: String,
    },
    PutRolePolicy {
        role_name: String,
        policy_name: String,
        policy_document: String,
    },
    PutUserPolicy {
        user_name: String,
        policy_name: String,
        policy_document: String,
    },
    GetRolePolicy {
        role_name: String,
        policy_name: String,
    },
    GetUserPolicy {
        user_name: String,
        policy_name: String,
    },
    DeleteRolePolicy {
        role_name: String,
        policy_name: String,
    },
    DeleteUserPolicy {
        user_name: String,
        policy_name: String,
    },
    ListRolePolicies {
        role_name: String,
        page: Page,
    },
    CreatePolicy {
        policy_name: String,
        path: String,
        policy_document: String,
        description: Option<String>,
        tags: Vec<Tag>,
    },
    GetPolicy {
        policy_arn: String,
    },
    GetPolicyVersion {
        policy_arn: String,
        version_id: String,
    },
    DeletePolicy {
        policy_arn: String,
    },
    ListPolicies {
        scope: Scope,
        only_attached: bool,
        path_prefix: String,
        page: Page,
    },
    AttachRolePolicy {
        role_name: String,
        policy_arn: String,
    },
    AttachUserPolicy {
        user_name: String,
        policy_arn: String,
    },
    DetachRolePolicy {
        role_name: String,
        policy_arn: String,
    },
    DetachUserPolicy {
        user_name: String,
        policy_arn: String,
    },
    ListAttachedRolePolicies {
        role_name: String,
        path_prefix: String,
        page: Page,
    },
    ListAttachedUserPolicies {
        user_name: String,
        path_prefix: String,
        page: Page,
    },
}

const POLICY_NAME: Rule = Rule {
    min: 1,
    max: 128,
    pattern: Pattern::Name,
};
const ROLE_DESCRIPTION: Rule = Rule {
    min: 0,
    max: 1000,
    pattern: Pattern::Description,
};
const POLICY_DESCRIPTION: Rule = Rule {
    min: 0,
    max: 1000,
    pattern: Pattern::Any,
};
const VERSION_ID: Rule = Rule {
    min: 1,
    max: 128,
    pattern: Pattern::VersionId,
};

/// The user an operation names, or the calling user's when it names none
/// (IAM's rule for GetUser, the access-key operations).
fn user_or_caller(p: &Params<'_>, caller: &Principal) -> Result<String, AwsError> {
    if let Some(name) = p.opt("UserName", NAME128)? {
        return Ok(name);
    }
    match caller {
        Principal::User { name, .. } => Ok(name.clone()),
        _ => Err(validation(
            "Must specify userName when calling with non-User credentials",
        )),
    }
}

/// A policy ARN: `arn:aws:iam::<account or aws>:policy/…`.
fn policy_arn_param(p: &Params<'_>) -> Result<String, AwsError> {
    let arn = p.req("PolicyArn", ARN)?;
    let valid = arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(":policy/"))
        .is_some_and(|(account, name)| !account.is_empty() && !name.is_empty());
    if !valid {
        return Err(invalid_input(format!("ARN {arn} is not valid.")));
    }
    Ok(arn)
}

impl IamOp {
    /// Parses `req` for `caller` (who stands for an omitted `UserName`).
    /// An action outside this list is `InvalidAction`.
    pub fn parse(req: &QueryRequest, caller: &Principal) -> Result<Self, AwsError> {
        let p = Params::new(req);
        let path = || Ok::<_, AwsError>(p.opt("Path", PATH)?.unwrap_or_else(|| "/".to_string()));
        let prefix = |rule| {
            Ok::<_, AwsError>(
                p.opt("PathPrefix", rule)?
                    .unwrap_or_else(|| "/".to_string()),
            )
        };
        let role = || p.req("RoleName", NAME64);
        let user = || p.req("UserName", NAME128);
        let policy_name = || p.req("PolicyName", POLICY_NAME);
        let document = || p.req("PolicyDocument", DOCUMENT);
        Ok(match req.action.as_str() {
            "CreateUser" => Self::CreateUser {
                user_name: p.req("UserName", NAME64)?,
                path: path()?,
                tags: p.tags()?,
            },
            "GetUser" => Self::GetUser {
                user_name: match (p.opt("UserName", NAME128)?, caller) {
                    (Some(n), _) => Some(n),
                    (None, Principal::User { name, .. }) => Some(name.clone()),
                    (None, Principal::Root) => None,
                    (None, _) => return Err(validation("Must specify userName when calling with non-User credentials")),
                },
            },
            "DeleteUser" => Self::DeleteUser { user_name: user()? },
            "ListUsers" => Self::ListUsers { path_prefix: prefix(PATH_PREFIX)?, page: p.page()? },
            "CreateAccessKey" => Self::CreateAccessKey { user_name: user_or_caller(&p, caller)? },
            "ListAccessKeys" => Self::ListAccessKeys {
                user_name: user_or_caller(&p, caller)?,
                page: p.page()?,
            },
            "DeleteAccessKey" => Self::DeleteAccessKey {
                user_name: user_or_caller(&p, caller)?,
                access_key_id: p.req("AccessKeyId", ACCESS_KEY_ID)?,
            },
            "CreateRole" => Self::CreateRole {
                role_name: role()?,
                path: path()?,
                assume_role_policy_document: p.req("AssumeRolePolicyDocument", DOCUMENT)?,
                description: p.opt("Description", ROLE_DESCRIPTION)?,
                max_session_duration: p.int("MaxSessionDuration", 3600, 43200)?.map_or(3600, |n| n as u32),
                tags: p.tags()?,
            },
            "GetRole" => Self::GetRole { role_name: role()? },
            "DeleteRole" => Self::DeleteRole { role_name: role()? },
            "ListRoles" => Self::ListRoles { path_prefix: prefix(PATH_PREFIX)?, page: p.page()? },
            "UpdateAssumeRolePolicy" => Self::UpdateAssumeRolePolicy {
                role_name: role()?,
                policy_document: document()?,
            },
            "PutRolePolicy" => Self::PutRolePolicy {
                role_name: role()?,
                policy_name: policy_name()?,
                policy_document: document()?,
            },
            "PutUserPolicy" => Self::PutUserPolicy {
                user_name: user()?,
                policy_name: policy_name()?,
                policy_document: document()?,
            },
            "GetRolePolicy" => Self::GetRolePolicy { role_name: role()?, policy_name: policy_name()? },
            "GetUserPolicy" => Self::GetUserPolicy { user_name: user()?, policy_name: policy_name()? },
            "DeleteRolePolicy" => Self::DeleteRolePolicy { role_name: role()?, policy_name: policy_name()? },
            "DeleteUserPolicy" => Self::DeleteUserPolicy { user_name: user()?, policy_name: policy_name()? },
            "ListRolePolicies" => Self::ListRolePolicies { role_name: role()?, page: p.page()? },
            "CreatePolicy" => Self::CreatePolicy {
                policy_name: policy_name()?,
                path: p.opt("Path", POLICY_PATH)?.unwrap_or_else(|| "/".to_string()),
                policy_document: document()?,
                description: p.opt("Description", POLICY_DESCRIPTION)?,
                tags: p.tags()?,
            },
            "GetPolicy" => Self::GetPolicy { policy_arn: policy_arn_param(&p)? },
            "GetPolicyVersion" => Self::GetPolicyVersion {
                policy_arn: policy_arn_param(&p)?,
                version_id: p.req("VersionId", VERSION_ID)?,
            },
            "DeletePolicy" => Self::DeletePolicy { policy_arn: policy_arn_param(&p)? },
            "ListPolicies" => Self::ListPolicies {
                scope: match req.get("Scope") {
                    None | Some("All") => Scope::All,
                    Some("AWS") => Scope::Aws,
                    Some("Local") => Scope::Local,
                    Some(other) => return Err(validation(format!(
                        "1 validation error detected: Value '{other}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"
                    ))),
                },
                only_attached: p.bool("OnlyAttached")?.unwrap_or(false),
                path_prefix: prefix(POLICY_PATH)?,
                page: p.page()?,
            },
            "AttachRolePolicy" => Self::AttachRolePolicy { role_name: role()?, policy_arn: policy_arn_param(&p)? },
            "AttachUserPolicy" => Self::AttachUserPolicy {
                user_name: p.req("UserName", NAME64)?,
                policy_arn: policy_arn_param(&p)?,
            },
            "DetachRolePolicy" => Self::DetachRolePolicy { role_name: role()?, policy_arn: policy_arn_param(&p)? },
            "DetachUserPolicy" => Self::DetachUserPolicy {
                user_name: p.req("UserName", NAME64)?,
                policy_arn: policy_arn_param(&p)?,
            },
            "ListAttachedRolePolicies" => Self::ListAttachedRolePolicies {
                role_name: role()?,
                path_prefix: prefix(POLICY_PATH)?,
                page: p.page()?,
            },
            "ListAttachedUserPolicies" => Self::ListAttachedUserPolicies {
                user_name: p.req("UserName", NAME64)?,
                path_prefix: prefix(POLICY_PATH)?,
                page: p.page()?,
            },
            other => {
                return Err(AwsError::sender(
                    http::StatusCode::BAD_REQUEST,
                    "InvalidAction",
                    format!("IAM {other} is not served by Ignis"),
                ))
            }
        })
    }

    /// The operation's name (`CreateUser`).
    pub fn name(&self) -> &'static str {
        &self.action()["iam:".len()..]
    }

    /// The IAM action the front authorizes (`iam:CreateUser`).
    pub fn action(&self) -> &'static str {
        match self {
            Self::CreateUser { .. } => "iam:CreateUser",
            Self::GetUser { .. } => "iam:GetUser",
            Self::DeleteUser { .. } => "iam:DeleteUser",
            Self::ListUsers { .. } => "iam:ListUsers",
            Self::CreateAccessKey { .. } => "iam:CreateAccessKey",
            Self::ListAccessKeys { .. } => "iam:ListAccessKeys",
            Self::DeleteAccessKey { .. } => "iam:DeleteAccessKey",
            Self::CreateRole { .. } => "iam:CreateRole",
            Self::GetRole { .. } => "iam:GetRole",
            Self::DeleteRole { .. } => "iam:DeleteRole",
            Self::ListRoles { .. } => "iam:ListRoles",
            Self::UpdateAssumeRolePolicy { .. } => "iam:UpdateAssumeRolePolicy",
            Self::PutRolePolicy { .. } => "iam:PutRolePolicy",
            Self::PutUserPolicy { .. } => "iam:PutUserPolicy",
            Self::GetRolePolicy { .. } => "iam:GetRolePolicy",
            Self::GetUserPolicy { .. } => "iam:GetUserPolicy",
            Self::DeleteRolePolicy { .. } => "iam:DeleteRolePolicy",
            Self::DeleteUserPolicy { .. } => "iam:DeleteUserPolicy",
            Self::ListRolePolicies { .. } => "iam:ListRolePolicies",
            Self::CreatePolicy { .. } => "iam:CreatePolicy",
            Self::GetPolicy { .. } => "iam:GetPolicy",
            Self::GetPolicyVersion { .. } => "iam:GetPolicyVersion",
            Self::DeletePolicy { .. } => "iam:DeletePolicy",
            Self::ListPolicies { .. } => "iam:ListPolicies",
            Self::AttachRolePolicy { .. } => "iam:AttachRolePolicy",
            Self::AttachUserPolicy { .. } => "iam:AttachUserPolicy",
            Self::DetachRolePolicy { .. } => "iam:DetachRolePolicy",
            Self::DetachUserPolicy { .. } => "iam:DetachUserPolicy",
            Self::ListAttachedRolePolicies { .. } => "iam:ListAttachedRolePolicies",
            Self::ListAttachedUserPolicies { .. } => "iam:ListAttachedUserPolicies",
        }
    }

    /// The resource ARN the front authorizes the action on, as IAM's
    /// service authorization reference lists it: the user, role or
    /// policy named (with `/` as its path, except where the request gives
    /// one: the path of a stored entity is not known before it is read),
    /// `*` for the list operations without a resource type.
    pub fn resource(&self, account: &str) -> String {
        let user = |n: &str| user_arn("/", n).replace(ignis_model::arn::ACCOUNT_ID, account);
        let role = |n: &str| role_arn("/", n).replace(ignis_model::arn::ACCOUNT_ID, account);
        match self {
            Self::CreateUser {
                user_name, path, ..
            } => user_arn(path, user_name).replace(ignis_model::arn::ACCOUNT_ID, account),
            Self::GetUser { user_name: None } => format!("arn:aws:iam::{account}:root"),
            Self::GetUser { user_name: Some(n) }
            | Self::DeleteUser { user_name: n }
            | Self::CreateAccessKey { user_name: n }
            | Self::ListAccessKeys { user_name: n, .. }
            | Self::DeleteAccessKey { user_name: n, .. }
            | Self::PutUserPolicy { user_name: n, .. }
            | Self::GetUserPolicy { user_name: n, .. }
            | Self::DeleteUserPolicy { user_name: n, .. }
            | Self::AttachUserPolicy { user_name: n, .. }
            | Self::DetachUserPolicy { user_name: n, .. }
            | Self::ListAttachedUserPolicies { user_name: n, .. } => user(n),
            Self::CreateRole {
                role_name, path, ..
            } => role_arn(path, role_name).replace(ignis_model::arn::ACCOUNT_ID, account),
            Self::GetRole { role_name: n }
            | Self::DeleteRole { role_name: n }
            | Self::UpdateAssumeRolePolicy { role_name: n, .. }
            | Self::PutRolePolicy { role_name: n, .. }
            | Self::GetRolePolicy { role_name: n, .. }
            | Self::DeleteRolePolicy { role_name: n, .. }
            | Self::ListRolePolicies { role_name: n, .. }
            | Self::AttachRolePolicy { role_name: n, .. }
            | Self::DetachRolePolicy { role_name: n, .. }
            | Self::ListAttachedRolePolicies { role_name: n, .. } => role(n),
            Self::CreatePolicy {
                policy_name, path, ..
            } => policy_arn(path, policy_name).replace(ignis_model::arn::ACCOUNT_ID, account),
            Self::GetPolicy { policy_arn: a }
            | Self::GetPolicyVersion { policy_arn: a, .. }
            | Self::DeletePolicy { policy_arn: a } => a.clone(),
            Self::ListUsers { .. } | Self::ListRoles { .. } | Self::ListPolicies { .. } => {
                "*".to_string()
            }
        }
    }
}

#[cfg(test)]
#[path = "op_tests.rs"]
mod tests;
