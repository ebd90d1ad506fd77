//! The operations' shapes in Lambda's REST-JSON wire format
//! (`CreateEventSourceMappingRequest`, `UpdateEventSourceMappingRequest`,
//! `EventSourceMappingConfiguration`, `ListEventSourceMappingsResponse`).
//! The nested shapes are stored as they are sent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `FilterCriteria`: up to five patterns; an event is processed when any
/// matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FilterCriteria {
    /// The filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<Filter>>,
}

/// One filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Filter {
    /// The pattern, a JSON document in Lambda's filter language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// `ScalingConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ScalingConfig {
    /// The most concurrent invocations the mapping runs (2–1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_concurrency: Option<u32>,
}

/// `DestinationConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DestinationConfig {
    /// Where successes go (not used by event source mappings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<Destination>,
    /// Where failed batches go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<Destination>,
}

/// `OnSuccess` / `OnFailure`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Destination {
    /// The destination's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

/// `SourceAccessConfiguration`: how to reach a broker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SourceAccessConfiguration {
    /// `BASIC_AUTH`, `VIRTUAL_HOST`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// The value: a secret's ARN for `BASIC_AUTH`, the vhost's name for
    /// `VIRTUAL_HOST`.
    #[serde(default, rename = "URI", skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

/// `EventSourceMappingMetricsConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MetricsConfig {
    /// `EventCount`, `ErrorCount`, `KafkaMetrics`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Vec<String>>,
}

/// CreateEventSourceMapping's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateRequest {
    /// The source's ARN.
    pub event_source_arn: Option<String>,
    /// The function: name, ARN or partial ARN, optionally qualified.
    pub function_name: Option<String>,
    /// Whether the mapping polls (default true).
    pub enabled: Option<bool>,
    /// Records per invocation.
    pub batch_size: Option<u32>,
    /// Filters.
    pub filter_criteria: Option<FilterCriteria>,
    /// The key the filter criteria are encrypted with (stored).
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
    /// Metrics (stored).
    pub metrics_config: Option<MetricsConfig>,
    /// Gathering time, seconds.
    pub maximum_batching_window_in_seconds: Option<u32>,
    /// Scaling.
    pub scaling_config: Option<ScalingConfig>,
    /// Destinations.
    pub destination_config: Option<DestinationConfig>,
    /// Tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// Amazon MQ: the queue to consume (exactly one).
    pub queues: Option<Vec<String>>,
    /// Amazon MQ: credentials and virtual host.
    pub source_access_configurations: Option<Vec<SourceAccessConfiguration>>,
    /// `ReportBatchItemFailures`.
    pub function_response_types: Option<Vec<String>>,
    /// Stream and Kafka settings Ignis's sources do not take: refused when
    /// given, as is any field the model does not have.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// The fields of the model a queue or broker source refuses, in the
/// model's order.
pub const STREAM_FIELDS: &[&str] = &[
    "LoggingConfig",
    "ParallelizationFactor",
    "StartingPosition",
    "StartingPositionTimestamp",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
    "Topics",
    "SelfManagedEventSource",
    "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig",
    "ProvisionedPollerConfig",
];

/// UpdateEventSourceMapping's body: what is given changes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateRequest {
    /// A new function.
    pub function_name: Option<String>,
    /// Turn polling on or off.
    pub enabled: Option<bool>,
    /// Records per invocation.
    pub batch_size: Option<u32>,
    /// Filters (an empty `FilterCriteria` removes them).
    pub filter_criteria: Option<FilterCriteria>,
    /// The key the filter criteria are encrypted with.
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
    /// Metrics.
    pub metrics_config: Option<MetricsConfig>,
    /// Gathering time, seconds.
    pub maximum_batching_window_in_seconds: Option<u32>,
    /// Scaling.
    pub scaling_config: Option<ScalingConfig>,
    /// Destinations.
    pub destination_config: Option<DestinationConfig>,
    /// Amazon MQ: credentials and virtual host.
    pub source_access_configurations: Option<Vec<SourceAccessConfiguration>>,
    /// `ReportBatchItemFailures` (an empty list removes it).
    pub function_response_types: Option<Vec<String>>,
    /// Stream and Kafka settings: refused when given, as is any field the
    /// model does not have.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `EventSourceMappingConfiguration`, as every operation answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MappingConfiguration {
    /// The mapping's id.
    #[serde(rename = "UUID")]
    pub uuid: String,
    /// Records per invocation.
    pub batch_size: u32,
    /// Gathering time, seconds.
    pub maximum_batching_window_in_seconds: u32,
    /// The source.
    pub event_source_arn: String,
    /// Filters, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_criteria: Option<FilterCriteria>,
    /// The function (qualified when the mapping names a version or alias).
    pub function_arn: String,
    /// Last change, seconds since the Unix epoch (a `Date`: botocore reads
    /// a number).
    pub last_modified: f64,
    /// `No records processed`, `OK` or `PROBLEM: …`.
    pub last_processing_result: String,
    /// The state.
    pub state: String,
    /// `USER_INITIATED` (or why the service moved it).
    pub state_transition_reason: String,
    /// Destinations, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_config: Option<DestinationConfig>,
    /// Amazon MQ: the queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queues: Option<Vec<String>>,
    /// Amazon MQ: credentials and virtual host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_access_configurations: Option<Vec<SourceAccessConfiguration>>,
    /// `ReportBatchItemFailures`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_response_types: Option<Vec<String>>,
    /// Scaling, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaling_config: Option<ScalingConfig>,
    /// The key, when set.
    #[serde(rename = "KMSKeyArn", skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// Metrics, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_config: Option<MetricsConfig>,
    /// The mapping's own ARN.
    pub event_source_mapping_arn: String,
}

/// ListEventSourceMappings' answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResponse {
    /// The page.
    pub event_source_mappings: Vec<MappingConfiguration>,
    /// Where the next page starts, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}
