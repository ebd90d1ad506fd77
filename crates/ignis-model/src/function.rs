//! The stored form of a function (`$LATEST`) and its rendering as Lambda's
//! `FunctionConfiguration`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::arn;
use crate::layer::FunctionLayer;
use crate::version::Version;
use crate::wire::{
    EnvironmentResponse, EphemeralStorage, FunctionConfiguration, LoggingConfig, TracingConfig,
};

/// Lambda's function `State`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum FunctionState {
    /// Being created: code is being prepared on this node.
    Pending,
    /// Ready to invoke.
    Active,
    /// Creation failed; `state_reason` says why.
    Failed,
}

/// Lambda's `LastUpdateStatus`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum LastUpdateStatus {
    /// An update is being applied.
    InProgress,
    /// The last update took effect.
    Successful,
    /// The last update failed.
    Failed,
}

/// The function's code, content-addressed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CodeRef {
    /// SHA-256 of the zip, lowercase hex: the blob's and unpacked tree's key.
    pub sha256_hex: String,
    /// SHA-256 of the zip, base64: Lambda's `CodeSha256`.
    pub sha256_b64: String,
    /// Size of the zip, bytes: Lambda's `CodeSize`.
    pub size: u64,
    /// Size of the unpacked files, bytes.
    pub unzipped_size: u64,
}

/// One function as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FunctionRecord {
    /// Bare function name.
    pub name: String,
    /// Runtime identifier.
    pub runtime: Option<String>,
    /// Execution role ARN.
    pub role: String,
    /// Handler, e.g. `bootstrap` or `handler.main`.
    pub handler: Option<String>,
    /// Description.
    pub description: String,
    /// Timeout, seconds.
    pub timeout: u32,
    /// Memory, MB.
    pub memory_size: u32,
    /// User environment variables.
    pub environment: BTreeMap<String, String>,
    /// `/tmp` size, MB.
    pub ephemeral_storage: u32,
    /// `x86_64` or `arm64`.
    pub architectures: Vec<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The code.
    pub code: CodeRef,
    /// Lambda's `LastModified`, e.g. `2024-05-01T12:00:00.000+0000`.
    pub last_modified: String,
    /// Changes on every update; guards conditional updates.
    pub revision_id: String,
    /// Lifecycle state.
    pub state: FunctionState,
    /// Why the state is what it is.
    pub state_reason: Option<String>,
    /// Lambda's `StateReasonCode`.
    pub state_reason_code: Option<String>,
    /// Status of the last update.
    pub last_update_status: LastUpdateStatus,
    /// Why the last update is in that status.
    pub last_update_status_reason: Option<String>,
    /// Lambda's `LastUpdateStatusReasonCode`.
    pub last_update_status_reason_code: Option<String>,
    /// Log format and group.
    pub logging: LoggingConfig,
    /// `PassThrough` or `Active`.
    pub tracing_mode: String,
    /// Dead-letter target for failed async invocations.
    pub dead_letter_target_arn: Option<String>,
    /// KMS key for the environment, reported back as given.
    pub kms_key_arn: Option<String>,
    /// Layers, in the order they are unpacked (records stored before
    /// layers existed have none).
    #[serde(default)]
    pub layers: Vec<FunctionLayer>,
    /// Which version this record is: `$LATEST`, or a published (frozen)
    /// one (records stored before versions existed are `$LATEST`).
    #[serde(default)]
    pub version: Version,
}

impl FunctionRecord {
    /// The function's unqualified ARN in `region`.
    pub fn arn(&self, region: &str) -> String {
        arn::function_arn(region, &self.name)
    }

    /// The ARN of this version: unqualified for `$LATEST` (as Lambda
    /// answers GetFunction without a qualifier), `…:function:f:3` for a
    /// published version.
    pub fn version_arn(&self, region: &str) -> String {
        match self.version {
            Version::Latest => self.arn(region),
            Version::Published(n) => format!("{}:{n}", self.arn(region)),
        }
    }

    /// What decides whether publishing makes a new version: the code and
    /// every setting a version freezes (not the description, tags or
    /// state), as one string. Lambda publishes no new version when it
    /// equals the newest version's.
    pub fn publish_fingerprint(&self) -> String {
        let frozen = serde_json::json!([
            self.code.sha256_hex,
            self.runtime,
            self.role,
            self.handler,
            self.timeout,
            self.memory_size,
            self.environment,
            self.ephemeral_storage,
            self.architectures,
            self.logging,
            self.tracing_mode,
            self.dead_letter_target_arn,
            self.kms_key_arn,
            self.layers.iter().map(|l| &l.arn).collect::<Vec<_>>(),
        ]);
        frozen.to_string()
    }

    /// Lambda's `FunctionConfiguration` of this version.
    pub fn configuration(&self, region: &str) -> FunctionConfiguration {
        FunctionConfiguration {
            function_name: self.name.clone(),
            function_arn: self.version_arn(region),
            runtime: self.runtime.clone(),
            role: self.role.clone(),
            handler: self.handler.clone(),
            code_size: self.code.size,
            description: self.description.clone(),
            timeout: self.timeout,
            memory_size: self.memory_size,
            last_modified: self.last_modified.clone(),
            code_sha256: self.code.sha256_b64.clone(),
            version: self.version.to_string(),
            environment: (!self.environment.is_empty()).then(|| EnvironmentResponse {
                variables: self.environment.clone(),
            }),
            kms_key_arn: self.kms_key_arn.clone(),
            tracing_config: TracingConfig {
                mode: Some(self.tracing_mode.clone()),
            },
            revision_id: self.revision_id.clone(),
            state: self.state,
            state_reason: self.state_reason.clone(),
            state_reason_code: self.state_reason_code.clone(),
            last_update_status: self.last_update_status,
            last_update_status_reason: self.last_update_status_reason.clone(),
            last_update_status_reason_code: self.last_update_status_reason_code.clone(),
            package_type: "Zip".to_string(),
            architectures: self.architectures.clone(),
            ephemeral_storage: EphemeralStorage {
                size: self.ephemeral_storage,
            },
            logging_config: self.logging.clone(),
            dead_letter_config: self.dead_letter_target_arn.clone().map(|arn| {
                crate::wire::DeadLetterConfig {
                    target_arn: Some(arn),
                }
            }),
            layers: self
                .layers
                .iter()
                .map(|l| crate::wire::LayerRef {
                    arn: l.arn.clone(),
                    code_size: l.code.size,
                })
                .collect(),
            snap_start: crate::wire::SnapStartResponse {
                apply_on: "None".to_string(),
                optimization_status: "Off".to_string(),
            },
        }
    }
}

/// Lambda's timestamp format for `LastModified`.
pub fn lambda_timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_without_layers_still_load() {
        let old = r#"{"name":"f","runtime":"provided.al2023","role":"r","handler":"bootstrap",
            "description":"","timeout":3,"memory_size":128,"environment":{},"ephemeral_storage":512,
            "architectures":["x86_64"],"tags":{},"code":{"sha256_hex":"aa","sha256_b64":"qg==","size":1,
            "unzipped_size":1},"last_modified":"t","revision_id":"r","state":"Active","state_reason":null,
            "state_reason_code":null,"last_update_status":"Successful","last_update_status_reason":null,
            "last_update_status_reason_code":null,"logging":{},"tracing_mode":"PassThrough",
            "dead_letter_target_arn":null,"kms_key_arn":null}"#;
        let record: FunctionRecord = serde_json::from_str(old).unwrap();
        assert!(record.layers.is_empty());
        let json = serde_json::to_value(record.configuration("us-east-1")).unwrap();
        assert!(json.get("Layers").is_none());
    }

    #[test]
    fn timestamp_format_matches_lambda() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 123_000_000).unwrap();
        assert_eq!(lambda_timestamp(t), "2023-11-14T22:13:20.123+0000");
    }
}
