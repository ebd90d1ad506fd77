//! A function's execution role, checked where Lambda checks it: on
//! CreateFunction and UpdateFunctionConfiguration. In `enforce` mode the
//! role must exist and trust `lambda.amazonaws.com`; in `open` mode an
//! unknown role is created (trusting Lambda) so the quick start's made-up
//! role ARNs keep working and its functions still get credentials.

use std::collections::BTreeMap;

use http::StatusCode;
use ignis_iam::{Iam, Principal};
use ignis_identity::policy::{
    self, authorize, Decision, PolicyDocument, PolicyKind, RequestContext,
};
use ignis_protocol::{AwsError, QueryRequest};
use ignis_store::SqliteStore;

use crate::AuthMode;

/// The trust policy of a role Ignis creates for a function in `open` mode.
pub const LAMBDA_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Lambda's refusal of a role it cannot assume.
fn cannot_assume() -> AwsError {
    AwsError::sender(
        StatusCode::BAD_REQUEST,
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
    )
}

/// The `Role` of a CreateFunction / UpdateFunctionConfiguration body.
pub fn role_of(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("Role")?.as_str().map(str::to_string)
}

/// Checks (or, in `open` mode, makes) the role a function names.
pub async fn check(iam: &Iam<SqliteStore>, mode: AuthMode, role_arn: &str) -> Result<(), AwsError> {
    let role = iam.role_by_arn(role_arn).await?;
    match (role, mode) {
        (Some(role), AuthMode::Enforce) => {
            let trusts = PolicyDocument::parse(&role.trust_policy, PolicyKind::Trust)
                .map(|doc| {
                    let lambda = policy::Principal::service("lambda.amazonaws.com");
                    let ctx = RequestContext::new(lambda, "sts:AssumeRole", role_arn);
                    matches!(authorize(&ctx, &[], Some(&doc)), Decision::Allow)
                })
                .unwrap_or(false);
            if trusts {
                Ok(())
            } else {
                Err(cannot_assume())
            }
        }
        (None, AuthMode::Enforce) => Err(cannot_assume()),
        (Some(_), AuthMode::Open) => Ok(()),
        (None, AuthMode::Open) => create(iam, role_arn).await,
    }
}

/// Creates the role `role_arn` names, trusting Lambda; an ARN that names
/// no role of this account is left alone (the function keeps it, and gets
/// no credentials).
async fn create(iam: &Iam<SqliteStore>, role_arn: &str) -> Result<(), AwsError> {
    let prefix = format!("arn:aws:iam::{}:role", ignis_model::arn::ACCOUNT_ID);
    let Some(rest) = role_arn.strip_prefix(&prefix) else {
        return Ok(());
    };
    let (path, name) = match rest.rfind('/') {
        Some(i) => (&rest[..=i], &rest[i + 1..]),
        None => return Ok(()),
    };
    let params = BTreeMap::from([
        ("RoleName".to_string(), name.to_string()),
        ("Path".to_string(), path.to_string()),
        (
            "AssumeRolePolicyDocument".to_string(),
            LAMBDA_TRUST.to_string(),
        ),
        (
            "Description".to_string(),
            "Created by Ignis for a function (--auth open)".to_string(),
        ),
    ]);
    let req = QueryRequest {
        action: "CreateRole".into(),
        version: Some("2010-05-08".into()),
        params,
    };
    let op = Iam::<SqliteStore>::parse(&Principal::Root, &req)?;
    match iam.execute(&Principal::Root, op).await {
        Ok(_) => {
            tracing::info!(role = role_arn, "created the function's role (open mode)");
            Ok(())
        }
        // Made meanwhile by another request: as good.
        Err(e) if e.code == "EntityAlreadyExists" => Ok(()),
        // A name IAM would refuse: the function keeps its ARN, without credentials.
        Err(e) if e.status == StatusCode::BAD_REQUEST => Ok(()),
        Err(e) => Err(e),
    }
}
