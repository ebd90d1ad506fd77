//! Provisioned concurrency: Put/Get/Delete/ListProvisionedConcurrencyConfig(s)
//! on a published version or an alias (never `$LATEST`, as on Lambda),
//! stored as a `provisioned` setting of that qualifier and kept by the
//! router's provisioner (crates/ignis-router/src/provision.rs), which says
//! how many environments are ready.

use ignis_model::version::Qualifier;
use ignis_model::{ErrorKind, LambdaError, Version};
use serde::{Deserialize, Serialize};

use super::{now, Functions};
use crate::error::ApiError;

/// The settings kind of a qualifier's provisioned concurrency.
pub const PROVISIONED: &str = "provisioned";

/// PutProvisionedConcurrencyConfig's body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PutProvisionedRequest {
    /// Environments to keep initialized.
    pub provisioned_concurrent_executions: i64,
}

/// What is stored per qualifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    requested: u32,
    last_modified: String,
}

/// A provisioned concurrency configuration as the operations answer it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedConfig {
    /// The qualified ARN (ListProvisionedConcurrencyConfigs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_arn: Option<String>,
    /// Asked for.
    pub requested_provisioned_concurrent_executions: u32,
    /// Initialized.
    pub allocated_provisioned_concurrent_executions: u32,
    /// Initialized and free (allocated, as each takes invocations).
    pub available_provisioned_concurrent_executions: u32,
    /// `IN_PROGRESS`, `READY` or `FAILED`.
    pub status: &'static str,
    /// Why, when `FAILED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// When it was put.
    pub last_modified: String,
}

impl Functions {
    /// The version a provisioned-concurrency qualifier stands for.
    async fn provisioned_target(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(String, Version), ApiError> {
        let Some(q) = qualifier.filter(|q| !q.is_empty()) else {
            return Err(LambdaError::new(
                ErrorKind::Validation,
                "1 validation error detected: Value null at 'qualifier' failed to satisfy constraint: Member must not be null",
            )
            .into());
        };
        let (record, _) = self.resolve_version(name, Some(q)).await?;
        if record.version == Version::Latest {
            return Err(LambdaError::invalid(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
            )
            .into());
        }
        Ok((q.to_string(), record.version))
    }

    /// PutProvisionedConcurrencyConfig.
    pub async fn put_provisioned(
        &self,
        reference: &str,
        qualifier: Option<&str>,
        req: PutProvisionedRequest,
    ) -> Result<ProvisionedConfig, ApiError> {
        let (name, _) = self.qualified(reference, None)?;
        let (q, version) = self.provisioned_target(&name, qualifier).await?;
        let Ok(n @ 1..) = u32::try_from(req.provisioned_concurrent_executions) else {
            return Err(LambdaError::new(
                ErrorKind::Validation,
                format!(
                    "1 validation error detected: Value '{}' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1",
                    req.provisioned_concurrent_executions
                ),
            )
            .into());
        };
        if let Some(reserved) = self
            .reservation(&name)
            .await?
            .reserved_concurrent_executions
        {
            let others: u32 = self
                .provisioned_settings(&name)
                .await?
                .into_iter()
                .filter(|(other, _)| *other != q)
                .map(|(_, s)| s.requested)
                .sum();
            if i64::from(others + n) > reserved {
                return Err(LambdaError::invalid(
                    "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function",
                )
                .into());
            }
        }
        let stored = Stored {
            requested: n,
            last_modified: now(),
        };
        let document = serde_json::to_string(&stored)
            .map_err(|e| ApiError::internal("encode the configuration", &e))?;
        self.store
            .edit_setting(
                &name,
                &q,
                PROVISIONED,
                Box::new(move |_| Ok(Some(document))),
            )
            .await?;
        self.router.provision(&name, &q, version, n);
        tracing::info!(function = %name, qualifier = %q, %version, n, "provisioned concurrency set");
        Ok(self.provisioned_config(&name, &q, version, &stored, false))
    }

    /// GetProvisionedConcurrencyConfig.
    pub async fn get_provisioned(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<ProvisionedConfig, ApiError> {
        let (name, _) = self.qualified(reference, None)?;
        let (q, version) = self.provisioned_target(&name, qualifier).await?;
        let stored = self.stored_provisioned(&name, &q).await?.ok_or_else(|| {
            ApiError(LambdaError::new(
                ErrorKind::ProvisionedConcurrencyConfigNotFound,
                "No Provisioned Concurrency Config found for this function",
            ))
        })?;
        Ok(self.provisioned_config(&name, &q, version, &stored, false))
    }

    /// DeleteProvisionedConcurrencyConfig.
    pub async fn delete_provisioned(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<(), ApiError> {
        let (name, _) = self.qualified(reference, None)?;
        let (q, version) = self.provisioned_target(&name, qualifier).await?;
        if self.stored_provisioned(&name, &q).await?.is_none() {
            return Err(LambdaError::new(
                ErrorKind::ResourceNotFound,
                "No Provisioned Concurrency Config found for this function",
            )
            .into());
        }
        self.store
            .edit_setting(&name, &q, PROVISIONED, Box::new(|_| Ok(None)))
            .await?;
        self.router.provision(&name, &q, version, 0);
        tracing::info!(function = %name, qualifier = %q, "provisioned concurrency removed");
        Ok(())
    }

    /// ListProvisionedConcurrencyConfigs (by qualifier; the marker is the
    /// last qualifier listed).
    pub async fn list_provisioned(
        &self,
        reference: &str,
        marker: Option<&str>,
        max: usize,
    ) -> Result<(Vec<ProvisionedConfig>, Option<String>), ApiError> {
        let (name, _) = self.qualified(reference, None)?;
        if self.store.get_function(&name).await?.is_none() {
            return Err(ApiError(LambdaError::function_not_found(&self.arn(&name))));
        }
        let mut page = Vec::new();
        let mut next = None;
        for (q, stored) in self.provisioned_settings(&name).await? {
            if marker.is_some_and(|m| q.as_str() <= m) {
                continue;
            }
            if page.len() == max {
                next = page
                    .last()
                    .map(|(q, _): &(String, ProvisionedConfig)| q.clone());
                break;
            }
            let Ok((record, _)) = self.resolve_version(&name, Some(&q)).await else {
                continue;
            };
            let config = self.provisioned_config(&name, &q, record.version, &stored, true);
            page.push((q, config));
        }
        Ok((page.into_iter().map(|(_, c)| c).collect(), next))
    }

    /// Hands every stored configuration to the router (start-up, after
    /// the versions and aliases are loaded).
    pub(super) async fn load_provisioned(&self) -> Result<(), ApiError> {
        for s in self.store.list_settings(PROVISIONED).await? {
            let Ok(stored) = serde_json::from_str::<Stored>(&s.document) else {
                continue;
            };
            match self.resolve_version(&s.function, Some(&s.qualifier)).await {
                Ok((record, _)) => self.router.provision(
                    &s.function,
                    &s.qualifier,
                    record.version,
                    stored.requested,
                ),
                Err(e) => {
                    tracing::warn!(function = %s.function, qualifier = %s.qualifier, error = ?e.0, "provisioned concurrency of a missing qualifier")
                }
            }
        }
        Ok(())
    }

    /// An alias moved to `version`: its provisioned environments follow.
    pub(super) async fn reprovision_alias(
        &self,
        name: &str,
        alias: &str,
        version: Version,
    ) -> Result<(), ApiError> {
        if let Some(stored) = self.stored_provisioned(name, alias).await? {
            let n = if version == Version::Latest {
                0
            } else {
                stored.requested
            };
            self.router.provision(name, alias, version, n);
        }
        Ok(())
    }

    /// A qualifier went away: its provisioned environments go too.
    pub(super) fn unprovision(&self, name: &str, qualifier: &Qualifier) {
        if let Qualifier::Version(version) = qualifier {
            self.router
                .provision(name, &qualifier.as_string(), *version, 0);
        } else {
            self.router
                .provision(name, &qualifier.as_string(), Version::Latest, 0);
        }
    }

    async fn stored_provisioned(&self, name: &str, q: &str) -> Result<Option<Stored>, ApiError> {
        let document = self.store.get_setting(name, q, PROVISIONED).await?;
        Ok(document.and_then(|d| serde_json::from_str(&d).ok()))
    }

    async fn provisioned_settings(&self, name: &str) -> Result<Vec<(String, Stored)>, ApiError> {
        Ok(self
            .store
            .list_settings(PROVISIONED)
            .await?
            .into_iter()
            .filter(|s| s.function == name)
            .filter_map(|s| Some((s.qualifier, serde_json::from_str(&s.document).ok()?)))
            .collect())
    }

    fn provisioned_config(
        &self,
        name: &str,
        q: &str,
        version: Version,
        stored: &Stored,
        with_arn: bool,
    ) -> ProvisionedConfig {
        let status = self.router.provisioned(name, q, version);
        let (state, reason) = match (status.allocated >= stored.requested, status.failure) {
            (true, _) => ("READY", None),
            (false, Some(reason)) => ("FAILED", Some(reason)),
            (false, None) => ("IN_PROGRESS", None),
        };
        ProvisionedConfig {
            function_arn: with_arn.then(|| format!("{}:{q}", self.arn(name))),
            requested_provisioned_concurrent_executions: stored.requested,
            allocated_provisioned_concurrent_executions: status.allocated,
            available_provisioned_concurrent_executions: status.allocated,
            status: state,
            status_reason: reason,
            last_modified: stored.last_modified.clone(),
        }
    }
}
