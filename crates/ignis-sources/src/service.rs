//! [`Mappings`]: the five operations over the store, each moving the state
//! machine of [`crate::state`] and waking the supervisor, which starts or
//! stops the pollers and settles the state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ignis_model::LambdaError;
use ignis_store::{Inserted, MappingStore, StoreError};
use tokio::sync::Notify;

use crate::errors::{changed_meanwhile, duplicate, in_use, internal, store_err, WRITE_ATTEMPTS};
pub use crate::errors::{mapping_uuid, not_found};
use crate::mapping::{FunctionTarget, Mapping, NO_RECORDS, USER_INITIATED};
use crate::source::{Catalog, Source, SourceArn};
use crate::state::State;
use crate::validate::{refuse_other_fields, stored_fields, Settings};
use crate::wire::{CreateRequest, ListResponse, MappingConfiguration, UpdateRequest};

/// The event source mapping operations.
#[derive(Clone)]
pub struct Mappings {
    store: Arc<dyn MappingStore>,
    catalog: Arc<dyn Catalog>,
    region: Arc<str>,
    changed: Arc<Notify>,
    /// The `LastProcessingResult` last recorded, by mapping.
    pub(crate) results: Arc<Mutex<HashMap<String, String>>>,
}

/// A ListEventSourceMappings filter on the function.
#[derive(Debug, Clone, Default)]
pub struct FunctionFilter {
    /// The function's name.
    pub name: String,
    /// Only mappings naming this qualifier (when the filter named one).
    pub arn: Option<String>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Mappings {
    /// The operations over `store`, looking sources up in `catalog`.
    pub fn new(
        store: Arc<dyn MappingStore>,
        catalog: Arc<dyn Catalog>,
        region: impl Into<Arc<str>>,
    ) -> Self {
        Self {
            store,
            catalog,
            region: region.into(),
            changed: Arc::new(Notify::new()),
            results: Arc::default(),
        }
    }

    /// The region in ARNs.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn MappingStore> {
        &self.store
    }

    /// Notified after every change (the supervisor waits on it).
    pub fn changed(&self) -> &Arc<Notify> {
        &self.changed
    }

    /// The source `arn` names, checked against the function's timeout
    /// (an SQS queue's visibility timeout must cover it, as Lambda checks).
    async fn source(&self, arn: &str, function_timeout: u32) -> Result<Source, LambdaError> {
        match SourceArn::parse(arn) {
            SourceArn::Sqs => match self.catalog.queue(arn).await {
                Ok(Some(q)) if q.visibility_timeout < function_timeout => {
                    Err(LambdaError::invalid(format!(
                        "Queue visibility timeout: {} seconds is less than Function timeout: {function_timeout} seconds",
                        q.visibility_timeout
                    )))
                }
                Ok(Some(q)) => Ok(Source::Sqs {
                    queue: q.name,
                    fifo: q.fifo,
                }),
                Ok(None) => Err(LambdaError::invalid(format!(
                    "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist. ({arn})"
                ))),
                Err(e) => Err(internal("look the queue up", &e)),
            },
            SourceArn::Mq(broker) => Ok(Source::Mq {
                broker: broker.to_owned(),
            }),
            SourceArn::Unserved(service) => Err(LambdaError::invalid(format!(
                "Ignis serves event source mappings for SQS queues and Amazon MQ (RabbitMQ) brokers, not {service} ({arn})."
            ))),
            SourceArn::Unknown => Err(LambdaError::invalid(
                "Unrecognized event source, must be kinesis, dynamodb stream, sqs, mq or kafka.",
            )),
        }
    }

    /// CreateEventSourceMapping, for a function the caller resolved (and
    /// its timeout, seconds).
    pub async fn create(
        &self,
        function: FunctionTarget,
        function_timeout: u32,
        req: CreateRequest,
    ) -> Result<MappingConfiguration, LambdaError> {
        let arn = req.event_source_arn.clone().unwrap_or_default();
        if arn.is_empty() {
            return Err(LambdaError::invalid(
                "Unrecognized event source, must be kinesis, dynamodb stream, sqs, mq or kafka.",
            ));
        }
        let source = self.source(&arn, function_timeout).await?;
        refuse_other_fields(&req.other, &source)?;
        let settings = Settings::of_create(&req, &source)?;
        stored_fields(req.kms_key_arn.as_deref(), req.metrics_config.as_ref())?;
        let enabled = req.enabled.unwrap_or(true);
        let mapping = Mapping {
            uuid: uuid::Uuid::new_v4().to_string(),
            function,
            event_source_arn: arn,
            source,
            batch_size: settings.batch_size,
            batching_window: settings.batching_window,
            filter_criteria: settings.filter_criteria,
            report_batch_item_failures: settings.report_batch_item_failures,
            scaling: settings.scaling,
            destination: settings.destination,
            queues: settings.queues,
            source_access: settings.source_access,
            kms_key_arn: req.kms_key_arn,
            metrics: req.metrics_config,
            tags: req.tags.unwrap_or_default(),
            enabled,
            state: State::Creating,
            state_reason: USER_INITIATED.to_owned(),
            last_processing_result: NO_RECORDS.to_owned(),
            last_modified_ms: now_ms(),
            revision: 1,
        };
        match self
            .store
            .insert_mapping(&mapping.to_row())
            .await
            .map_err(store_err)?
        {
            Inserted::Stored => {}
            Inserted::Duplicate(uuid) => return Err(duplicate(&mapping, Some(&uuid))),
        }
        tracing::info!(uuid = %mapping.uuid, function = %mapping.function.arn, source = %mapping.event_source_arn, "event source mapping created");
        self.changed.notify_one();
        Ok(mapping.configuration(&self.region))
    }

    /// The stored mapping `uuid`.
    pub async fn load(&self, uuid: &str) -> Result<Mapping, LambdaError> {
        let row = self
            .store
            .get_mapping(uuid)
            .await
            .map_err(store_err)?
            .ok_or_else(not_found)?;
        Mapping::from_row(&row).map_err(|e| internal("read the event source mapping", &e))
    }

    /// Every stored mapping (unreadable ones are logged and skipped).
    pub async fn load_all(&self) -> Result<Vec<Mapping>, LambdaError> {
        let rows = self.store.list_mappings().await.map_err(store_err)?;
        Ok(rows
            .iter()
            .filter_map(|r| match Mapping::from_row(r) {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::error!(error = %e, "skipping an unreadable event source mapping");
                    None
                }
            })
            .collect())
    }

    /// GetEventSourceMapping.
    pub async fn get(&self, uuid: &str) -> Result<MappingConfiguration, LambdaError> {
        Ok(self.load(uuid).await?.configuration(&self.region))
    }

    /// UpdateEventSourceMapping; `function` is the new function and its
    /// timeout, resolved by the caller, if the request names one.
    pub async fn update(
        &self,
        uuid: &str,
        function: Option<(FunctionTarget, u32)>,
        req: UpdateRequest,
    ) -> Result<MappingConfiguration, LambdaError> {
        if let Some((_, timeout)) = &function {
            let current = self.load(uuid).await?;
            if matches!(current.source, Source::Sqs { .. }) {
                self.source(&current.event_source_arn, *timeout).await?;
            }
        }
        let function = function.map(|(f, _)| f);
        for _ in 0..WRITE_ATTEMPTS {
            let current = self.load(uuid).await?;
            refuse_other_fields(&req.other, &current.source)?;
            stored_fields(req.kms_key_arn.as_deref(), req.metrics_config.as_ref())?;
            let enabled = req.enabled.unwrap_or(current.enabled);
            let state = current.state.update(enabled).map_err(|e| in_use(uuid, e))?;
            let settings = settings_of(&current).updated(&req, &current.source)?;
            let mut next = current.clone();
            next.apply(settings);
            if let Some(f) = &function {
                next.function = f.clone();
            }
            if let Some(k) = &req.kms_key_arn {
                next.kms_key_arn = Some(k.clone()).filter(|k| !k.is_empty());
            }
            if let Some(m) = &req.metrics_config {
                next.metrics = Some(m.clone());
            }
            next.enabled = enabled;
            next.state = state;
            next.state_reason = USER_INITIATED.to_owned();
            next.last_modified_ms = now_ms();
            if let Some(revision) = self.write(&next).await? {
                next.revision = revision;
                tracing::info!(%uuid, state = state.as_str(), "event source mapping updated");
                self.changed.notify_one();
                return Ok(next.configuration(&self.region));
            }
        }
        Err(changed_meanwhile())
    }

    async fn write(&self, m: &Mapping) -> Result<Option<i64>, LambdaError> {
        match self.store.update_mapping(&m.to_row()).await {
            Ok(r) => Ok(r),
            // The mapping's pair is taken by another mapping (a new function).
            Err(StoreError::Query { .. }) if self.pair_taken(m).await => Err(duplicate(m, None)),
            Err(e) => Err(store_err(e)),
        }
    }

    async fn pair_taken(&self, m: &Mapping) -> bool {
        self.store.list_mappings().await.is_ok_and(|rows| {
            rows.iter().any(|r| {
                r.uuid != m.uuid
                    && r.event_source_arn == m.event_source_arn
                    && r.function_arn == m.function.arn
            })
        })
    }

    /// DeleteEventSourceMapping: the mapping as it is now, `Deleting`; the
    /// supervisor stops its pollers and removes it.
    pub async fn delete(&self, uuid: &str) -> Result<MappingConfiguration, LambdaError> {
        for _ in 0..WRITE_ATTEMPTS {
            let mut m = self.load(uuid).await?;
            m.state = m.state.delete().map_err(|e| in_use(uuid, e))?;
            m.state_reason = USER_INITIATED.to_owned();
            m.last_modified_ms = now_ms();
            if let Some(revision) = self.write(&m).await? {
                m.revision = revision;
                tracing::info!(%uuid, "event source mapping deleting");
                self.changed.notify_one();
                return Ok(m.configuration(&self.region));
            }
        }
        Err(changed_meanwhile())
    }

    /// ListEventSourceMappings: a page of at most `max` after `marker`.
    pub async fn list(
        &self,
        source_arn: Option<&str>,
        function: Option<&FunctionFilter>,
        marker: Option<&str>,
        max: usize,
    ) -> Result<ListResponse, LambdaError> {
        let all = self.load_all().await?;
        let mut selected = all.into_iter().filter(|m| {
            source_arn.is_none_or(|a| m.event_source_arn == a)
                && function.is_none_or(|f| {
                    m.function.name == f.name && f.arn.as_ref().is_none_or(|a| &m.function.arn == a)
                })
                && marker.is_none_or(|after| m.uuid.as_str() > after)
        });
        let page: Vec<Mapping> = selected.by_ref().take(max).collect();
        let next_marker = match (selected.next(), page.last()) {
            (Some(_), Some(last)) => Some(last.uuid.clone()),
            _ => None,
        };
        Ok(ListResponse {
            event_source_mappings: page.iter().map(|m| m.configuration(&self.region)).collect(),
            next_marker,
        })
    }
}

fn settings_of(m: &Mapping) -> Settings {
    Settings {
        batch_size: m.batch_size,
        batching_window: m.batching_window,
        filter_criteria: m.filter_criteria.clone(),
        report_batch_item_failures: m.report_batch_item_failures,
        scaling: m.scaling.clone(),
        destination: m.destination.clone(),
        queues: m.queues.clone(),
        source_access: m.source_access.clone(),
    }
}

impl Mapping {
    fn apply(&mut self, s: Settings) {
        self.batch_size = s.batch_size;
        self.batching_window = s.batching_window;
        self.filter_criteria = s.filter_criteria;
        self.report_batch_item_failures = s.report_batch_item_failures;
        self.scaling = s.scaling;
        self.destination = s.destination;
        self.queues = s.queues;
        self.source_access = s.source_access;
    }
}
