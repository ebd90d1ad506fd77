//! The seam to `ignis-identity`: what IAM and STS need from the identity
//! crate, implemented by the front with it (its policy parser, trust
//! evaluation and credentials module). Policy validation and access-key
//! generation have defaults here until identity's versions are wired.

use chrono::{DateTime, Utc};
use ignis_protocol::AwsError;

use crate::document::{self, PolicyKind};
use crate::{ids, Principal};

/// Temporary credentials for a role session, as STS answers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCredentials {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
    /// The session token.
    pub session_token: String,
    /// When they stop working.
    pub expiration: DateTime<Utc>,
}

/// What IAM and STS ask of the identity crate.
pub trait Identity: Send + Sync + 'static {
    /// Checks a policy document; `Err` is `MalformedPolicyDocument`'s
    /// message. Default: [`document::validate`] (serde_json structure
    /// checks); the front passes identity's parser/validator once wired.
    fn validate_policy(&self, document: &str, kind: PolicyKind) -> Result<(), String> {
        document::validate(document, kind)
    }

    /// A new long-term access key: id (`AKIA…`) and secret. Default:
    /// random ones ([`ids`]).
    fn new_access_key(&self) -> Result<(String, String), AwsError> {
        Ok((ids::unique_id("AKIA")?, ids::secret()?))
    }

    /// Whether a key's secret must be stored to be known again. `false`
    /// when [`Identity::new_access_key`] derives it from the key id (the
    /// front's identity derives it from the node's master key): the store
    /// then keeps no secret at all.
    fn stores_secrets(&self) -> bool {
        true
    }

    /// The AssumeRole trust seam: whether `trust_policy` (the role's
    /// `AssumeRolePolicyDocument`) allows `caller` to perform
    /// `sts:AssumeRole` on `role_arn`, evaluated by identity's policy
    /// evaluator.
    fn trust_allows(
        &self,
        trust_policy: &str,
        role_arn: &str,
        caller: &Principal,
    ) -> Result<bool, AwsError>;

    /// Issues temporary credentials for a session of `role_arn`, valid for
    /// `duration_secs` (identity's `credentials` module).
    fn issue_session(
        &self,
        role_arn: &str,
        session_name: &str,
        duration_secs: u32,
    ) -> Result<SessionCredentials, AwsError>;
}
