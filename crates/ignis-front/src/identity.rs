//! Ignis's identity, as the services need it: IAM's `Identity` seam
//! implemented with `ignis-identity` (policy documents, trust evaluation,
//! temporary credentials), and the conversion of an authenticated caller
//! into the evaluator's principal.

use std::sync::Arc;

use ignis_iam::{Identity, Principal, SessionCredentials};
use ignis_identity::credentials::MasterKey;
use ignis_identity::policy::{self, authorize, Decision, PolicyDocument, RequestContext};
use ignis_model::arn::ACCOUNT_ID;
use ignis_protocol::AwsError;

/// The identity crate behind IAM and STS.
pub struct IgnisIdentity {
    master: Arc<MasterKey>,
}

impl IgnisIdentity {
    /// Issues and checks credentials with `master`.
    pub fn new(master: Arc<MasterKey>) -> Self {
        Self { master }
    }
}

/// The evaluator's view of a caller.
pub fn policy_principal(caller: &Principal) -> policy::Principal {
    match caller {
        Principal::Root => policy::Principal::root(ACCOUNT_ID),
        Principal::User { name, id, .. } => policy::Principal::user(ACCOUNT_ID, name, Some(id)),
        Principal::AssumedRole {
            role_name,
            role_id,
            session_name,
        } => policy::Principal::assumed_role(ACCOUNT_ID, role_name, session_name, Some(role_id)),
    }
}

impl Identity for IgnisIdentity {
    fn validate_policy(
        &self,
        document: &str,
        kind: ignis_iam::document::PolicyKind,
    ) -> Result<(), String> {
        let kind = match kind {
            ignis_iam::document::PolicyKind::Identity => policy::PolicyKind::Identity,
            ignis_iam::document::PolicyKind::Trust => policy::PolicyKind::Trust,
        };
        PolicyDocument::parse(document, kind)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn new_access_key(&self) -> Result<(String, String), AwsError> {
        let id = ignis_identity::credentials::new_access_key_id("AKIA").map_err(|e| {
            tracing::error!(error = %e, "failed to make an access key");
            AwsError::sender(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceFailure",
                "Ignis failed to make an access key",
            )
        })?;
        let secret = self.master.secret_for(&id);
        Ok((id, secret))
    }

    fn stores_secrets(&self) -> bool {
        false
    }

    fn trust_allows(
        &self,
        trust_policy: &str,
        role_arn: &str,
        caller: &Principal,
    ) -> Result<bool, AwsError> {
        let Ok(document) = PolicyDocument::parse(trust_policy, policy::PolicyKind::Trust) else {
            return Ok(false);
        };
        // The trust policy is the role's resource policy (the caller's own
        // policies are checked by the front before the call). AWS refuses
        // role sessions to the root user; Ignis grants them when the trust
        // policy names the account, since in `open` mode every caller is
        // the root user (the evaluator would allow the root user anything).
        if *caller == Principal::Root {
            return Ok(trust_names_account(trust_policy));
        }
        let ctx = RequestContext::new(policy_principal(caller), "sts:AssumeRole", role_arn);
        Ok(matches!(
            authorize(&ctx, &[], Some(&document)),
            Decision::Allow
        ))
    }

    fn issue_session(
        &self,
        role_arn: &str,
        session_name: &str,
        duration_secs: u32,
    ) -> Result<SessionCredentials, AwsError> {
        let c = self
            .master
            .issue(
                role_arn,
                session_name,
                chrono::Duration::seconds(i64::from(duration_secs)),
                chrono::Utc::now(),
            )
            .map_err(|e| {
                tracing::error!(error = %e, "failed to issue session credentials");
                AwsError::sender(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    "ServiceFailure",
                    "Ignis failed to issue credentials",
                )
            })?;
        Ok(SessionCredentials {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: c.session_token,
            expiration: c.expiration,
        })
    }
}

/// Whether a trust policy allows `sts:AssumeRole` to the account itself
/// (`"AWS": "arn:aws:iam::<account>:root"`, the account id, or `"*"`).
fn trust_names_account(trust_policy: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(trust_policy) else {
        return false;
    };
    let statements = match &doc["Statement"] {
        serde_json::Value::Array(items) => items.clone(),
        one @ serde_json::Value::Object(_) => vec![one.clone()],
        _ => return false,
    };
    let strings = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let root = format!("arn:aws:iam::{ACCOUNT_ID}:root");
    statements.iter().any(|st| {
        let allows = st["Effect"] == "Allow";
        let action = strings(&st["Action"]).iter().any(|a| {
            matches!(
                a.to_ascii_lowercase().as_str(),
                "sts:assumerole" | "sts:*" | "*"
            )
        });
        let principal = &st["Principal"];
        let named = principal == "*"
            || strings(&principal["AWS"])
                .iter()
                .any(|p| p == "*" || *p == root || p == ACCOUNT_ID);
        allows && action && named
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_user_may_assume_roles_that_trust_the_account() {
        let account = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}"#;
        let lambda = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
        let by_id = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["000000000000"]},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
        assert!(trust_names_account(account));
        assert!(trust_names_account(by_id));
        assert!(!trust_names_account(lambda));
        assert!(!trust_names_account("{bad"));
    }
}
