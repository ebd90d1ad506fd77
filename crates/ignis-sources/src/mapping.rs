//! [`Mapping`]: one event source mapping as Ignis keeps it (the store's
//! record), and its rendering as Lambda's `EventSourceMappingConfiguration`.

use std::collections::BTreeMap;

use ignis_model::arn::ACCOUNT_ID;
use ignis_store::MappingRow;
use serde::{Deserialize, Serialize};

use crate::source::Source;
use crate::state::State;
use crate::wire::{
    DestinationConfig, FilterCriteria, MappingConfiguration, MetricsConfig, ScalingConfig,
    SourceAccessConfiguration,
};

/// `StateTransitionReason` of a change the caller asked for.
pub const USER_INITIATED: &str = "USER_INITIATED";
/// `LastProcessingResult` before the first batch.
pub const NO_RECORDS: &str = "No records processed";

/// The function a mapping invokes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionTarget {
    /// Its name.
    pub name: String,
    /// The version or alias named, if any.
    pub qualifier: Option<String>,
    /// Its ARN, qualified when a qualifier was named.
    pub arn: String,
}

/// An event source mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    /// Its id.
    pub uuid: String,
    /// The function it invokes.
    pub function: FunctionTarget,
    /// The source's ARN, as given.
    pub event_source_arn: String,
    /// What the source is.
    pub source: Source,
    /// Records per invocation.
    pub batch_size: u32,
    /// Gathering time, seconds.
    pub batching_window: u32,
    /// Filters, as given (validated).
    pub filter_criteria: Option<FilterCriteria>,
    /// Whether the function reports batch item failures.
    pub report_batch_item_failures: bool,
    /// Scaling.
    pub scaling: Option<ScalingConfig>,
    /// Destinations.
    pub destination: Option<DestinationConfig>,
    /// Amazon MQ: the queue.
    pub queues: Option<Vec<String>>,
    /// Amazon MQ: credentials and virtual host.
    pub source_access: Option<Vec<SourceAccessConfiguration>>,
    /// The filter criteria's key.
    pub kms_key_arn: Option<String>,
    /// Metrics.
    pub metrics: Option<MetricsConfig>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The `Enabled` flag.
    pub enabled: bool,
    /// Where the state machine is.
    pub state: State,
    /// Why it got there.
    pub state_reason: String,
    /// The last batch's outcome.
    pub last_processing_result: String,
    /// Last change, milliseconds since the Unix epoch.
    pub last_modified_ms: i64,
    /// The store's revision this was read at (not part of the record).
    #[serde(skip)]
    pub revision: i64,
}

/// Why a stored record could not be read.
#[derive(Debug, thiserror::Error)]
#[error("failed to read the stored event source mapping {uuid}")]
pub struct CorruptMapping {
    /// The mapping.
    pub uuid: String,
    /// The parse error.
    #[source]
    pub source: serde_json::Error,
}

impl Mapping {
    /// The mapping's own ARN.
    pub fn arn(&self, region: &str) -> String {
        format!(
            "arn:aws:lambda:{region}:{ACCOUNT_ID}:event-source-mapping:{}",
            self.uuid
        )
    }

    /// Its row in the store.
    pub fn to_row(&self) -> MappingRow {
        MappingRow {
            uuid: self.uuid.clone(),
            event_source_arn: self.event_source_arn.clone(),
            function_arn: self.function.arn.clone(),
            function_name: self.function.name.clone(),
            revision: self.revision,
            record: serde_json::to_string(self).expect("a mapping serializes"),
        }
    }

    /// Reads a stored row.
    pub fn from_row(row: &MappingRow) -> Result<Self, CorruptMapping> {
        let mut m: Mapping =
            serde_json::from_str(&row.record).map_err(|source| CorruptMapping {
                uuid: row.uuid.clone(),
                source,
            })?;
        m.revision = row.revision;
        Ok(m)
    }

    /// Lambda's `EventSourceMappingConfiguration`.
    pub fn configuration(&self, region: &str) -> MappingConfiguration {
        MappingConfiguration {
            uuid: self.uuid.clone(),
            batch_size: self.batch_size,
            maximum_batching_window_in_seconds: self.batching_window,
            event_source_arn: self.event_source_arn.clone(),
            filter_criteria: self.filter_criteria.clone(),
            function_arn: self.function.arn.clone(),
            last_modified: self.last_modified_ms as f64 / 1000.0,
            last_processing_result: self.last_processing_result.clone(),
            state: self.state.as_str().to_owned(),
            state_transition_reason: self.state_reason.clone(),
            destination_config: self.destination.clone(),
            queues: self.queues.clone(),
            source_access_configurations: self.source_access.clone(),
            function_response_types: self
                .report_batch_item_failures
                .then(|| vec![crate::validate::REPORT_BATCH_ITEM_FAILURES.to_owned()]),
            scaling_config: self.scaling.clone(),
            kms_key_arn: self.kms_key_arn.clone(),
            metrics_config: self.metrics.clone(),
            event_source_mapping_arn: self.arn(region),
        }
    }

    /// The most batches in flight at once: `ScalingConfig.MaximumConcurrency`
    /// or `default`.
    pub fn max_concurrency(&self, default: u32) -> u32 {
        self.scaling
            .as_ref()
            .and_then(|s| s.maximum_concurrency)
            .unwrap_or(default)
    }
}
