//! Mappings on RabbitMQ brokers (`EventSourceArn` an Amazon MQ broker
//! ARN): each runs one `ignis_rmq` consumer — Lambda runs one at a time
//! per Amazon MQ mapping — on `Queues[0]` in the `VIRTUAL_HOST` (else
//! `/`), logged in with the `BASIC_AUTH` secret. Batches are invoked
//! through the router; the mapping's `FilterCriteria` (on `data`) drops
//! records before the invocation; each change of the consumer's condition
//! becomes the mapping's `LastProcessingResult`. Where brokers and secrets
//! live: `docs/event-sources.md`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ignis_rmq::{
    Backoff, BatchHandler, BatchLimits, Locator, MappingSpec, Outcome, Status, MAX_EVENT_BYTES,
};
use ignis_router::{InvokeError, InvokeInput};
use tokio_util::sync::CancellationToken;

use crate::mapping::Mapping;
use crate::source::Source;
use crate::sqs::{BoxFuture, Invoker};
use crate::wire::FilterCriteria;

/// The MQ key Lambda's filters match message data under.
const DATA_FIELD: &str = "data";

/// Records a mapping's `LastProcessingResult`.
pub type Report = Arc<dyn Fn(&Mapping, &str) + Send + Sync>;

/// What the consumers share.
pub struct Context {
    /// The router.
    pub invoker: Arc<dyn Invoker>,
    /// The node's data directory (its brokers registry and secrets).
    pub data_dir: PathBuf,
    /// Delays between connection attempts and after a failed batch.
    pub backoff: Backoff,
    /// Called with each change of `LastProcessingResult`.
    pub report: Report,
}

/// The [`crate::Runner`] of mappings on RabbitMQ brokers.
pub struct RmqRunner(pub Arc<Context>);

impl crate::Runner for RmqRunner {
    fn serves(&self, mapping: &Mapping) -> bool {
        matches!(mapping.source, Source::Mq { .. })
    }

    fn run(&self, mapping: Mapping, token: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(run(self.0.clone(), mapping, token))
    }
}

/// The consumer's settings from the mapping's.
pub fn spec(mapping: &Mapping) -> Option<MappingSpec> {
    let queue = mapping.queues.as_ref()?.first()?.clone();
    let access = mapping.source_access.as_deref().unwrap_or_default();
    let uri_of = |kind: &str| {
        access
            .iter()
            .find(|a| a.r#type.as_deref() == Some(kind))
            .and_then(|a| a.uri.clone())
    };
    Some(MappingSpec {
        event_source_arn: mapping.event_source_arn.clone(),
        queue,
        virtual_host: uri_of("VIRTUAL_HOST").unwrap_or_else(|| "/".to_owned()),
        secret_arn: uri_of("BASIC_AUTH"),
        limits: BatchLimits {
            max_records: mapping.batch_size.max(1) as usize,
            max_bytes: MAX_EVENT_BYTES,
            window: Duration::from_secs(mapping.batching_window.into()),
        },
    })
}

fn filters(criteria: &FilterCriteria) -> Option<ignis_patterns::lambda::Filters> {
    let patterns: Vec<String> = criteria
        .filters
        .iter()
        .flatten()
        .map(|f| f.pattern.clone().unwrap_or_default())
        .collect();
    ignis_patterns::lambda::Filters::parse(&patterns).ok()
}

async fn run(ctx: Arc<Context>, mapping: Mapping, token: CancellationToken) {
    let Some(spec) = spec(&mapping) else {
        tracing::error!(uuid = %mapping.uuid, "a stored Amazon MQ mapping has no queue");
        return;
    };
    let handler = Arc::new(Handler {
        filters: mapping.filter_criteria.as_ref().and_then(filters),
        ctx: ctx.clone(),
        mapping,
    });
    ignis_rmq::run(
        spec,
        Locator::new(&ctx.data_dir),
        handler,
        ctx.backoff,
        token,
    )
    .await;
}

struct Handler {
    ctx: Arc<Context>,
    mapping: Mapping,
    filters: Option<ignis_patterns::lambda::Filters>,
}

#[async_trait::async_trait]
impl BatchHandler for Handler {
    async fn invoke(&self, event: Vec<u8>) -> Outcome {
        let input = InvokeInput {
            function: self.mapping.function.name.clone(),
            qualifier: self.mapping.function.qualifier.clone(),
            payload: Bytes::from(event),
            client_context: None,
            invoked_arn: self.mapping.function.arn.clone(),
            request_id: None,
            tail: false,
            trace_id: None,
        };
        match self.ctx.invoker.invoke(input).await {
            Ok(done) if done.function_error => {
                Outcome::Failed("The function returned an error.".into())
            }
            Ok(_) => Outcome::Succeeded,
            Err(InvokeError::Throttled(_) | InvokeError::NoCapacity) => {
                Outcome::Failed("The function was throttled.".into())
            }
            Err(e) => Outcome::Failed(format!("The function could not run: {e}")),
        }
    }

    fn report(&self, status: Status) {
        (self.ctx.report)(&self.mapping, &status.last_processing_result());
    }

    fn keep(&self, record: &[u8]) -> bool {
        let Some(filters) = &self.filters else {
            return true;
        };
        serde_json::from_slice(record).is_ok_and(|r| filters.matches_record(&r, DATA_FIELD))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(extra: serde_json::Value) -> Mapping {
        let mut m = serde_json::json!({
            "uuid": "u", "function": {"name": "f", "qualifier": null, "arn": "arn:aws:lambda:us-east-1:000000000000:function:f"},
            "event_source_arn": "arn:aws:mq:us-east-1:000000000000:broker:main:b-1",
            "source": {"Mq": {"broker": "main"}}, "batch_size": 7, "batching_window": 2,
            "filter_criteria": null, "report_batch_item_failures": false, "scaling": null,
            "destination": null, "queues": ["orders"], "source_access": null, "kms_key_arn": null,
            "metrics": null, "tags": {}, "enabled": true, "state": "Enabled", "state_reason": "",
            "last_processing_result": "", "last_modified_ms": 0
        });
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        serde_json::from_value(m).unwrap()
    }

    #[test]
    fn the_consumer_gets_the_mappings_queue_vhost_secret_and_batching() {
        let m = mapping(serde_json::json!({"source_access": [
            {"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:000000000000:secret:rabbit"},
            {"Type": "VIRTUAL_HOST", "URI": "orders-vh"}
        ]}));
        let s = spec(&m).unwrap();
        assert_eq!(s.queue, "orders");
        assert_eq!(s.virtual_host, "orders-vh");
        assert_eq!(
            s.secret_arn.as_deref(),
            Some("arn:aws:secretsmanager:us-east-1:000000000000:secret:rabbit")
        );
        assert_eq!(s.limits.max_records, 7);
        assert_eq!(s.limits.window, Duration::from_secs(2));
        let plain = spec(&mapping(serde_json::json!({}))).unwrap();
        assert_eq!(plain.virtual_host, "/");
        assert_eq!(plain.secret_arn, None);
        assert!(spec(&mapping(serde_json::json!({"queues": null}))).is_none());
    }

    #[test]
    fn filters_match_the_records_decoded_data() {
        let criteria: FilterCriteria = serde_json::from_value(serde_json::json!({
            "Filters": [{"Pattern": "{\"data\":{\"kind\":[\"keep\"]}}"}]
        }))
        .unwrap();
        let f = filters(&criteria).unwrap();
        let record =
            |body: &[u8]| ignis_rmq::event::encode_record(&Default::default(), false, body);
        let keep = serde_json::from_slice(&record(br#"{"kind":"keep"}"#)).unwrap();
        let drop = serde_json::from_slice(&record(br#"{"kind":"drop"}"#)).unwrap();
        assert!(f.matches_record(&keep, DATA_FIELD));
        assert!(!f.matches_record(&drop, DATA_FIELD));
    }
}
