//! Helpers shared by the crates' tests, used only as a dev-dependency: one
//! builder of [`FunctionRecord`]s, so every test starts from the same valid,
//! fully populated function and changes only what it is about.
#![deny(missing_docs)]

use std::collections::BTreeMap;

use ignis_model::function::{CodeRef, LastUpdateStatus};
use ignis_model::wire::LoggingConfig;
use ignis_model::{FunctionRecord, FunctionState};

/// Builds a [`FunctionRecord`]: an `Active` `provided.al2023` function with
/// handler `bootstrap`, 3 s, 128 MB, 512 MB of `/tmp`, one environment
/// variable (`GREETING=hi`), revision `r1` and code `aa` of 1 byte.
#[derive(Debug, Clone)]
pub struct FunctionRecordBuilder {
    record: FunctionRecord,
}

impl FunctionRecordBuilder {
    /// A function called `name` with the defaults above.
    pub fn new(name: &str) -> Self {
        Self {
            record: FunctionRecord {
                name: name.to_string(),
                runtime: Some("provided.al2023".to_string()),
                role: "arn:aws:iam::000000000000:role/test".to_string(),
                handler: Some("bootstrap".to_string()),
                description: String::new(),
                timeout: 3,
                memory_size: 128,
                environment: BTreeMap::from([("GREETING".to_string(), "hi".to_string())]),
                ephemeral_storage: 512,
                architectures: vec!["x86_64".to_string()],
                tags: BTreeMap::new(),
                code: code("aa", 1),
                last_modified: "2024-05-01T12:00:00.000+0000".to_string(),
                revision_id: "r1".to_string(),
                state: FunctionState::Active,
                state_reason: None,
                state_reason_code: None,
                last_update_status: LastUpdateStatus::Successful,
                last_update_status_reason: None,
                last_update_status_reason_code: None,
                logging: LoggingConfig::default(),
                tracing_mode: "PassThrough".to_string(),
                dead_letter_target_arn: None,
                kms_key_arn: None,
                layers: Vec::new(),
                version: ignis_model::Version::Latest,
            },
        }
    }

    /// The runtime identifier.
    pub fn runtime(mut self, runtime: &str) -> Self {
        self.record.runtime = Some(runtime.to_string());
        self
    }

    /// Timeout, seconds.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.record.timeout = seconds;
        self
    }

    /// MemorySize, MB.
    pub fn memory(mut self, mb: u32) -> Self {
        self.record.memory_size = mb;
        self
    }

    /// The revision id.
    pub fn revision(mut self, revision: &str) -> Self {
        self.record.revision_id = revision.to_string();
        self
    }

    /// The code: its SHA-256 (hex) and zip size; unpacked, twice that.
    pub fn code(mut self, sha256_hex: &str, size: u64) -> Self {
        self.record.code = code(sha256_hex, size);
        self
    }

    /// The record.
    pub fn build(self) -> FunctionRecord {
        self.record
    }
}

fn code(sha256_hex: &str, size: u64) -> CodeRef {
    CodeRef {
        sha256_hex: sha256_hex.to_string(),
        sha256_b64: "b64".to_string(),
        size,
        unzipped_size: size * 2,
    }
}

/// [`FunctionRecordBuilder::new`].
pub fn function(name: &str) -> FunctionRecordBuilder {
    FunctionRecordBuilder::new(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_valid_active_function_and_changes_only_what_is_asked() {
        let f = function("f")
            .timeout(9)
            .memory(256)
            .code("bb", 10)
            .revision("r2")
            .build();
        assert_eq!(
            (
                f.name.as_str(),
                f.timeout,
                f.memory_size,
                f.revision_id.as_str()
            ),
            ("f", 9, 256, "r2")
        );
        assert_eq!(
            (f.code.sha256_hex.as_str(), f.code.unzipped_size),
            ("bb", 20)
        );
        assert_eq!(f.state, FunctionState::Active);
    }
}
