//! IAM policies: documents (identity, resource and trust policies) parsed
//! and checked as IAM does ([`PolicyDocument::parse`], the size limits of
//! [`PolicySize`]), and the evaluator every service calls once per request
//! ([`authorize`]). Pure: documents come in as text, decisions go out.

mod condition;
mod context;
mod document;
mod eval;
mod pattern;

pub use condition::{Comparison, Operator, SetOperator};
pub use context::{ContextKeys, Principal, PrincipalKind, RequestContext};
pub use document::{
    ConditionClause, Effect, Matcher, PolicyDocument, PolicyKind, PrincipalType, Principals,
    Statement,
};
pub use eval::{access_denied_message, authorize, Decision, PolicyType};

/// Why a policy document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// IAM's `MalformedPolicyDocument`, with its message.
    #[error("{0}")]
    Malformed(String),
    /// IAM's `LimitExceeded` for a document too large, with its message.
    #[error("{0}")]
    TooLarge(String),
}

/// IAM's size limits, in characters not counting white space (IAM and
/// AWS STS quotas, "IAM and STS character limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySize {
    /// All inline policies of a user together: 2,048.
    UserInline,
    /// All inline policies of a group together: 5,120.
    GroupInline,
    /// All inline policies of a role together: 10,240.
    RoleInline,
    /// One managed policy: 6,144.
    Managed,
    /// A role's trust policy: 2,048 (the default quota).
    Trust,
}

impl PolicySize {
    /// The limit, characters.
    pub fn limit(self) -> usize {
        match self {
            Self::UserInline | Self::Trust => 2_048,
            Self::GroupInline => 5_120,
            Self::RoleInline => 10_240,
            Self::Managed => 6_144,
        }
    }

    /// Checks documents against the limit: for inline policies pass all of
    /// the entity's (the aggregate counts), `entity` naming it in the
    /// message ("Maximum policy size of 2048 bytes exceeded for user bob").
    pub fn check(self, entity: &str, documents: &[&str]) -> Result<(), PolicyError> {
        let size: usize = documents.iter().map(|d| policy_size(d)).sum();
        if size <= self.limit() {
            return Ok(());
        }
        let limit = self.limit();
        Err(PolicyError::TooLarge(match self {
            Self::UserInline => {
                format!("Maximum policy size of {limit} bytes exceeded for user {entity}")
            }
            Self::GroupInline => {
                format!("Maximum policy size of {limit} bytes exceeded for group {entity}")
            }
            Self::RoleInline => {
                format!("Maximum policy size of {limit} bytes exceeded for role {entity}")
            }
            Self::Managed => format!("Cannot exceed quota for PolicySize: {limit}"),
            Self::Trust => format!("Cannot exceed quota for ACLSizePerRole: {limit}"),
        }))
    }
}

/// A document's size as IAM counts it: characters, white space excluded.
pub fn policy_size(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}
