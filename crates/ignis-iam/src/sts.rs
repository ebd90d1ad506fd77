//! STS: `GetCallerIdentity` and `AssumeRole`.

use std::sync::Arc;

use ignis_protocol::{AwsError, Members, QueryRequest, QueryResponse};
use ignis_store::IamStore;

use crate::document::PolicyKind;
use crate::error::{access_denied, malformed_policy, validation};
use crate::params::{check, Params, Pattern, Rule, ARN};
use crate::principal::role_arn;
use crate::{Iam, Identity, Principal};

/// STS's XML namespace (the model's `xmlNamespace`).
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// AssumeRole's default session length, seconds.
pub const DEFAULT_SESSION_SECS: u32 = 3600;
/// Longest session policy (packed size is not modelled; plain characters).
pub const MAX_SESSION_POLICY_SIZE: usize = 2_048;

const SESSION_NAME: Rule = Rule {
    min: 2,
    max: 64,
    pattern: Pattern::Name,
};
const EXTERNAL_ID: Rule = Rule {
    min: 2,
    max: 1224,
    pattern: Pattern::Any,
};

/// One STS operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StsOp {
    /// Who the caller is.
    GetCallerIdentity,
    /// Temporary credentials for a session of a role.
    AssumeRole {
        /// The role's ARN.
        role_arn: String,
        /// The session's name (in the assumed-role ARN).
        role_session_name: String,
        /// Seconds, 900–43,200 and at most the role's MaxSessionDuration.
        duration_seconds: Option<u32>,
        /// An inline session policy.
        policy: Option<String>,
        /// Managed session policies.
        policy_arns: Vec<String>,
        /// The external id the trust policy may require.
        external_id: Option<String>,
    },
}

impl StsOp {
    /// Parses an STS request. An action outside this list is `InvalidAction`.
    pub fn parse(req: &QueryRequest) -> Result<Self, AwsError> {
        let p = Params::new(req);
        match req.action.as_str() {
            "GetCallerIdentity" => Ok(Self::GetCallerIdentity),
            "AssumeRole" => {
                let policy_arns = req
                    .structs("PolicyArns")
                    .iter()
                    .map(|m| {
                        let arn = m.get("arn").copied().unwrap_or_default();
                        check("PolicyArns.member.arn", arn, ARN).map(|()| arn.to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if policy_arns.len() > 10 {
                    return Err(validation("1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10"));
                }
                Ok(Self::AssumeRole {
                    role_arn: p.req("RoleArn", ARN)?,
                    role_session_name: p.req("RoleSessionName", SESSION_NAME)?,
                    duration_seconds: p.int("DurationSeconds", 900, 43200)?.map(|n| n as u32),
                    policy: p.opt(
                        "Policy",
                        Rule {
                            min: 1,
                            max: usize::MAX,
                            pattern: Pattern::Document,
                        },
                    )?,
                    policy_arns,
                    external_id: p.opt("ExternalId", EXTERNAL_ID)?,
                })
            }
            other => Err(AwsError::sender(
                http::StatusCode::BAD_REQUEST,
                "InvalidAction",
                format!("STS {other} is not served by Ignis"),
            )),
        }
    }

    /// The operation's name.
    pub fn name(&self) -> &'static str {
        &self.action()["sts:".len()..]
    }

    /// The IAM action the front authorizes (`sts:AssumeRole`).
    pub fn action(&self) -> &'static str {
        match self {
            Self::GetCallerIdentity => "sts:GetCallerIdentity",
            Self::AssumeRole { .. } => "sts:AssumeRole",
        }
    }

    /// The resource ARN: the role for AssumeRole, `*` for GetCallerIdentity.
    pub fn resource(&self, _account: &str) -> String {
        match self {
            Self::GetCallerIdentity => "*".to_string(),
            Self::AssumeRole { role_arn, .. } => role_arn.clone(),
        }
    }

    /// Whether the front authorizes it at all: GetCallerIdentity needs no
    /// permission on AWS (a policy denying it explicitly aside).
    pub fn requires_authorization(&self) -> bool {
        !matches!(self, Self::GetCallerIdentity)
    }
}

/// The STS service.
pub struct Sts<S> {
    iam: Arc<Iam<S>>,
    identity: Arc<dyn Identity>,
}

impl<S: IamStore> Sts<S> {
    /// STS over IAM's roles, issuing credentials through `identity`.
    pub fn new(iam: Arc<Iam<S>>, identity: Arc<dyn Identity>) -> Self {
        Self { iam, identity }
    }

    /// Parses and executes.
    pub async fn handle(
        &self,
        caller: &Principal,
        req: QueryRequest,
    ) -> Result<QueryResponse, AwsError> {
        let op = StsOp::parse(&req)?;
        self.execute(caller, op).await
    }

    /// Executes a parsed operation.
    pub async fn execute(&self, caller: &Principal, op: StsOp) -> Result<QueryResponse, AwsError> {
        match &op {
            StsOp::GetCallerIdentity => Ok(QueryResponse::new(
                op.name(),
                STS_NAMESPACE,
                Members::new()
                    .text("UserId", caller.user_id())
                    .text("Account", ignis_model::arn::ACCOUNT_ID)
                    .text("Arn", caller.arn()),
            )),
            StsOp::AssumeRole {
                role_arn: arn,
                role_session_name,
                duration_seconds,
                policy,
                ..
            } => {
                let denied = || {
                    access_denied(format!(
                        "User: {} is not authorized to perform: sts:AssumeRole on resource: {arn}",
                        caller.arn()
                    ))
                };
                let role = self.iam.role_by_arn(arn).await?.ok_or_else(denied)?;
                if let Some(doc) = policy {
                    if doc.chars().count() > MAX_SESSION_POLICY_SIZE {
                        return Err(AwsError::sender(
                            http::StatusCode::BAD_REQUEST,
                            "PackedPolicyTooLarge",
                            "Packed policy consumes more than 100 percent of the allotted size.",
                        ));
                    }
                    self.identity
                        .validate_policy(doc, PolicyKind::Identity)
                        .map_err(malformed_policy)?;
                }
                let duration = duration_seconds.unwrap_or(DEFAULT_SESSION_SECS);
                if duration > role.max_session_duration {
                    return Err(validation(format!(
                        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role. (DurationSeconds: {duration}, MaxSessionDuration: {})",
                        role.max_session_duration
                    )));
                }
                let canonical = role_arn(&role.path, &role.name);
                if !self
                    .identity
                    .trust_allows(&role.trust_policy, &canonical, caller)?
                {
                    return Err(denied());
                }
                let creds = self
                    .identity
                    .issue_session(&canonical, role_session_name, duration)?;
                let session = Principal::AssumedRole {
                    role_name: role.name.clone(),
                    role_id: role.id.clone(),
                    session_name: role_session_name.clone(),
                };
                let credentials = Members::new()
                    .text("AccessKeyId", creds.access_key_id)
                    .text("SecretAccessKey", creds.secret_access_key)
                    .text("SessionToken", creds.session_token)
                    .text(
                        "Expiration",
                        creds.expiration.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    );
                let user = Members::new()
                    .text("AssumedRoleId", session.user_id())
                    .text("Arn", session.arn());
                Ok(QueryResponse::new(
                    op.name(),
                    STS_NAMESPACE,
                    Members::new()
                        .nested("Credentials", credentials)
                        .nested("AssumedRoleUser", user),
                ))
            }
        }
    }
}

#[cfg(test)]
#[path = "sts_tests.rs"]
mod tests;
