//! Asynchronous invocation configuration: Put/Get/Update/Delete/
//! ListFunctionEventInvokeConfig(s) on a function (`$LATEST`), a published
//! version or an alias, stored as the qualifier's `event-invoke` setting
//! (`ignis_events::config`), which the dispatcher reads for every event.

use ignis_events::config::{
    Destination, DestinationConfig, EventInvokeConfig, EVENT_INVOKE_CONFIG, MAX_EVENT_AGE_S,
    MAX_RETRY_ATTEMPTS, MIN_EVENT_AGE_S,
};
use ignis_model::version::LATEST;
use ignis_model::{ErrorKind, LambdaError};
use serde::{Deserialize, Serialize};

use super::Functions;
use crate::error::ApiError;

/// The body of PutFunctionEventInvokeConfig and
/// UpdateFunctionEventInvokeConfig.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EventInvokeConfigRequest {
    /// 0–2.
    pub maximum_retry_attempts: Option<i64>,
    /// 60–21,600.
    pub maximum_event_age_in_seconds: Option<i64>,
    /// OnSuccess / OnFailure.
    pub destination_config: Option<DestinationConfig>,
}

/// A configuration as the operations answer it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionEventInvokeConfig {
    /// The qualified ARN (`…:$LATEST` for the function itself).
    pub function_arn: String,
    /// The stored configuration.
    #[serde(flatten)]
    pub config: EventInvokeConfig,
}

/// Where a configuration belongs.
struct Target {
    name: String,
    /// The setting's qualifier: `""` for `$LATEST`.
    key: String,
    arn: String,
}

fn validation(field: &str, value: i64, constraint: &str) -> ApiError {
    LambdaError::new(
        ErrorKind::Validation,
        format!("1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must have value {constraint}"),
    )
    .into()
}

fn not_configured(arn: &str) -> ApiError {
    LambdaError::new(
        ErrorKind::ResourceNotFound,
        format!("The function {arn} doesn't have an EventInvokeConfig"),
    )
    .into()
}

impl Functions {
    /// The function, version or alias a configuration is for (it must
    /// exist).
    async fn event_invoke_target(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<Target, ApiError> {
        let (name, q) = self.qualified(reference, qualifier)?;
        self.resolve_version(reference, qualifier).await?;
        let shown = q
            .map(|q| q.as_string())
            .unwrap_or_else(|| LATEST.to_owned());
        let key = if shown == LATEST {
            String::new()
        } else {
            shown.clone()
        };
        Ok(Target {
            arn: format!("{}:{shown}", self.arn(&name)),
            name,
            key,
        })
    }

    /// Checks a request's values and destinations (a function is not its
    /// own destination).
    async fn check_event_invoke(
        &self,
        req: &EventInvokeConfigRequest,
        own_name: &str,
    ) -> Result<(), ApiError> {
        if let Some(n) = req.maximum_retry_attempts {
            if n < 0 {
                return Err(validation(
                    "maximumRetryAttempts",
                    n,
                    "greater than or equal to 0",
                ));
            }
            if n > i64::from(MAX_RETRY_ATTEMPTS) {
                return Err(validation(
                    "maximumRetryAttempts",
                    n,
                    &format!("less than or equal to {MAX_RETRY_ATTEMPTS}"),
                ));
            }
        }
        if let Some(n) = req.maximum_event_age_in_seconds {
            if n < i64::from(MIN_EVENT_AGE_S) {
                return Err(validation(
                    "maximumEventAgeInSeconds",
                    n,
                    &format!("greater than or equal to {MIN_EVENT_AGE_S}"),
                ));
            }
            if n > i64::from(MAX_EVENT_AGE_S) {
                return Err(validation(
                    "maximumEventAgeInSeconds",
                    n,
                    &format!("less than or equal to {MAX_EVENT_AGE_S}"),
                ));
            }
        }
        let Some(d) = &req.destination_config else {
            return Ok(());
        };
        for arn in [d.on_success.arn(), d.on_failure.arn()]
            .into_iter()
            .flatten()
        {
            self.check_destination(arn, own_name).await?;
        }
        Ok(())
    }

    async fn check_destination(&self, arn: &str, own_name: &str) -> Result<(), ApiError> {
        let invalid = || -> ApiError {
            LambdaError::invalid(format!("The destination ARN {arn} is invalid.")).into()
        };
        match Destination::parse(arn) {
            Some(Destination::Function { name, qualifier }) => {
                if name == own_name {
                    return Err(LambdaError::invalid(
                        "You can't specify the function as a destination for itself.",
                    )
                    .into());
                }
                match self.resolve_version(&name, qualifier.as_deref()).await {
                    Ok(_) => Ok(()),
                    Err(ApiError(e)) if e.kind == ErrorKind::ResourceNotFound => Err(invalid()),
                    Err(e) => Err(e),
                }
            }
            Some(Destination::Service(service))
                if matches!(service.as_str(), "sqs" | "sns" | "events" | "s3") =>
            {
                Ok(())
            }
            _ => Err(invalid()),
        }
    }

    /// PutFunctionEventInvokeConfig: replaces the whole configuration.
    pub async fn put_event_invoke_config(
        &self,
        reference: &str,
        qualifier: Option<&str>,
        req: EventInvokeConfigRequest,
    ) -> Result<FunctionEventInvokeConfig, ApiError> {
        let target = self.event_invoke_target(reference, qualifier).await?;
        self.check_event_invoke(&req, &target.name).await?;
        let config = EventInvokeConfig {
            maximum_retry_attempts: req.maximum_retry_attempts.map(|n| n as u32),
            maximum_event_age_in_seconds: req.maximum_event_age_in_seconds.map(|n| n as u32),
            destination_config: req.destination_config.unwrap_or_default(),
            last_modified: now_seconds(),
        };
        self.store_event_invoke(&target, config, false).await
    }

    /// UpdateFunctionEventInvokeConfig: changes the fields given.
    pub async fn update_event_invoke_config(
        &self,
        reference: &str,
        qualifier: Option<&str>,
        req: EventInvokeConfigRequest,
    ) -> Result<FunctionEventInvokeConfig, ApiError> {
        let target = self.event_invoke_target(reference, qualifier).await?;
        self.check_event_invoke(&req, &target.name).await?;
        let mut config = self.stored_event_invoke(&target).await?;
        if let Some(n) = req.maximum_retry_attempts {
            config.maximum_retry_attempts = Some(n as u32);
        }
        if let Some(n) = req.maximum_event_age_in_seconds {
            config.maximum_event_age_in_seconds = Some(n as u32);
        }
        if let Some(d) = req.destination_config {
            config.destination_config = d;
        }
        config.last_modified = now_seconds();
        self.store_event_invoke(&target, config, true).await
    }

    async fn store_event_invoke(
        &self,
        target: &Target,
        config: EventInvokeConfig,
        must_exist: bool,
    ) -> Result<FunctionEventInvokeConfig, ApiError> {
        let document = serde_json::to_string(&config)
            .map_err(|e| ApiError::internal("encode the configuration", &e))?;
        let arn = target.arn.clone();
        self.store
            .edit_setting(
                &target.name,
                &target.key,
                EVENT_INVOKE_CONFIG,
                Box::new(move |current| {
                    if must_exist && current.is_none() {
                        return Err(LambdaError::new(
                            ErrorKind::ResourceNotFound,
                            format!("The function {arn} doesn't have an EventInvokeConfig"),
                        ));
                    }
                    Ok(Some(document))
                }),
            )
            .await
            .map_err(|e| self.event_invoke_error(&target.name, e))?;
        tracing::info!(function = %target.name, qualifier = %target.key, "event invoke configuration set");
        Ok(FunctionEventInvokeConfig {
            function_arn: target.arn.clone(),
            config,
        })
    }

    async fn stored_event_invoke(&self, target: &Target) -> Result<EventInvokeConfig, ApiError> {
        let doc = self
            .store
            .get_setting(&target.name, &target.key, EVENT_INVOKE_CONFIG)
            .await?
            .ok_or_else(|| not_configured(&target.arn))?;
        serde_json::from_str(&doc)
            .map_err(|e| ApiError::internal("read an event invoke configuration", &e))
    }

    /// GetFunctionEventInvokeConfig.
    pub async fn get_event_invoke_config(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionEventInvokeConfig, ApiError> {
        let target = self.event_invoke_target(reference, qualifier).await?;
        let config = self.stored_event_invoke(&target).await?;
        Ok(FunctionEventInvokeConfig {
            function_arn: target.arn,
            config,
        })
    }

    /// DeleteFunctionEventInvokeConfig.
    pub async fn delete_event_invoke_config(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<(), ApiError> {
        let target = self.event_invoke_target(reference, qualifier).await?;
        let arn = target.arn.clone();
        self.store
            .edit_setting(
                &target.name,
                &target.key,
                EVENT_INVOKE_CONFIG,
                Box::new(move |current| match current {
                    Some(_) => Ok(None),
                    None => Err(LambdaError::new(
                        ErrorKind::ResourceNotFound,
                        format!("The function {arn} doesn't have an EventInvokeConfig"),
                    )),
                }),
            )
            .await
            .map_err(|e| self.event_invoke_error(&target.name, e))?;
        tracing::info!(function = %target.name, qualifier = %target.key, "event invoke configuration removed");
        Ok(())
    }

    /// ListFunctionEventInvokeConfigs (by qualifier, `$LATEST` first; the
    /// marker is the last qualifier listed).
    pub async fn list_event_invoke_configs(
        &self,
        reference: &str,
        marker: Option<&str>,
        max: usize,
    ) -> Result<(Vec<FunctionEventInvokeConfig>, Option<String>), ApiError> {
        let name = self.existing_function(reference).await?;
        let mut all: Vec<(String, EventInvokeConfig)> = self
            .store
            .list_settings(EVENT_INVOKE_CONFIG)
            .await?
            .into_iter()
            .filter(|s| s.function == name)
            .filter_map(|s| Some((s.qualifier, serde_json::from_str(&s.document).ok()?)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let start = marker.map_or(0, |m| {
            all.iter()
                .position(|(q, _)| q.as_str() > m)
                .unwrap_or(all.len())
        });
        let page: Vec<_> = all.iter().skip(start).take(max).cloned().collect();
        let next = (start + page.len() < all.len())
            .then(|| {
                page.last().map(|(q, _)| {
                    if q.is_empty() {
                        LATEST.to_owned()
                    } else {
                        q.clone()
                    }
                })
            })
            .flatten();
        let configs = page
            .into_iter()
            .map(|(q, config)| FunctionEventInvokeConfig {
                function_arn: format!(
                    "{}:{}",
                    self.arn(&name),
                    if q.is_empty() { LATEST } else { q.as_str() }
                ),
                config,
            })
            .collect();
        Ok((configs, next))
    }

    /// The name of an existing function (a name or unqualified ARN).
    pub async fn existing_function(&self, reference: &str) -> Result<String, ApiError> {
        let (name, _) = self.qualified(reference, None)?;
        if self.store.get_function(&name).await?.is_none() {
            return Err(ApiError(LambdaError::function_not_found(&self.arn(&name))));
        }
        Ok(name)
    }

    fn event_invoke_error(&self, name: &str, e: ignis_store::StoreError) -> ApiError {
        match e {
            ignis_store::StoreError::NotFound(_) => {
                ApiError(LambdaError::function_not_found(&self.arn(name)))
            }
            ignis_store::StoreError::Refused(e) => ApiError(e),
            e => e.into(),
        }
    }
}

fn now_seconds() -> f64 {
    let ms = chrono::Utc::now().timestamp_millis();
    ms as f64 / 1000.0
}
