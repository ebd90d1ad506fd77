//! AWS managed policies that functions commonly attach, with their real
//! default versions' documents (`data/aws-managed-policies.json`, taken
//! from the published AWS managed policy list and documents; see
//! `data/README.md`). They exist by ARN in every account; they cannot be
//! changed or deleted.

use std::sync::OnceLock;

use serde::Deserialize;

/// One AWS managed policy.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AwsManagedPolicy {
    /// Its name.
    pub policy_name: String,
    /// Its id (`ANPA…`), as AWS gives it.
    pub policy_id: String,
    /// `arn:aws:iam::aws:policy/<path><name>`.
    pub arn: String,
    /// Its path (`/`, `/service-role/`).
    pub path: String,
    /// Its default version (`v1`).
    pub default_version_id: String,
    /// When AWS created it (`2015-04-09T15:03:43Z`).
    pub create_date: String,
    /// When AWS last changed it.
    pub update_date: String,
    /// The default version's document.
    pub document: String,
}

/// Every AWS managed policy Ignis knows, in the data file's order.
pub fn all() -> &'static [AwsManagedPolicy] {
    static POLICIES: OnceLock<Vec<AwsManagedPolicy>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        serde_json::from_str(include_str!("../data/aws-managed-policies.json"))
            .expect("the embedded AWS managed policies parse (checked by a test)")
    })
}

/// The AWS managed policy of this ARN.
pub fn by_arn(arn: &str) -> Option<&'static AwsManagedPolicy> {
    all().iter().find(|p| p.arn == arn)
}

/// Whether an ARN names an AWS managed policy (known or not).
pub fn is_aws_arn(arn: &str) -> bool {
    arn.starts_with("arn:aws:iam::aws:policy/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{validate, PolicyKind};

    #[test]
    fn the_commonly_attached_policies_exist_with_valid_documents() {
        for name in [
            "service-role/AWSLambdaBasicExecutionRole",
            "service-role/AWSLambdaSQSQueueExecutionRole",
            "service-role/AWSLambdaDynamoDBExecutionRole",
            "service-role/AWSLambdaKinesisExecutionRole",
            "service-role/AWSLambdaVPCAccessExecutionRole",
            "service-role/AWSLambdaRole",
            "AWSLambda_FullAccess",
            "AWSLambda_ReadOnlyAccess",
            "AdministratorAccess",
            "ReadOnlyAccess",
            "AmazonS3ReadOnlyAccess",
            "AmazonS3FullAccess",
            "AmazonSQSFullAccess",
        ] {
            let arn = format!("arn:aws:iam::aws:policy/{name}");
            let p = by_arn(&arn).unwrap_or_else(|| panic!("{arn} missing"));
            assert!(arn.ends_with(&format!("{}{}", p.path, p.policy_name)));
            assert!(p.policy_id.starts_with("ANPA"), "{}", p.policy_id);
        }
        for p in all() {
            assert_eq!(
                validate(&p.document, PolicyKind::Identity),
                Ok(()),
                "{}",
                p.arn
            );
        }
        let basic =
            by_arn("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole").unwrap();
        assert!(basic.document.contains("logs:PutLogEvents"));
        assert!(by_arn("arn:aws:iam::aws:policy/NoSuchPolicy").is_none());
    }
}
