//! Lambda's checks of a mapping's settings, per source: the model's ranges
//! (`ValidationException` in botocore's wording) and Lambda's own rules
//! (`InvalidParameterValueException`). Pure: the caller looks the source
//! and the function up.

use std::collections::BTreeMap;

use ignis_model::{ErrorKind, LambdaError};
use serde_json::Value;

use crate::filter;
use crate::source::Source;
use crate::wire::{
    CreateRequest, DestinationConfig, FilterCriteria, MetricsConfig, ScalingConfig,
    SourceAccessConfiguration, UpdateRequest, STREAM_FIELDS,
};

/// The one `FunctionResponseType`.
pub const REPORT_BATCH_ITEM_FAILURES: &str = "ReportBatchItemFailures";

/// The settings a mapping's source governs, checked together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// Records per invocation.
    pub batch_size: u32,
    /// Gathering time, seconds.
    pub batching_window: u32,
    /// Filters (`None`: none).
    pub filter_criteria: Option<FilterCriteria>,
    /// `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
    /// Scaling.
    pub scaling: Option<ScalingConfig>,
    /// Destinations.
    pub destination: Option<DestinationConfig>,
    /// Amazon MQ: the queue.
    pub queues: Option<Vec<String>>,
    /// Amazon MQ: credentials and virtual host.
    pub source_access: Option<Vec<SourceAccessConfiguration>>,
}

fn invalid(message: impl Into<String>) -> LambdaError {
    LambdaError::new(ErrorKind::InvalidParameterValue, message)
}

fn out_of_range(value: i64, field: &str, min: i64, max: i64) -> Option<LambdaError> {
    let bound = if value < min {
        format!("greater than or equal to {min}")
    } else if value > max {
        format!("less than or equal to {max}")
    } else {
        return None;
    };
    Some(LambdaError::new(
        ErrorKind::Validation,
        format!("1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must have value {bound}"),
    ))
}

fn kind_name(source: &Source) -> &'static str {
    match source {
        Source::Sqs { .. } => "SQS",
        Source::Mq { .. } => "Amazon MQ",
    }
}

/// Refuses the fields of other sources (`StartingPosition is not valid for
/// SQS event sources.`, as Lambda words it) and fields the model lacks.
pub fn refuse_other_fields(
    other: &BTreeMap<String, Value>,
    source: &Source,
) -> Result<(), LambdaError> {
    for (field, value) in other {
        if !STREAM_FIELDS.contains(&field.as_str()) {
            return Err(LambdaError::new(
                ErrorKind::InvalidRequestContent,
                format!("Could not parse request body into json: unknown field `{field}`"),
            ));
        }
        if !value.is_null() {
            return Err(invalid(format!(
                "{field} is not valid for {} event sources.",
                kind_name(source)
            )));
        }
    }
    Ok(())
}

/// The `FunctionResponseTypes` list: whether it asks for batch item
/// failures.
pub fn response_types(types: &[String]) -> Result<bool, LambdaError> {
    if let Some(bad) = types.iter().find(|t| *t != REPORT_BATCH_ITEM_FAILURES) {
        return Err(LambdaError::new(
            ErrorKind::Validation,
            format!("1 validation error detected: Value '[{bad}]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{REPORT_BATCH_ITEM_FAILURES}]]"),
        ));
    }
    if types.len() > 1 {
        return Err(LambdaError::new(
            ErrorKind::Validation,
            format!("1 validation error detected: Value '{types:?}' at 'functionResponseTypes' failed to satisfy constraint: Member must have length less than or equal to 1"),
        ));
    }
    Ok(!types.is_empty())
}

/// The model's constraints on `KMSKeyArn` (an ARN or empty) and
/// `MetricsConfig.Metrics` (`EventCount`, `ErrorCount`, `KafkaMetrics`).
pub fn stored_fields(
    kms: Option<&str>,
    metrics: Option<&MetricsConfig>,
) -> Result<(), LambdaError> {
    if let Some(k) = kms {
        let parts: Vec<&str> = k.splitn(4, ':').collect();
        let arn_like =
            matches!(parts.as_slice(), ["arn", p, s, _] if p.starts_with("aws") && !s.is_empty());
        if !k.is_empty() && !arn_like {
            return Err(LambdaError::new(
                ErrorKind::Validation,
                format!("1 validation error detected: Value '{k}' at 'kMSKeyArn' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()"),
            ));
        }
    }
    for m in metrics
        .and_then(|m| m.metrics.as_deref())
        .unwrap_or_default()
    {
        if !matches!(m.as_str(), "EventCount" | "ErrorCount" | "KafkaMetrics") {
            return Err(LambdaError::new(
                ErrorKind::Validation,
                format!("1 validation error detected: Value '[{m}]' at 'metricsConfig.metrics' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [EventCount, ErrorCount, KafkaMetrics]]"),
            ));
        }
    }
    Ok(())
}

impl Settings {
    /// A create's settings, with the source's defaults.
    pub fn of_create(req: &CreateRequest, source: &Source) -> Result<Self, LambdaError> {
        let default_batch = match source {
            Source::Sqs { .. } => 10,
            Source::Mq { .. } => 100,
        };
        let settings = Self {
            batch_size: req.batch_size.unwrap_or(default_batch),
            batching_window: req.maximum_batching_window_in_seconds.unwrap_or(0),
            filter_criteria: non_empty(req.filter_criteria.clone()),
            report_batch_item_failures: response_types(
                req.function_response_types.as_deref().unwrap_or_default(),
            )?,
            scaling: req.scaling_config.clone(),
            destination: req.destination_config.clone(),
            queues: req.queues.clone(),
            source_access: req.source_access_configurations.clone(),
        };
        settings.check(source)?;
        Ok(settings)
    }

    /// The settings after an update (what it names changes).
    pub fn updated(&self, req: &UpdateRequest, source: &Source) -> Result<Self, LambdaError> {
        let mut next = self.clone();
        if let Some(b) = req.batch_size {
            next.batch_size = b;
        }
        if let Some(w) = req.maximum_batching_window_in_seconds {
            next.batching_window = w;
        }
        if let Some(f) = &req.filter_criteria {
            next.filter_criteria = non_empty(Some(f.clone()));
        }
        if let Some(t) = &req.function_response_types {
            next.report_batch_item_failures = response_types(t)?;
        }
        if let Some(s) = &req.scaling_config {
            next.scaling = s.maximum_concurrency.is_some().then(|| s.clone());
        }
        if let Some(d) = &req.destination_config {
            next.destination = Some(d.clone());
        }
        if let Some(a) = &req.source_access_configurations {
            next.source_access = Some(a.clone());
        }
        next.check(source)?;
        Ok(next)
    }

    /// Lambda's checks of these settings for `source`.
    pub fn check(&self, source: &Source) -> Result<(), LambdaError> {
        if let Some(e) = out_of_range(self.batch_size.into(), "batchSize", 1, 10_000) {
            return Err(e);
        }
        if let Some(e) = out_of_range(
            self.batching_window.into(),
            "maximumBatchingWindowInSeconds",
            0,
            300,
        ) {
            return Err(e);
        }
        if let Some(c) = self.scaling.as_ref().and_then(|s| s.maximum_concurrency) {
            if let Some(e) = out_of_range(c.into(), "scalingConfig.maximumConcurrency", 2, 1000) {
                return Err(e);
            }
        }
        if let Some(f) = &self.filter_criteria {
            filter::check(f)?;
        }
        if self
            .destination
            .as_ref()
            .is_some_and(|d| d.on_failure.is_some() || d.on_success.is_some())
        {
            return Err(invalid(
                "Unsupported DestinationConfig parameter for given event source mapping type.",
            ));
        }
        match source {
            Source::Sqs { fifo, .. } => self.check_sqs(*fifo),
            Source::Mq { .. } => self.check_mq(),
        }
    }

    fn check_sqs(&self, fifo: bool) -> Result<(), LambdaError> {
        if self.queues.is_some() {
            return Err(invalid("Queues is not valid for SQS event sources."));
        }
        if self.source_access.is_some() {
            return Err(invalid(
                "SourceAccessConfigurations is not valid for SQS event sources.",
            ));
        }
        if fifo && self.batch_size > 10 {
            return Err(invalid(format!(
                "BatchSize for an SQS FIFO queue must be between 1 and 10 (got {}).",
                self.batch_size
            )));
        }
        if fifo && self.batching_window > 0 {
            return Err(invalid(
                "MaximumBatchingWindowInSeconds is not supported for SQS FIFO queues.",
            ));
        }
        if self.batch_size > 10 && self.batching_window == 0 {
            return Err(invalid(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
            ));
        }
        Ok(())
    }

    fn check_mq(&self) -> Result<(), LambdaError> {
        if self.scaling.is_some() {
            return Err(invalid(
                "ScalingConfig is not valid for Amazon MQ event sources.",
            ));
        }
        if self.report_batch_item_failures {
            return Err(invalid(
                "FunctionResponseTypes is not valid for Amazon MQ event sources.",
            ));
        }
        match self.queues.as_deref() {
            None | Some([]) => {
                return Err(invalid(
                    "Queues is required for Amazon MQ event sources.",
                ))
            }
            Some([q]) if !q.is_empty() && q.len() <= 1000 => {}
            Some([_]) => return Err(invalid("Queue name must be 1 to 1000 characters.")),
            Some(more) => {
                return Err(LambdaError::new(
                    ErrorKind::Validation,
                    format!("1 validation error detected: Value '{more:?}' at 'queues' failed to satisfy constraint: Member must have length less than or equal to 1"),
                ))
            }
        }
        let access = self.source_access.as_deref().unwrap_or_default();
        for a in access {
            match a.r#type.as_deref() {
                Some("BASIC_AUTH" | "VIRTUAL_HOST") => {}
                other => {
                    return Err(invalid(format!(
                    "SourceAccessConfiguration type {} is not valid for Amazon MQ event sources.",
                    other.unwrap_or("null")
                )))
                }
            }
            if a.uri.as_deref().is_none_or(str::is_empty) {
                return Err(invalid("SourceAccessConfiguration URI must not be empty."));
            }
        }
        if !access
            .iter()
            .any(|a| a.r#type.as_deref() == Some("BASIC_AUTH"))
        {
            return Err(invalid(
                "SourceAccessConfigurations must contain a BASIC_AUTH entry (the secret holding the broker's credentials) for Amazon MQ event sources.",
            ));
        }
        Ok(())
    }
}

/// An empty `FilterCriteria` (or one without filters) means none.
fn non_empty(f: Option<FilterCriteria>) -> Option<FilterCriteria> {
    f.filter(|c| c.filters.as_ref().is_some_and(|l| !l.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Filter;

    fn sqs(fifo: bool) -> Source {
        Source::Sqs {
            queue: "q".into(),
            fifo,
        }
    }

    fn create(json: &str) -> CreateRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn sqs_defaults_and_batching_rule() {
        let s = Settings::of_create(&create("{}"), &sqs(false)).unwrap();
        assert_eq!((s.batch_size, s.batching_window), (10, 0));
        let e = Settings::of_create(&create(r#"{"BatchSize":11}"#), &sqs(false)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
        assert!(e
            .message
            .starts_with("Maximum batch window in seconds must be greater than 0"));
        let ok = r#"{"BatchSize":10000,"MaximumBatchingWindowInSeconds":1}"#;
        assert_eq!(
            Settings::of_create(&create(ok), &sqs(false))
                .unwrap()
                .batch_size,
            10000
        );
        let e = Settings::of_create(&create(r#"{"BatchSize":10001}"#), &sqs(false)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation);
        assert!(e.message.contains("at 'batchSize'"), "{}", e.message);
        let e = Settings::of_create(
            &create(r#"{"MaximumBatchingWindowInSeconds":301}"#),
            &sqs(false),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation);
        let e = Settings::of_create(
            &create(r#"{"BatchSize":11,"MaximumBatchingWindowInSeconds":1}"#),
            &sqs(true),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
    }

    #[test]
    fn scaling_filters_destinations_and_response_types() {
        let e = Settings::of_create(
            &create(r#"{"ScalingConfig":{"MaximumConcurrency":1}}"#),
            &sqs(false),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation);
        let s = Settings::of_create(
            &create(r#"{"ScalingConfig":{"MaximumConcurrency":2},"FunctionResponseTypes":["ReportBatchItemFailures"]}"#),
            &sqs(false),
        )
        .unwrap();
        assert!(s.report_batch_item_failures);
        let e = Settings::of_create(
            &create(r#"{"FunctionResponseTypes":["Nope"]}"#),
            &sqs(false),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation);
        let e = Settings::of_create(
            &create(r#"{"FilterCriteria":{"Filters":[{"Pattern":"{not json"}]}}"#),
            &sqs(false),
        )
        .unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (
                ErrorKind::InvalidParameterValue,
                "Invalid filter pattern definition."
            )
        );
        let e = Settings::of_create(
            &create(r#"{"DestinationConfig":{"OnFailure":{"Destination":"arn:aws:sqs:us-east-1:000000000000:dlq"}}}"#),
            &sqs(false),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
        // An empty FilterCriteria is none.
        let s = Settings::of_create(&create(r#"{"FilterCriteria":{"Filters":[]}}"#), &sqs(false))
            .unwrap();
        assert_eq!(s.filter_criteria, None);
    }

    #[test]
    fn kms_keys_and_metrics_follow_the_model() {
        let key = "arn:aws:kms:us-east-1:000000000000:key/1234";
        assert!(stored_fields(Some(key), None).is_ok());
        assert!(stored_fields(Some(""), None).is_ok());
        let e = stored_fields(Some("not-an-arn"), None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation);
        let ok = MetricsConfig {
            metrics: Some(vec!["EventCount".into()]),
        };
        assert!(stored_fields(None, Some(&ok)).is_ok());
        let bad = MetricsConfig {
            metrics: Some(vec!["Everything".into()]),
        };
        assert_eq!(
            stored_fields(None, Some(&bad)).unwrap_err().kind,
            ErrorKind::Validation
        );
    }

    #[test]
    fn other_sources_fields_are_refused() {
        let req = create(r#"{"StartingPosition":"LATEST"}"#);
        let e = refuse_other_fields(&req.other, &sqs(false)).unwrap_err();
        assert_eq!(
            e.message,
            "StartingPosition is not valid for SQS event sources."
        );
        let req = create(r#"{"Bogus":1}"#);
        let e = refuse_other_fields(&req.other, &sqs(false)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequestContent);
        let e = Settings::of_create(&create(r#"{"Queues":["x"]}"#), &sqs(false)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
    }

    #[test]
    fn mq_needs_one_queue_and_basic_auth() {
        let mq = Source::Mq { broker: "b".into() };
        let e = Settings::of_create(&create("{}"), &mq).unwrap_err();
        assert!(e.message.contains("Queues is required"), "{}", e.message);
        let e = Settings::of_create(&create(r#"{"Queues":["q"]}"#), &mq).unwrap_err();
        assert!(e.message.contains("BASIC_AUTH"), "{}", e.message);
        let ok = create(
            r#"{"Queues":["q"],"SourceAccessConfigurations":[{"Type":"BASIC_AUTH","URI":"arn:aws:secretsmanager:us-east-1:000000000000:secret:rmq"},{"Type":"VIRTUAL_HOST","URI":"/"}]}"#,
        );
        let s = Settings::of_create(&ok, &mq).unwrap();
        assert_eq!(s.batch_size, 100);
        let e = Settings::of_create(&create(r#"{"Queues":["a","b"]}"#), &mq).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation);
    }

    #[test]
    fn updates_change_what_they_name_and_recheck() {
        let s = Settings::of_create(&create(r#"{"BatchSize":5}"#), &sqs(false)).unwrap();
        let up: UpdateRequest = serde_json::from_str(r#"{"BatchSize":50}"#).unwrap();
        assert!(s.updated(&up, &sqs(false)).is_err());
        let up: UpdateRequest = serde_json::from_str(
            r#"{"BatchSize":50,"MaximumBatchingWindowInSeconds":2,"FilterCriteria":{"Filters":[{"Pattern":"{\"body\":{\"a\":[1]}}"}]}}"#,
        )
        .unwrap();
        let t = s.updated(&up, &sqs(false)).unwrap();
        assert_eq!((t.batch_size, t.batching_window), (50, 2));
        assert_eq!(
            t.filter_criteria.unwrap().filters.unwrap(),
            vec![Filter {
                pattern: Some("{\"body\":{\"a\":[1]}}".into())
            }]
        );
        let clear: UpdateRequest = serde_json::from_str(r#"{"FilterCriteria":{}}"#).unwrap();
        let t = s.updated(&clear, &sqs(false)).unwrap();
        assert_eq!(t.filter_criteria, None);
    }
}
