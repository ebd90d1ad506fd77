//! Request and response bodies of the Lambda management API, field for field
//! as botocore's `service-2.json` names them (REST-JSON, PascalCase).
//!
//! Requests deny unknown fields; members of the service model that Ignis does
//! not act on yet are accepted as raw JSON so the API can refuse them by name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::function::{FunctionState, LastUpdateStatus};

/// `FunctionCode` of CreateFunction.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FunctionCode {
    /// Base64 of the zip.
    pub zip_file: Option<String>,
    /// S3 location (not supported by Ignis).
    pub s3_bucket: Option<String>,
    /// S3 key (not supported by Ignis).
    pub s3_key: Option<String>,
    /// S3 object version (not supported by Ignis).
    pub s3_object_version: Option<String>,
    /// S3 storage mode (not supported by Ignis).
    pub s3_object_storage_mode: Option<String>,
    /// Container image (not supported yet).
    pub image_uri: Option<String>,
    /// KMS key for the source (ignored).
    pub source_kms_key_arn: Option<String>,
}

/// `Environment`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Environment {
    /// The variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// `EnvironmentResponse`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct EnvironmentResponse {
    /// The variables.
    pub variables: BTreeMap<String, String>,
}

/// `EphemeralStorage`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EphemeralStorage {
    /// Size of `/tmp`, MB.
    pub size: u32,
}

/// `EphemeralStorage` as a request carries it (the size is range-checked later).
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EphemeralStorageInput {
    /// Size of `/tmp`, MB.
    pub size: i64,
}

/// `LoggingConfig`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LoggingConfig {
    /// `Text` or `JSON`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    /// Application log level (JSON format only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_log_level: Option<String>,
    /// System log level (JSON format only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_log_level: Option<String>,
    /// Log group name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
}

/// `TracingConfig` / `TracingConfigResponse`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TracingConfig {
    /// `PassThrough` or `Active`.
    pub mode: Option<String>,
}

/// `DeadLetterConfig`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DeadLetterConfig {
    /// Queue or topic ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_arn: Option<String>,
}

/// `SnapStartResponse`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct SnapStartResponse {
    /// `None`.
    pub apply_on: String,
    /// `Off`.
    pub optimization_status: String,
}

/// The request body of CreateFunction.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateFunctionRequest {
    /// Name, or ARN.
    pub function_name: String,
    /// Runtime identifier.
    pub runtime: Option<String>,
    /// Execution role.
    pub role: String,
    /// Handler.
    pub handler: Option<String>,
    /// Code.
    pub code: FunctionCode,
    /// Description.
    pub description: Option<String>,
    /// Timeout, seconds.
    pub timeout: Option<i64>,
    /// Memory, MB.
    pub memory_size: Option<i64>,
    /// Publish a version (versions come with a later issue).
    pub publish: Option<bool>,
    /// Environment.
    pub environment: Option<Environment>,
    /// Tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// Architectures.
    pub architectures: Option<Vec<String>>,
    /// `/tmp` size.
    pub ephemeral_storage: Option<EphemeralStorageInput>,
    /// `Zip` or `Image`.
    pub package_type: Option<String>,
    /// Logging configuration.
    pub logging_config: Option<LoggingConfig>,
    /// Tracing configuration.
    pub tracing_config: Option<TracingConfig>,
    /// Dead-letter configuration.
    pub dead_letter_config: Option<DeadLetterConfig>,
    /// KMS key ARN.
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
    /// VPC configuration: only an empty one is accepted.
    pub vpc_config: Option<Value>,
    /// Layer version ARNs, in order.
    pub layers: Option<Vec<String>>,
    /// `PublishTo` (not provided).
    pub publish_to: Option<Value>,
    /// `FileSystemConfigs` (not provided).
    pub file_system_configs: Option<Value>,
    /// `CodeSigningConfigArn` (not provided).
    pub code_signing_config_arn: Option<Value>,
    /// `ImageConfig` (not provided yet).
    pub image_config: Option<Value>,
    /// `SnapStart` (not provided).
    pub snap_start: Option<Value>,
    /// `TenancyConfig` (not provided).
    pub tenancy_config: Option<Value>,
    /// `CapacityProviderConfig` (not provided).
    pub capacity_provider_config: Option<Value>,
    /// `DurableConfig` (not provided).
    pub durable_config: Option<Value>,
    /// `RuntimeConfig` (not provided).
    pub runtime_config: Option<Value>,
    /// `AcceleratorConfig` (not provided).
    pub accelerator_config: Option<Value>,
}

/// Declares the service-model members Ignis refuses when set, on a request
/// struct, and a method naming the first one that is set.
macro_rules! unsupported_members {
    ($ty:ident { $($field:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            /// The name of the first member Ignis does not provide that is set.
            pub fn first_unsupported(&self) -> Option<&'static str> {
                [$(($name, &self.$field)),*]
                    .into_iter()
                    .find(|(_, v)| v.as_ref().is_some_and(is_set))
                    .map(|(n, _)| n)
            }
        }
    };
}

unsupported_members!(CreateFunctionRequest {
    publish_to => "PublishTo",
    file_system_configs => "FileSystemConfigs",
    code_signing_config_arn => "CodeSigningConfigArn",
    image_config => "ImageConfig",
    snap_start => "SnapStart",
    tenancy_config => "TenancyConfig",
    capacity_provider_config => "CapacityProviderConfig",
    durable_config => "DurableConfig",
    runtime_config => "RuntimeConfig",
    accelerator_config => "AcceleratorConfig",
    vpc_config => "VpcConfig",
});

unsupported_members!(UpdateFunctionConfigurationRequest {
    file_system_configs => "FileSystemConfigs",
    image_config => "ImageConfig",
    snap_start => "SnapStart",
    capacity_provider_config => "CapacityProviderConfig",
    durable_config => "DurableConfig",
    runtime_config => "RuntimeConfig",
    accelerator_config => "AcceleratorConfig",
    vpc_config => "VpcConfig",
});

/// Whether a JSON value carries anything (not null, empty or all-empty).
pub fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => a.iter().any(is_set),
        Value::Object(o) => o.values().any(is_set),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// The request body of UpdateFunctionCode.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpdateFunctionCodeRequest {
    /// Base64 of the zip.
    pub zip_file: Option<String>,
    /// S3 bucket (not supported).
    pub s3_bucket: Option<String>,
    /// S3 key (not supported).
    pub s3_key: Option<String>,
    /// S3 version (not supported).
    pub s3_object_version: Option<String>,
    /// S3 storage mode (not supported).
    pub s3_object_storage_mode: Option<String>,
    /// Image (not supported yet).
    pub image_uri: Option<String>,
    /// Architectures.
    pub architectures: Option<Vec<String>>,
    /// Publish a version (a later issue).
    pub publish: Option<bool>,
    /// `PublishTo` (not supported).
    pub publish_to: Option<Value>,
    /// Validate only.
    pub dry_run: Option<bool>,
    /// Only update if the revision matches.
    pub revision_id: Option<String>,
    /// KMS key for the source (ignored).
    #[serde(rename = "SourceKMSKeyArn")]
    pub source_kms_key_arn: Option<String>,
}

/// The request body of UpdateFunctionConfiguration.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpdateFunctionConfigurationRequest {
    /// Execution role.
    pub role: Option<String>,
    /// Handler.
    pub handler: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Timeout.
    pub timeout: Option<i64>,
    /// Memory.
    pub memory_size: Option<i64>,
    /// VPC (only empty accepted).
    pub vpc_config: Option<Value>,
    /// Environment.
    pub environment: Option<Environment>,
    /// Runtime.
    pub runtime: Option<String>,
    /// Dead-letter configuration.
    pub dead_letter_config: Option<DeadLetterConfig>,
    /// KMS key ARN.
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
    /// Tracing.
    pub tracing_config: Option<TracingConfig>,
    /// Only update if the revision matches.
    pub revision_id: Option<String>,
    /// Layer version ARNs, in order.
    pub layers: Option<Vec<String>>,
    /// `/tmp` size.
    pub ephemeral_storage: Option<EphemeralStorageInput>,
    /// Logging.
    pub logging_config: Option<LoggingConfig>,
    /// `FileSystemConfigs` (not provided).
    pub file_system_configs: Option<Value>,
    /// `ImageConfig` (not provided yet).
    pub image_config: Option<Value>,
    /// `SnapStart` (not provided).
    pub snap_start: Option<Value>,
    /// `CapacityProviderConfig` (not provided).
    pub capacity_provider_config: Option<Value>,
    /// `DurableConfig` (not provided).
    pub durable_config: Option<Value>,
    /// `RuntimeConfig` (not provided).
    pub runtime_config: Option<Value>,
    /// `AcceleratorConfig` (not provided).
    pub accelerator_config: Option<Value>,
}

/// `Layer` in a configuration.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct LayerRef {
    /// Layer version ARN.
    pub arn: String,
    /// Size, bytes.
    pub code_size: u64,
}

/// `FunctionConfiguration`, the answer of most management operations.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionConfiguration {
    /// Name.
    pub function_name: String,
    /// ARN.
    pub function_arn: String,
    /// Runtime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// Role.
    pub role: String,
    /// Handler.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    /// Zip size.
    pub code_size: u64,
    /// Description.
    pub description: String,
    /// Timeout, s.
    pub timeout: u32,
    /// Memory, MB.
    pub memory_size: u32,
    /// Last change.
    pub last_modified: String,
    /// Base64 SHA-256 of the zip.
    pub code_sha256: String,
    /// `$LATEST`.
    pub version: String,
    /// Environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<EnvironmentResponse>,
    /// KMS key.
    #[serde(rename = "KMSKeyArn", skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// Tracing.
    pub tracing_config: TracingConfig,
    /// Revision.
    pub revision_id: String,
    /// State.
    pub state: FunctionState,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// Why, as a code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason_code: Option<String>,
    /// Last update.
    pub last_update_status: LastUpdateStatus,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status_reason: Option<String>,
    /// Why, as a code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status_reason_code: Option<String>,
    /// `Zip`.
    pub package_type: String,
    /// Architectures.
    pub architectures: Vec<String>,
    /// `/tmp` size.
    pub ephemeral_storage: EphemeralStorage,
    /// Logging.
    pub logging_config: LoggingConfig,
    /// Dead-letter configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    /// Layers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerRef>,
    /// SnapStart (always off).
    pub snap_start: SnapStartResponse,
}

/// `FunctionCodeLocation`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionCodeLocation {
    /// `S3` on Lambda; Ignis serves the zip itself.
    pub repository_type: String,
    /// URL from which the zip can be downloaded.
    pub location: String,
}

/// The answer of GetFunction.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct GetFunctionResponse {
    /// Configuration.
    pub configuration: FunctionConfiguration,
    /// Where the code is.
    pub code: FunctionCodeLocation,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// The function's reserved concurrency, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
}

/// `Concurrency`: PutFunctionConcurrency's body, the answer of the
/// reserved-concurrency operations and GetFunction's `Concurrency`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Concurrency {
    /// The reservation; absent when none is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_concurrent_executions: Option<i64>,
}

/// The answer of ListFunctions.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ListFunctionsResponse {
    /// This page.
    pub functions: Vec<FunctionConfiguration>,
    /// Marker for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `AccountLimit`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AccountLimit {
    /// Total code storage, bytes.
    pub total_code_size: u64,
    /// Largest unzipped code, bytes.
    pub code_size_unzipped: u64,
    /// Largest zip, bytes.
    pub code_size_zipped: u64,
    /// Concurrency limit.
    pub concurrent_executions: u32,
    /// Concurrency not reserved by any function.
    pub unreserved_concurrent_executions: u32,
}

/// `AccountUsage`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AccountUsage {
    /// Code stored, bytes.
    pub total_code_size: u64,
    /// Number of functions.
    pub function_count: u64,
}

/// The answer of GetAccountSettings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AccountSettings {
    /// Limits.
    pub account_limit: AccountLimit,
    /// Usage.
    pub account_usage: AccountUsage,
}

/// The answer of ListTags and the body of TagResource.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Tags {
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_parses_botocore_body() {
        let body = r#"{"FunctionName":"hello","Runtime":"provided.al2023","Role":"arn:aws:iam::000000000000:role/x",
            "Handler":"bootstrap","Code":{"ZipFile":"UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="},"Timeout":5,
            "Environment":{"Variables":{"A":"b"}},"EphemeralStorage":{"Size":1024},"VpcConfig":{"SubnetIds":[]}}"#;
        let r: CreateFunctionRequest = serde_json::from_str(body).unwrap();
        assert_eq!(r.timeout, Some(5));
        assert!(!is_set(r.vpc_config.as_ref().unwrap()));
        assert_eq!(r.first_unsupported(), None);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let body = r#"{"FunctionName":"x","Role":"r","Code":{},"Bogus":1}"#;
        let err = serde_json::from_str::<CreateFunctionRequest>(body).unwrap_err();
        assert!(err.to_string().contains("Bogus"), "{err}");
    }

    #[test]
    fn unsupported_members_are_named() {
        let body = r#"{"FunctionName":"x","Role":"r","Code":{},"SnapStart":{"ApplyOn":"PublishedVersions"}}"#;
        let r: CreateFunctionRequest = serde_json::from_str(body).unwrap();
        assert_eq!(r.first_unsupported(), Some("SnapStart"));
    }
}
