//! The per-function configurations deploy tools read on every plan
//! (runtime management, recursive loop detection, scaling), their wire
//! shapes as botocore's model names them, and the values Lambda answers for
//! a function that has none configured.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, LambdaError};

/// The settings kind of a function's runtime management configuration.
pub const RUNTIME_MANAGEMENT: &str = "runtime-management";
/// The settings kind of a function's recursive loop detection.
pub const RECURSION: &str = "recursion";
/// The settings kind of a function's, version's or alias's resource policy.
pub const POLICY: &str = "policy";

/// `UpdateRuntimeOn` when none was put.
pub const UPDATE_RUNTIME_ON_DEFAULT: &str = "Auto";
/// `RecursiveLoop` when none was put.
pub const RECURSIVE_LOOP_DEFAULT: &str = "Terminate";

/// PutRuntimeManagementConfig's body (`Qualifier` is in the query string).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutRuntimeManagementConfigRequest {
    /// `Auto`, `FunctionUpdate` or `Manual`.
    #[serde(rename = "UpdateRuntimeOn")]
    pub update_runtime_on: String,
    /// The runtime version pinned in `Manual` mode.
    #[serde(rename = "RuntimeVersionArn")]
    pub runtime_version_arn: Option<String>,
}

/// A runtime management configuration as stored, and as
/// Get/PutRuntimeManagementConfig answer it (with the function's ARN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeManagementConfig {
    /// `Auto`, `FunctionUpdate` or `Manual`.
    #[serde(rename = "UpdateRuntimeOn")]
    pub update_runtime_on: String,
    /// The ARN the configuration belongs to.
    #[serde(
        rename = "FunctionArn",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub function_arn: String,
    /// The pinned runtime version (`Manual` only).
    #[serde(
        rename = "RuntimeVersionArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub runtime_version_arn: Option<String>,
}

impl RuntimeManagementConfig {
    /// What Lambda answers for a function that has none put.
    pub fn default_for(function_arn: String) -> Self {
        Self {
            update_runtime_on: UPDATE_RUNTIME_ON_DEFAULT.to_string(),
            function_arn,
            runtime_version_arn: None,
        }
    }

    /// Checks a PutRuntimeManagementConfig request as the model and Lambda
    /// do: the mode's enumeration, the ARN's pattern, and an ARN exactly
    /// when the mode is `Manual`.
    pub fn from_request(req: PutRuntimeManagementConfigRequest) -> Result<Self, LambdaError> {
        let mode = req.update_runtime_on.as_str();
        if !matches!(mode, "Auto" | "FunctionUpdate" | "Manual") {
            return Err(validation(format!(
                "Value '{mode}' at 'updateRuntimeOn' failed to satisfy constraint: Member must satisfy enum value set: [Auto, Manual, FunctionUpdate]"
            )));
        }
        if let Some(arn) = &req.runtime_version_arn {
            if !is_runtime_version_arn(arn) {
                return Err(validation(format!(
                    "Value '{arn}' at 'runtimeVersionArn' failed to satisfy constraint: Member must satisfy regular expression pattern: ^arn:(aws[a-zA-Z-]*):lambda:[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}}::runtime:.+$"
                )));
            }
        }
        match (mode, &req.runtime_version_arn) {
            ("Manual", None) => Err(LambdaError::invalid(
                "RuntimeVersionArn is required when UpdateRuntimeOn is Manual.",
            )),
            (m, Some(_)) if m != "Manual" => Err(LambdaError::invalid(format!(
                "RuntimeVersionArn can be set only when UpdateRuntimeOn is Manual, not {m}."
            ))),
            _ => Ok(Self {
                update_runtime_on: req.update_runtime_on,
                function_arn: String::new(),
                runtime_version_arn: req.runtime_version_arn,
            }),
        }
    }
}

/// `arn:<partition>:lambda:<region>::runtime:<id>` (Lambda's runtime
/// versions), or an account's `runtime/<name>/version/<v>`.
fn is_runtime_version_arn(arn: &str) -> bool {
    if arn.len() < 26 || arn.len() > 2048 {
        return false;
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_, partition, "lambda", region, account, resource] = parts.as_slice() else {
        return false;
    };
    *arn_ == "arn"
        && partition.starts_with("aws")
        && !region.is_empty()
        && ((account.is_empty()
            && resource
                .strip_prefix("runtime:")
                .is_some_and(|r| !r.is_empty()))
            || (account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.starts_with("runtime/")
                && resource.contains("/version/")))
}

/// Get/PutFunctionRecursionConfig's shape (and Put's body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecursionConfig {
    /// `Allow` or `Terminate`.
    #[serde(rename = "RecursiveLoop")]
    pub recursive_loop: String,
}

impl RecursionConfig {
    /// What Lambda answers for a function that has none put.
    pub fn default_config() -> Self {
        Self {
            recursive_loop: RECURSIVE_LOOP_DEFAULT.to_string(),
        }
    }

    /// Checks the enumeration.
    pub fn check(&self) -> Result<(), LambdaError> {
        if matches!(self.recursive_loop.as_str(), "Allow" | "Terminate") {
            return Ok(());
        }
        Err(validation(format!(
            "Value '{}' at 'recursiveLoop' failed to satisfy constraint: Member must satisfy enum value set: [Allow, Terminate]",
            self.recursive_loop
        )))
    }
}

/// PutFunctionScalingConfig's body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutFunctionScalingConfigRequest {
    /// The execution environments to keep and allow.
    #[serde(rename = "FunctionScalingConfig")]
    pub function_scaling_config: Option<FunctionScalingConfig>,
}

/// `FunctionScalingConfig`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionScalingConfig {
    /// Fewest execution environments (0–15000).
    #[serde(rename = "MinExecutionEnvironments")]
    pub min_execution_environments: Option<i64>,
    /// Most execution environments (0–15000).
    #[serde(rename = "MaxExecutionEnvironments")]
    pub max_execution_environments: Option<i64>,
}

impl FunctionScalingConfig {
    /// Checks the model's ranges.
    pub fn check(&self) -> Result<(), LambdaError> {
        for (member, value) in [
            ("minExecutionEnvironments", self.min_execution_environments),
            ("maxExecutionEnvironments", self.max_execution_environments),
        ] {
            if let Some(v) = value.filter(|v| !(0..=15_000).contains(v)) {
                return Err(validation(format!(
                    "Value '{v}' at 'functionScalingConfig.{member}' failed to satisfy constraint: Member must have value between 0 and 15000"
                )));
            }
        }
        Ok(())
    }
}

fn validation(detail: String) -> LambdaError {
    LambdaError::new(
        ErrorKind::Validation,
        format!("1 validation error detected: {detail}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(mode: &str, arn: Option<&str>) -> Result<RuntimeManagementConfig, LambdaError> {
        RuntimeManagementConfig::from_request(PutRuntimeManagementConfigRequest {
            update_runtime_on: mode.into(),
            runtime_version_arn: arn.map(str::to_owned),
        })
    }

    const RUNTIME: &str = "arn:aws:lambda:us-east-1::runtime:0b5d1a5d58a5cfc1fd5c07a1eb41c0f1a56fdcb9f1bfc0b8fbab0b2c6e6cd05a";

    #[test]
    fn runtime_management_modes() {
        assert_eq!(put("Auto", None).unwrap().update_runtime_on, "Auto");
        assert_eq!(
            put("FunctionUpdate", None).unwrap().runtime_version_arn,
            None
        );
        let manual = put("Manual", Some(RUNTIME)).unwrap();
        assert_eq!(manual.runtime_version_arn.as_deref(), Some(RUNTIME));
        assert_eq!(
            put("Sometimes", None).unwrap_err().kind,
            ErrorKind::Validation
        );
        assert_eq!(
            put("Manual", None).unwrap_err().kind,
            ErrorKind::InvalidParameterValue
        );
        assert_eq!(
            put("Auto", Some(RUNTIME)).unwrap_err().kind,
            ErrorKind::InvalidParameterValue
        );
        assert_eq!(
            put("Manual", Some("arn:aws:s3:::bucket/runtime"))
                .unwrap_err()
                .kind,
            ErrorKind::Validation
        );
        let shown = RuntimeManagementConfig {
            function_arn: "arn:f".into(),
            ..manual
        };
        assert_eq!(
            serde_json::to_string(&shown).unwrap(),
            format!(
                r#"{{"UpdateRuntimeOn":"Manual","FunctionArn":"arn:f","RuntimeVersionArn":"{RUNTIME}"}}"#
            )
        );
        assert_eq!(
            serde_json::to_string(&RuntimeManagementConfig::default_for("arn:f".into())).unwrap(),
            r#"{"UpdateRuntimeOn":"Auto","FunctionArn":"arn:f"}"#
        );
    }

    #[test]
    fn recursion_and_scaling_checks() {
        RecursionConfig::default_config().check().unwrap();
        let allow = RecursionConfig {
            recursive_loop: "Allow".into(),
        };
        allow.check().unwrap();
        let bad = RecursionConfig {
            recursive_loop: "Never".into(),
        };
        assert_eq!(bad.check().unwrap_err().kind, ErrorKind::Validation);
        let scaling = |min, max| FunctionScalingConfig {
            min_execution_environments: min,
            max_execution_environments: max,
        };
        scaling(Some(0), Some(15_000)).check().unwrap();
        assert!(scaling(Some(-1), None).check().is_err());
        assert!(scaling(None, Some(15_001)).check().is_err());
    }
}
